"""Web chat log: an index on the message time, which the app's upkeep deletes by; on SQLite, ids never reused
(AUTOINCREMENT): a browser reads the log after the last id it has, and a session's erased log would otherwise
give its next message an id the browser has passed already

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # a PostgreSQL sequence never goes back
        with op.batch_alter_table("webchat_messages", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    op.create_index("ix_webchat_messages_created_at", "webchat_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_webchat_messages_created_at", "webchat_messages")
