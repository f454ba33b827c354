"""durable inbox and reply outbox: every incoming update is stored before it is acknowledged; every reply goes
through the outbox, part by part; leases shared by all processes (who polls Telegram)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.UniqueConstraint("channel", "update_id", name="uq_inbox_update"),
    )
    op.create_index("ix_inbox_status", "inbox", ["status", "id"])
    op.create_index("ix_inbox_user", "inbox", ["channel", "user_id", "id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("feedback_outbox") as batch:
        # A reply's buttons with their links and rows, and the message a button press edits.
        batch.add_column(sa.Column("reply", sa.JSON, nullable=True))
        # How many parts of a long text the channel has accepted, and the ids it gave them.
        batch.add_column(sa.Column("parts_sent", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("remote_ids", sa.JSON, nullable=True))
    op.create_index("ix_feedback_outbox_chat", "feedback_outbox", ["channel", "chat_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_outbox_chat", "feedback_outbox")
    with op.batch_alter_table("feedback_outbox") as batch:
        batch.drop_column("remote_ids")
        batch.drop_column("parts_sent")
        batch.drop_column("reply")
    op.drop_table("leases")
    op.drop_index("ix_inbox_user", "inbox")
    op.drop_index("ix_inbox_status", "inbox")
    op.drop_table("inbox")
