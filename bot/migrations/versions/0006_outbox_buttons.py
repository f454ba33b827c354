"""outbox buttons: a notification may carry buttons (the 1–5 rating under an answer)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # [[label, payload], …] or NULL: the messages written before carry none.
    op.add_column("feedback_outbox", sa.Column("buttons", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback_outbox") as batch:
        batch.drop_column("buttons")
