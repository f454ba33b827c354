"""knowledge-base administration: imports checked before they are applied, the edited vocabulary (life events,
everyday names) with its history, and what admins did with the questions the bot failed to answer

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An uploaded file: checked (status "checked", its report), then applied all-or-nothing ("applying" with
    # done/total as progress, then "applied" or "failed"). Any process can show its progress.
    op.create_table(
        "kb_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.JSON, nullable=True),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Every saved version of an edited vocabulary ("life_events", "everyday"); the newest of a kind
    # is the one in use, the bundled file until there is one. Reverting saves an older version anew.
    op.create_table(
        "kb_vocabulary",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_kb_vocabulary_kind", "kb_vocabulary", ["kind", "id"])
    # What an admin did with a question the bot failed to answer: attached it to a procedure (as a sample
    # question or an alias) or marked it out of scope.
    with op.batch_alter_table("review_questions") as batch:
        batch.add_column(sa.Column("resolution", sa.String(16), nullable=True))
        batch.add_column(sa.Column("resolved_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_questions") as batch:
        for name in ("resolved_at", "resolved_by", "resolved_code", "resolution"):
            batch.drop_column(name)
    op.drop_index("ix_kb_vocabulary_kind", table_name="kb_vocabulary")
    op.drop_table("kb_vocabulary")
    op.drop_table("kb_imports")
