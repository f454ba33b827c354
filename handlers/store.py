"""Conversation tables: state per (channel, user), handled message ids, ratings, questions for admins.

SQLAlchemy Core only; the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("chat_id", String(64), nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per message or button press handled: the primary key makes a second delivery fail to insert.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)

# "Hữu ích" / "Chưa hữu ích" on an answer card. No user id: a rating is about the answer.
answer_ratings = Table(
    "answer_ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("code", String(32), nullable=False, index=True),
    Column("helpful", Boolean, nullable=False),
)

# Questions the bot could not answer (reason none / not_listed), answered with a card saying the record does not
# hold the aspect asked (no_aspect: the code, and the aspects in `missing`), or answered unhelpfully (with what was
# missing), for admins; and what an admin did with them (handlers/review.py).
review_questions = Table(
    "review_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("code", String(32), nullable=True),
    Column("missing", Text, nullable=True),
    Column("status", String(16), nullable=False, server_default="new"),
    Column("resolution", String(16), nullable=True),  # question | alias | out_of_scope; None while open
    Column("resolved_code", String(32), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
)

REASONS = ("none", "not_listed", "no_aspect", "unhelpful")
MAX_STORED_TEXT = 2000
PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def now() -> datetime:
    return datetime.now(UTC)


def aware(t: datetime) -> datetime:
    """SQLite hands back naive datetimes; every value this module writes is UTC."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def redact(text: str) -> str:
    """Phone numbers and e-mail addresses a citizen may type are not kept in the admins' table."""
    text = EMAIL.sub("[email]", text)
    return PHONE.sub("[số điện thoại]", text)[:MAX_STORED_TEXT]


class Conflict(Exception):
    """Another process saved the conversation since it was read; the message is handled again."""


_ON_CONNECTION = sessionmaker(join_transaction_mode="create_savepoint", expire_on_commit=False)


class ConnectionSessions:
    """Used like a sessionmaker: sessions on one connection, inside its transaction (a savepoint each). One
    sessionmaker for all (a sessionmaker per turn would build a Session class each time, costlier than a query)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __call__(self) -> Session:
        return _ON_CONNECTION(bind=self.conn)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self() as s, s.begin():
            yield s


class Transcript(Protocol):
    """A channel's own log of a chat's messages (the web chat's, which the page shows again), reached by the
    citizen's data rights and by the app's housekeeping."""

    def count(self, conn: Connection, user_id: str) -> int: ...

    def erase(self, conn: Connection, user_id: str) -> int: ...

    def prune(self, conn: Connection, before: datetime) -> int: ...


class Journal:
    """What a dialog turn records besides its state, in the turn's own transaction."""

    def __init__(
        self,
        conn: Connection | None,
        channel: str,
        user_id: str = "",
        chat_id: str = "",
        transcript: Transcript | None = None,
    ):
        self.conn = conn
        self.channel = channel
        self.user_id = user_id
        self.chat_id = chat_id
        self.sessions = ConnectionSessions(conn) if conn is not None else None
        self.transcript = transcript if conn is not None else None

    def transcript_messages(self) -> int:
        """How many messages of this chat the channel keeps in its own log (0 where it keeps none)."""
        return self.transcript.count(self.conn, self.user_id) if self.transcript is not None else 0

    def erase_transcript(self) -> int:
        """Delete the channel's own log of this chat; how many messages went."""
        return self.transcript.erase(self.conn, self.user_id) if self.transcript is not None else 0

    def rating(self, code: str, helpful: bool) -> None:
        if self.conn is not None:
            self.conn.execute(insert(answer_ratings).values(at=now(), channel=self.channel, code=code, helpful=helpful))

    def review(self, reason: str, question: str, code: str | None = None, missing: str | None = None) -> int:
        assert reason in REASONS
        if self.conn is None:
            return 0
        return self.conn.execute(
            insert(review_questions).values(
                at=now(),
                channel=self.channel,
                reason=reason,
                question=redact(question),
                code=code,
                missing=redact(missing) if missing else None,
                status="new",
            )
        ).inserted_primary_key[0]

    def missing(self, review_id: int, text: str) -> None:
        if self.conn is not None and review_id:
            self.conn.execute(
                update(review_questions).where(review_questions.c.id == review_id).values(missing=redact(text))
            )


# A turn's statements, built once (SQLAlchemy reuses their cache keys and compiled forms).
_MARK = insert(processed_messages)
_LOAD = select(conversations).where(
    conversations.c.channel == bindparam("ch"), conversations.c.user_id == bindparam("uid")
)
_LOAD_LOCKED = _LOAD.with_for_update()
_INSERT = insert(conversations)
_UPDATE = update(conversations).where(
    conversations.c.channel == bindparam("ch"),
    conversations.c.user_id == bindparam("uid"),
    conversations.c.version == bindparam("seen"),
)


def mark_processed(conn: Connection, channel: str, message_id: str) -> None:
    """Raises IntegrityError when the message was handled (or is being handled) already."""
    conn.execute(_MARK, {"channel": channel, "message_id": message_id, "at": now()})


def load(conn: Connection, channel: str, user_id: str, lock: bool = True):
    """The conversation row or None; with `lock`, PostgreSQL holds the row until the transaction ends."""
    return conn.execute(_LOAD_LOCKED if lock else _LOAD, {"ch": channel, "uid": user_id}).first()


def save(conn: Connection, row, channel: str, user_id: str, chat_id: str, state: dict) -> int:
    """Insert the first state, or update it when nobody saved since `row` was read. Returns the version."""
    t = now()
    if row is None:
        conn.execute(
            _INSERT,
            {
                "channel": channel,
                "user_id": user_id,
                "chat_id": chat_id,
                "state": state,
                "version": 1,
                "created_at": t,
                "updated_at": t,
            },
        )
        return 1
    values = {"state": state, "chat_id": chat_id, "version": row.version + 1, "updated_at": t}
    done = conn.execute(_UPDATE, {"ch": channel, "uid": user_id, "seen": row.version, **values}).rowcount
    if done != 1:
        raise Conflict
    return row.version + 1


def prune(conn: Connection, keep: timedelta) -> int:
    """Forget handled message ids older than `keep` (redeliveries come within minutes)."""
    return conn.execute(delete(processed_messages).where(processed_messages.c.at < now() - keep)).rowcount
