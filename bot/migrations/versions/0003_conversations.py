"""conversations: dialog state, handled message ids, answer ratings, questions for admins

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "processed_messages",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_messages_at", "processed_messages", ["at"])
    op.create_table(
        "answer_ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("helpful", sa.Boolean, nullable=False),
    )
    op.create_index("ix_answer_ratings_code", "answer_ratings", ["code"])
    op.create_table(
        "review_questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("missing", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
    )
    op.create_index("ix_review_questions_at", "review_questions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_review_questions_at", "review_questions")
    op.drop_table("review_questions")
    op.drop_index("ix_answer_ratings_code", "answer_ratings")
    op.drop_table("answer_ratings")
    op.drop_index("ix_processed_messages_at", "processed_messages")
    op.drop_table("processed_messages")
    op.drop_table("conversations")
