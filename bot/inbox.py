"""The durable inbox: every update a channel receives is stored here before it is acknowledged (the webhook's
200, or the next `getUpdates` offset), then processed by whichever process claims it.

- `store_many` inserts once per (channel, update id); a redelivered update is recognised and not stored again.
  A `Writer` stores what arrives meanwhile in one transaction (a burst of webhooks: one commit per batch).
  A user with `USER_CAP` updates already waiting gets the new one stored as "skipped" (kept, not processed)
  and, once a minute at most, a polite "bạn gửi nhanh quá".
- `claim` takes only the oldest unfinished update of each user, so one user's burst holds one processing slot
  while everyone else's updates go ahead, and a user's updates are processed in order by any process. The
  claim is a row lock (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and a lease: a process that dies leaves its
  claims to others when the lease ends; one that stops cleanly releases them at once.
- An update is marked done in its turn's transaction, with the replies written to the outbox (which delivers
  them even if this process dies next); a process that dies before that commit leaves it to be claimed again.
  An update found handled already (the conversation's `processed_messages`) has no second effect. An update
  whose processing fails is retried with backoff, then marked failed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

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
TOO_FAST = "Bạn gửi nhanh quá, hệ thống chưa kịp xử lý hết các tin trước. Bạn vui lòng chờ trả lời rồi gửi tiếp nhé."
RETRY_BASE = timedelta(seconds=1)
RETRY_MAX = timedelta(minutes=5)
MAX_ATTEMPTS = 8
KEEP_DONE = timedelta(days=2)
WRITE_BATCH = 200  # updates stored in one transaction at most
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


def store_many(factory: sessionmaker, channel: str, updates: list[tuple[str, str, str, dict]]) -> list[str]:
    """Keep updates of one channel, (update id, user id, chat id, payload) each, before they are acknowledged, in
    one transaction, in order. Each is "new", "duplicate" (stored before) or "skipped" (its user has `USER_CAP`
    updates waiting; kept and answered with TOO_FAST at most once a minute)."""
    try:
        return _store_batch(factory, channel, updates)
    except IntegrityError:  # another process stored one of them meanwhile: one by one, to tell which
        if len(updates) == 1:
            return ["duplicate"]
        return [store_many(factory, channel, [u])[0] for u in updates]


def _store_batch(factory: sessionmaker, channel: str, updates: list[tuple[str, str, str, dict]]) -> list[str]:
    now = utcnow()
    with outbox.engine_of(factory).begin() as s:
        known = set(
            s.scalars(
                select(inbox.c.update_id).where(
                    inbox.c.channel == channel, inbox.c.update_id.in_([str(u[0]) for u in updates])
                )
            )
        )
        waiting: dict[str, int] = dict(
            s.execute(
                select(inbox.c.user_id, func.count())
                .where(
                    inbox.c.channel == channel,
                    inbox.c.user_id.in_({u[1] for u in updates}),
                    inbox.c.status.in_(UNFINISHED),
                )
                .group_by(inbox.c.user_id)
            ).all()
        )
        outcomes, rows = [], []
        for update_id, user_id, chat_id, payload in updates:
            if str(update_id) in known:
                outcomes.append("duplicate")
                continue
            known.add(str(update_id))
            status = "skipped" if waiting.get(user_id, 0) >= USER_CAP else "pending"
            waiting[user_id] = waiting.get(user_id, 0) + (status == "pending")
            outcomes.append("new" if status == "pending" else "skipped")
            rows.append(
                {
                    "channel": channel,
                    "update_id": str(update_id),
                    "user_id": user_id,
                    "payload": payload,
                    "status": status,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "received_at": now,
                }
            )
            key = f"too-fast:{channel}:{user_id}:{now:%Y%m%d%H%M}"
            if status == "skipped" and not outbox.has_key(s, key):
                outbox.enqueue(s, channel=channel, chat_id=chat_id, text=TOO_FAST, key=key, now=now)
        if rows:
            s.execute(insert(inbox), rows)
    return outcomes


class Writer:
    """Stores a channel's updates in batches: while one batch is written, the next gathers, so a burst of
    webhooks costs a transaction per batch, not per update (group commit). Each caller gets its own outcome."""

    def __init__(self, factory: sessionmaker, channel: str, batch: int = WRITE_BATCH):
        self.factory = factory
        self.channel = channel
        self.batch = batch
        self._waiting: list[tuple[tuple[str, str, str, dict], asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def store(self, update_id: str, user_id: str, chat_id: str, payload: dict) -> str:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(((str(update_id), user_id, chat_id, payload), future))  # in arrival order
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.batch], self._waiting[self.batch :]
            try:
                outcomes = await asyncio.to_thread(store_many, self.factory, self.channel, [u for u, _ in batch])
            except Exception as e:  # each caller answers that it could not store (the channel sends again)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # a caller that went away: its update is stored all the same
                    future.set_result(outcome)


def _claimable(now):
    return or_(
        and_(inbox.c.status == "pending", inbox.c.next_attempt_at <= now),
        and_(inbox.c.status == "processing", inbox.c.lease_until <= now),
    )


# The claim's statements, built once: "now", "channels", "busy", "limit", "ids", "until" and "who" bound at run.
_NOW = bindparam("now", type_=inbox.c.received_at.type)
_earlier = inbox.alias("earlier")
_CLAIMABLE = (
    select(inbox.c.id)
    .where(
        inbox.c.status.in_(UNFINISHED),
        _claimable(_NOW),
        inbox.c.channel.in_(bindparam("channels", expanding=True)),
        ~exists().where(
            _earlier.c.channel == inbox.c.channel,
            _earlier.c.user_id == inbox.c.user_id,
            _earlier.c.id < inbox.c.id,
            _earlier.c.status.in_(UNFINISHED),
        ),
        tuple_(inbox.c.channel, inbox.c.user_id).not_in(bindparam("busy", expanding=True)),
    )
    .order_by(inbox.c.id)
    .limit(bindparam("limit"))
)
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(skip_locked=True, of=inbox)
_TAKE = (
    update(inbox)
    .where(inbox.c.id.in_(bindparam("ids", expanding=True)), _claimable(_NOW))
    .values(status="processing", lease_until=bindparam("until"), holder=bindparam("who"))
    .returning(
        inbox.c.id,
        inbox.c.channel,
        inbox.c.update_id,
        inbox.c.user_id,
        inbox.c.payload,
        inbox.c.attempts,
        inbox.c.received_at,
    )
)
_DONE = update(inbox).where(inbox.c.id == bindparam("inbox_id"))


def claim(
    factory: sessionmaker,
    limit: int,
    lease: timedelta,
    channels: list[str],
    now: datetime | None = None,
    busy: Collection[tuple[str, str]] = (),
) -> list[Claimed]:
    """Up to `limit` updates of `channels`, the oldest unfinished one of each user only, none of the `busy`
    (channel, user) pairs (whose update in hand is done but its replies still being sent)."""
    if limit <= 0 or not channels:
        return []
    now = now or utcnow()
    with outbox.engine_of(factory).begin() as s:
        q = _CLAIMABLE_LOCKED if s.dialect.name == "postgresql" else _CLAIMABLE
        params = {"now": now, "channels": list(channels), "busy": list(busy), "limit": limit}
        ids = list(s.scalars(q, params))
        if not ids:
            return []
        rows = s.execute(_TAKE, {"ids": ids, "now": now, "until": now + lease, "who": HOLDER}).all()
    return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)


def finish(factory: sessionmaker, inbox_id: int) -> None:
    """Mark an update processed."""
    with factory.begin() as s:
        finish_in(s, inbox_id)


def finish_in(conn: Connection | Session, inbox_id: int) -> None:
    """Mark an update processed in the caller's transaction (the turn that handled it)."""
    values = {"status": "done", "done_at": utcnow(), "lease_until": None, "holder": None}
    conn.execute(_DONE, {"inbox_id": inbox_id, **values})


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
