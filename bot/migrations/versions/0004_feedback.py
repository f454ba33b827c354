"""feedback (PAKN): queues, routing rules, reject reasons, consents, items, thread, attachments, audit, outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The reasons a PAKN is not handled (Nghị định 20/2008/NĐ-CP as amended); admins may add more.
REJECT_REASONS = [
    ("khieu_nai_to_cao", "Là khiếu nại, tố cáo: được giải quyết theo pháp luật về khiếu nại, tố cáo"),
    ("ngoai_pham_vi", "Không phải phản ánh, kiến nghị về quy định hành chính hoặc việc thực hiện thủ tục hành chính"),
    ("noi_dung_khong_ro", "Nội dung không rõ ràng, không cụ thể"),
    ("khong_bo_sung", "Không bổ sung thông tin khi được đề nghị"),
    ("da_tra_loi", "Đã được xem xét, trả lời trước đó"),
    ("dang_giai_quyet", "Đang được cơ quan có thẩm quyền hoặc tòa án giải quyết"),
    ("ngon_ngu", "Không sử dụng tiếng Việt"),
    ("noi_dung_khong_phu_hop", "Có nội dung xúc phạm, không phù hợp thuần phong mỹ tục"),
]


def upgrade() -> None:
    queues = op.create_table(
        "feedback_queues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("deadline_days", sa.Integer, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "feedback_routing_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("feedback_queues.id"), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("procedure_code", sa.String(32), nullable=True),
        sa.Column("keywords", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    reasons = op.create_table(
        "feedback_reject_reasons",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "feedback_consents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_user_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feedback_consents_user", "feedback_consents", ["channel", "channel_user_id"])
    op.create_table(
        "feedback_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("procedure_code", sa.String(32), nullable=True),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("agency", sa.String(300), nullable=True),
        sa.Column("sender_name", sa.String(100), nullable=True),
        sa.Column("sender_address", sa.String(300), nullable=True),
        sa.Column("sender_phone", sa.String(16), nullable=True),
        sa.Column("sender_email", sa.String(254), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_user_id", sa.String(64), nullable=True),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("consent_id", sa.Integer, sa.ForeignKey("feedback_consents.id"), nullable=True),
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("feedback_queues.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("assigned_to", sa.String(64), nullable=True),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_to", sa.String(300), nullable=True),
        sa.Column("reject_reason", sa.String(32), sa.ForeignKey("feedback_reject_reasons.code"), nullable=True),
        sa.Column("reject_note", sa.Text, nullable=True),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=True),
        sa.Column("public_content", sa.Text, nullable=True),
        sa.Column("public_answer", sa.Text, nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer, nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feedback_items_procedure_code", "feedback_items", ["procedure_code"])
    op.create_index("ix_feedback_items_state", "feedback_items", ["state"])
    op.create_index("ix_feedback_items_user", "feedback_items", ["channel", "channel_user_id"])
    op.create_table(
        "feedback_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_kind", sa.String(8), nullable=False),
        sa.Column("author", sa.String(64), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_feedback_messages_item_id", "feedback_messages", ["item_id"])
    op.create_table(
        "feedback_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("feedback_messages.id"), nullable=True),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_attachments_item_id", "feedback_attachments", ["item_id"])
    op.create_table(
        "feedback_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_feedback_audit_item_id", "feedback_audit", ["item_id"])
    op.create_table(
        "feedback_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("feedback_items.id"), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_outbox_item_id", "feedback_outbox", ["item_id"])
    op.create_index("ix_feedback_outbox_due", "feedback_outbox", ["status", "next_attempt_at"])

    op.bulk_insert(queues, [{"name": "Sở Tư pháp", "deadline_days": 10, "is_default": True, "active": True}])
    op.bulk_insert(
        reasons,
        [{"code": c, "label": label, "position": n, "active": True} for n, (c, label) in enumerate(REJECT_REASONS, 1)],
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_outbox_due", "feedback_outbox")
    op.drop_index("ix_feedback_outbox_item_id", "feedback_outbox")
    op.drop_table("feedback_outbox")
    op.drop_index("ix_feedback_audit_item_id", "feedback_audit")
    op.drop_table("feedback_audit")
    op.drop_index("ix_feedback_attachments_item_id", "feedback_attachments")
    op.drop_table("feedback_attachments")
    op.drop_index("ix_feedback_messages_item_id", "feedback_messages")
    op.drop_table("feedback_messages")
    op.drop_index("ix_feedback_items_user", "feedback_items")
    op.drop_index("ix_feedback_items_state", "feedback_items")
    op.drop_index("ix_feedback_items_procedure_code", "feedback_items")
    op.drop_table("feedback_items")
    op.drop_index("ix_feedback_consents_user", "feedback_consents")
    op.drop_table("feedback_consents")
    op.drop_table("feedback_reject_reasons")
    op.drop_table("feedback_routing_rules")
    op.drop_table("feedback_queues")
