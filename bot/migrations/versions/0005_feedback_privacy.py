"""feedback privacy: draft uploads owned by their citizen, lookup attempts; clean stored text and phones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The same characters knowledge.text.safe_text removes at the boundary (copied: a migration is frozen).
UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
TEXT_COLUMNS = {
    "feedback_items": ("content", "agency", "sender_name", "sender_address", "answer", "reject_note"),
    "feedback_messages": ("body",),
}


def _ascii_phone(value: str) -> str | None:
    s = unicodedata.normalize("NFKC", value)
    s = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in s)
    return s if re.fullmatch(r"[0-9]{10,11}", s) else None


def upgrade() -> None:
    op.create_table(
        "feedback_uploads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_user_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False, unique=True),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_uploads_user", "feedback_uploads", ["channel", "channel_user_id"])
    op.create_table(
        "feedback_lookups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_user_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("ix_feedback_lookups_code", "feedback_lookups", ["code", "at"])
    op.create_index("ix_feedback_lookups_user", "feedback_lookups", ["channel", "channel_user_id", "at"])

    # Text stored before the boundary cleaned it, and phones stored as typed (full-width, Arabic-Indic …).
    conn = op.get_bind()
    for table, columns in TEXT_COLUMNS.items():
        t = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns))
        for row in conn.execute(sa.select(t)).all():
            changed = {c: UNSAFE.sub("", v) for c, v in zip(columns, row[1:], strict=True) if v and UNSAFE.search(v)}
            if changed:
                conn.execute(sa.update(t).where(t.c.id == row.id).values(**changed))
    items = sa.table("feedback_items", sa.column("id"), sa.column("sender_phone"))
    for row in conn.execute(sa.select(items).where(items.c.sender_phone.is_not(None))).all():
        if not re.fullmatch(r"[0-9]{10,11}", row.sender_phone):
            phone = _ascii_phone(row.sender_phone)
            conn.execute(sa.update(items).where(items.c.id == row.id).values(sender_phone=phone))


def downgrade() -> None:
    op.drop_table("feedback_lookups")
    op.drop_table("feedback_uploads")
