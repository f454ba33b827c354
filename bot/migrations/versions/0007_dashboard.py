"""staff dashboard: account state and queues, sessions, login attempts, saved views, staff audit, internal
notes and answer templates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TEMPLATES = [
    (
        "answer",
        "Trả lời theo quy định",
        "Sở Tư pháp trả lời phản ánh, kiến nghị của Ông/Bà như sau:\n\n[nội dung trả lời]\n\n"
        "Căn cứ: [văn bản quy phạm pháp luật].\nTrân trọng.",
    ),
    (
        "ask_info",
        "Đề nghị bổ sung thông tin",
        "Để xem xét, xử lý, đề nghị Ông/Bà cung cấp thêm: [thông tin cần bổ sung] "
        "(ví dụ: thời gian, địa điểm, tên cơ quan hoặc bộ phận liên quan).",
    ),
    (
        "transfer",
        "Chuyển cơ quan có thẩm quyền",
        "Nội dung Ông/Bà phản ánh thuộc thẩm quyền của [tên cơ quan]; Sở Tư pháp đã chuyển để xem xét, "
        "trả lời theo quy định.",
    ),
    (
        "reject",
        "Không thuộc phạm vi xử lý",
        "Nội dung này không thuộc phạm vi tiếp nhận phản ánh, kiến nghị về quy định hành chính. "
        "Ông/Bà có thể liên hệ [nơi tiếp nhận phù hợp].",
    ),
]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_table(
        "user_queues",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("queue_id", sa.Integer, primary_key=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("ix_staff_login_attempts_user", "staff_login_attempts", ["username", "at"])
    op.create_index("ix_staff_login_attempts_ip", "staff_login_attempts", ["ip", "at"])
    op.create_table(
        "staff_saved_views",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "feedback_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    templates = op.create_table(
        "feedback_templates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.bulk_insert(
        templates,
        [{"action": a, "kind": None, "title": t, "body": b, "active": True} for a, t, b in TEMPLATES],
    )


def downgrade() -> None:
    for name in (
        "feedback_templates",
        "feedback_notes",
        "staff_audit",
        "staff_saved_views",
        "staff_login_attempts",
        "staff_sessions",
        "user_queues",
    ):
        op.drop_table(name)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("active")
