"""The durable inbox: every update a channel receives is stored here before it is acknowledged (the webhook's
200, or the next `getUpdates` offset), then processed by whichever process claims it.

- `store` inserts once per (channel, update id); a redelivered update is recognised and not stored again.
  A user with `USER_CAP` updates already waiting gets the new one stored as "skipped" (kept, not processed)
  and, once a minute at most, a polite "bạn gửi nhanh quá".
- `claim` takes only the oldest unfinished update of each user, so one user's burst holds one processing slot
  while everyone else's updates go ahead, and a user's updates are processed in order by any process. The
  claim is a row lock (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and a lease: a process that dies leaves its
  claims to others when the lease ends; one that stops cleanly releases them at once.
- An update is marked done once its turn is saved and its replies were handed to the channel; a process that
  dies before that leaves it to be claimed again, and the turn finds the update handled already (the
  conversation's `processed_messages`), so it has its effect once. An update whose processing fails is
  retried with backoff, then marked failed.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from feedback import outbox

metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("update_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("payload", JSON, nullable=False),  # the update as the channel sent it
    Column("status", String(16), nullable=False),  # pending | processing | done | failed | skipped
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("holder", String(64), nullable=True),  # the process holding the claim
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(300), nullable=True),
    UniqueConstraint("channel", "update_id", name="uq_inbox_update"),
    Index("ix_inbox_status", "status", "id"),
    Index("ix_inbox_user", "channel", "user_id", "id"),
)

USER_CAP = 20  # updates of one user waiting at once; more are kept but not processed
TOO_FAST = (
    "Bạn gửi nhanh quá, hệ thống chưa kịp xử lý hết các tin trước. "
    "Bạn vui lòng chờ trả lời rồi gửi tiếp nhé."
)
RETRY_BASE = timedelta(seconds=1)
RETRY_MAX = timedelta(minutes=5)
MAX_ATTEMPTS = 8
KEEP_DONE = timedelta(days=2)
UNFINISHED = ("pending", "processing")
HOLDER = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    update_id: str
    user_id: str
    payload: dict
    attempts: int
    received_at: datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def store(factory: sessionmaker, channel: str, update_id: str, user_id: str, chat_id: str, payload: dict) -> str:
    """Keep an update before it is acknowledged: "new", "duplicate" (stored before) or "skipped" (its user has
    `USER_CAP` updates waiting; kept and answered with TOO_FAST at most once a minute)."""
    now = utcnow()
    try:
        with factory.begin() as s:
            waiting = s.scalar(
                select(func.count())
                .select_from(inbox)
                .where(inbox.c.channel == channel, inbox.c.user_id == user_id, inbox.c.status.in_(UNFINISHED))
            )
            status = "skipped" if waiting >= USER_CAP else "pending"
            s.execute(
                insert(inbox).values(
                    channel=channel,
                    update_id=str(update_id),
                    user_id=user_id,
                    payload=payload,
                    status=status,
                    attempts=0,
                    next_attempt_at=now,
                    received_at=now,
                )
            )
            if status == "skipped":
                key = f"too-fast:{channel}:{user_id}:{now:%Y%m%d%H%M}"
                if not outbox.has_key(s, key):
                    outbox.enqueue(s, channel=channel, chat_id=chat_id, text=TOO_FAST, key=key, now=now)
    except IntegrityError:
        return "duplicate"
    return "new" if status == "pending" else "skipped"


def _claimable(now: datetime):
    return or_(
        and_(inbox.c.status == "pending", inbox.c.next_attempt_at <= now),
        and_(inbox.c.status == "processing", inbox.c.lease_until <= now),
    )


def claim(
    factory: sessionmaker, limit: int, lease: timedelta, channels: list[str], now: datetime | None = None
) -> list[Claimed]:
    """Up to `limit` updates of `channels`, the oldest unfinished one of each user only."""
    if limit <= 0 or not channels:
        return []
    now = now or utcnow()
    earlier = inbox.alias("earlier")
    behind = exists().where(
        earlier.c.channel == inbox.c.channel,
        earlier.c.user_id == inbox.c.user_id,
        earlier.c.id < inbox.c.id,
        earlier.c.status.in_(UNFINISHED),
    )
    with factory.begin() as s:
        q = (
            select(inbox.c.id)
            .where(inbox.c.status.in_(UNFINISHED), _claimable(now), inbox.c.channel.in_(channels), ~behind)
            .order_by(inbox.c.id)
            .limit(limit)
        )
        if s.bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=inbox)
        ids = list(s.scalars(q))
        if not ids:
            return []
        rows = s.execute(
            update(inbox)
            .where(inbox.c.id.in_(ids), _claimable(now))
            .values(status="processing", lease_until=now + lease, holder=HOLDER)
            .returning(
                inbox.c.id,
                inbox.c.channel,
                inbox.c.update_id,
                inbox.c.user_id,
                inbox.c.payload,
                inbox.c.attempts,
                inbox.c.received_at,
            )
        ).all()
    return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)


def finish(factory: sessionmaker, inbox_id: int) -> None:
    """Mark an update processed."""
    with factory.begin() as s:
        s.execute(
            update(inbox)
            .where(inbox.c.id == inbox_id)
            .values(status="done", done_at=utcnow(), lease_until=None, holder=None)
        )


def failed(factory: sessionmaker, item: Claimed, error: str, retry: bool) -> bool:
    """Record a failed attempt: back to pending with backoff, or failed for good when `retry` is false or the
    attempts are used up. True when it failed for good."""
    attempts = item.attempts + 1
    final = not retry or attempts >= MAX_ATTEMPTS
    wait = min(RETRY_BASE * (2 ** (attempts - 1)), RETRY_MAX)
    with factory.begin() as s:
        s.execute(
            update(inbox)
            .where(inbox.c.id == item.id)
            .values(
                status="failed" if final else "pending",
                attempts=attempts,
                next_attempt_at=utcnow() + wait,
                lease_until=None,
                holder=None,
                last_error=error[:300],
            )
        )
    return final


def release(factory: sessionmaker, ids: list[int]) -> None:
    """Give claims back untouched (a clean stop): another process, or the next start, takes them at once."""
    if ids:
        with factory.begin() as s:
            s.execute(
                update(inbox)
                .where(inbox.c.id.in_(ids), inbox.c.status == "processing", inbox.c.holder == HOLDER)
                .values(status="pending", lease_until=None, holder=None)
            )


def depth(factory: sessionmaker) -> dict[str, float]:
    """Updates waiting (pending or processing) and the age in seconds of the oldest one."""
    with factory() as s:
        n, oldest = s.execute(
            select(func.count(), func.min(inbox.c.received_at)).where(inbox.c.status.in_(UNFINISHED))
        ).one()
    if oldest is None:
        return {"count": n, "oldest_seconds": 0.0}
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    return {"count": n, "oldest_seconds": max((utcnow() - oldest).total_seconds(), 0.0)}


def prune(factory: sessionmaker, keep: timedelta = KEEP_DONE) -> int:
    """Forget processed updates after `keep` (a channel never redelivers that late)."""
    with factory.begin() as s:
        return s.execute(
            delete(inbox).where(inbox.c.status.in_(("done", "skipped")), inbox.c.received_at < utcnow() - keep)
        ).rowcount
