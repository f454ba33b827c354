"""The web chat's tables: every message of a session as the browser shows it (the citizen's, and the bot's as
the outbox delivers them; the event stream and polling read them, in any process) and the files a browser
uploaded, kept until the dialog takes them."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

messages = Table(
    "webchat_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False, index=True),
    Column("sender", String(8), nullable=False),  # user | bot
    Column("text", Text, nullable=False),
    Column("buttons", JSON, nullable=False),  # [{"label", "payload"} | {"label", "url"}]
    Column("outbox_id", Integer, nullable=True, unique=True),  # a delivered reply is stored once
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    sqlite_autoincrement=True,  # the browser reads after the last id it has: an id is never given twice
)

files = Table(
    "webchat_files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
