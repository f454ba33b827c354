"""Feedback (PAKN) tables. SQLAlchemy Core only; the same statements run on SQLite and PostgreSQL.

Times are stored in UTC; deadlines are dates on the Vietnamese calendar.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

queues = Table(
    "feedback_queues",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("deadline_days", Integer, nullable=False),  # working days to answer
    Column("is_default", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
)

# Rules are tried by priority (lowest first); a rule matches when every criterion it sets matches.
routing_rules = Table(
    "feedback_routing_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", Integer, ForeignKey("feedback_queues.id"), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("field", String(200), nullable=True),  # lĩnh vực, compared without case and diacritics
    Column("procedure_code", String(32), nullable=True),
    Column("keywords", Text, nullable=True),  # comma-separated; any one found in the content matches
    Column("active", Boolean, nullable=False),
)

reject_reasons = Table(
    "feedback_reject_reasons",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("label", Text, nullable=False),  # Vietnamese, shown to the citizen
    Column("position", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)

# One row per explicit "Đồng ý": what was shown (text and its version), when, to whom.
consents = Table(
    "feedback_consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("channel_user_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("text_version", String(32), nullable=False),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Index("ix_feedback_consents_user", "channel", "channel_user_id"),
)

items = Table(
    "feedback_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # phan_anh | kien_nghi
    Column("content", Text, nullable=False),
    Column("procedure_code", String(32), nullable=True, index=True),
    Column("field", String(200), nullable=True),
    Column("agency", String(300), nullable=True),  # the agency or place concerned
    Column("sender_name", String(100), nullable=True),  # personal fields are NULL after erasure
    Column("sender_address", String(300), nullable=True),
    Column("sender_phone", String(16), nullable=True),
    Column("sender_email", String(254), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("channel_user_id", String(64), nullable=True),
    Column("chat_id", String(64), nullable=True),
    Column("consent_id", Integer, ForeignKey("feedback_consents.id"), nullable=True),
    Column("queue_id", Integer, ForeignKey("feedback_queues.id"), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("version", Integer, nullable=False),  # optimistic concurrency: every change adds one
    Column("assigned_to", String(64), nullable=True),
    Column("deadline", Date, nullable=False),
    Column("overdue_at", DateTime(timezone=True), nullable=True),  # when it was first flagged overdue
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("answer", Text, nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("transferred_to", String(300), nullable=True),
    Column("reject_reason", String(32), ForeignKey("feedback_reject_reasons.code"), nullable=True),
    Column("reject_note", Text, nullable=True),
    Column("duplicate_of", Integer, ForeignKey("feedback_items.id"), nullable=True),
    Column("public_content", Text, nullable=True),
    Column("public_answer", Text, nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("rating", Integer, nullable=True),
    Column("rated_at", DateTime(timezone=True), nullable=True),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Index("ix_feedback_items_user", "channel", "channel_user_id"),
)

# The thread of an item: staff requests for information and the citizen's replies.
messages = Table(
    "feedback_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("feedback_items.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author_kind", String(8), nullable=False),  # citizen | staff
    Column("author", String(64), nullable=True),  # the staff username; NULL for the citizen
    Column("body", Text, nullable=False),
)

attachments = Table(
    "feedback_attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("feedback_items.id"), nullable=False, index=True),
    Column("message_id", Integer, ForeignKey("feedback_messages.id"), nullable=True),
    Column("path", String(300), nullable=False),  # relative to DATA_DIR
    Column("filename", String(200), nullable=True),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit = Table(
    "feedback_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("feedback_items.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),  # a staff username, "citizen" or "system"
    Column("action", String(32), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("note", Text, nullable=True),
)

# Messages to citizens and to the staff group, delivered by `feedback.outbox.deliver`.
outbox = Table(
    "feedback_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("feedback_items.id"), nullable=True, index=True),
    Column("channel", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("buttons", JSON, nullable=True),  # [[label, payload], …]: buttons under the text (rating an answer)
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("idempotency_key", String(120), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A dialog reply: {"buttons": [[label, payload, url, group], …], "links": […], "edit": message id to replace}.
    Column("reply", JSON, nullable=True),
    Column("parts_sent", Integer, nullable=False, server_default="0"),  # parts of a long text the channel took
    Column("remote_ids", JSON, nullable=True),  # the channel's ids of those parts
    Index("ix_feedback_outbox_due", "status", "next_attempt_at"),
    Index("ix_feedback_outbox_chat", "channel", "chat_id", "id"),
)

# Files a citizen sent to a draft (or to a reply being written) and not yet submitted. Each upload is a
# file of its own (no sharing between citizens); on submit the row moves to `attachments`, and a draft
# that is cancelled, erased or abandoned takes its files with it.
uploads = Table(
    "feedback_uploads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("channel_user_id", String(64), nullable=False),
    Column("path", String(300), nullable=False, unique=True),  # relative to DATA_DIR
    Column("filename", String(200), nullable=True),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_uploads_user", "channel", "channel_user_id"),
)

# Each attempt to read an item from another chat (code + last 4 phone digits), for the guessing limits.
lookups = Table(
    "feedback_lookups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("channel_user_id", String(64), nullable=False),
    Column("code", String(16), nullable=False),  # as normalised; also codes that do not exist
    Column("ok", Boolean, nullable=False),
    Index("ix_feedback_lookups_code", "code", "at"),
    Index("ix_feedback_lookups_user", "channel", "channel_user_id", "at"),
)

# Staff notes on an item: internal, never shown to the citizen nor published.
notes = Table(
    "feedback_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("feedback_items.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("author", String(64), nullable=False),
    Column("body", Text, nullable=False),
)

# Answer templates staff start from: per action (answer, ask_info, reject, transfer) and, optionally, per kind.
templates = Table(
    "feedback_templates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),
    Column("kind", String(16), nullable=True),  # phan_anh | kien_nghi | NULL: both
    Column("title", String(120), nullable=False),
    Column("body", Text, nullable=False),
    Column("active", Boolean, nullable=False),
)
