"""The outbox: every message to a citizen or to the staff group, delivered by a worker with retries.

The feedback workflow writes its messages in the same transaction as the change they announce, and a
conversation turn writes its replies in the turn's own transaction (handlers/conversation.py), so nothing
acknowledged or answered is lost when the channel refuses it for a while or the process dies.

A message is claimed (status "sending" with a lease) in one transaction, sent, and marked "sent" in
another, so two workers never send it both and a sent message is never sent again. A long text goes out in
parts: each part the channel accepts is recorded (`parts_sent`, with the channel's id for it) before the
next is sent, so a refusal of part 2 resumes at part 2; a write that loses its database connection is made
again on a new one, so a dropped connection does not lose the record. Only a process that dies after the
channel accepted a part and before recording it leaves that part to be sent once more when the lease ends:
delivery is at least once, and at most twice for one part caught in a crash.

Failures: a sender raises `RetryLater` when the channel says when to come back (Telegram's 429 with
retry_after; not counted as a failed attempt), `PermanentFailure` when retrying is useless (blocked, chat
gone); anything else is retried with exponential backoff (2 s, 4 s, 8 s … at most an hour). A failed or
postponed message is released at once, so another process that can reach the channel may take it.

Messages to one chat go out in the order they were written: a message waits while an earlier one to the
same chat waits for a retry or is being sent, and a pass takes a message only when every earlier one to the chat
is sent or given up (two processes' passes never send one chat's messages side by side); a turn's replies
(`only`) also wait behind any earlier message of the conversation still unsent and any whose retry is due (a
notification about an item written by the turn may follow its replies: "the acknowledgement comes right after").

A message may carry buttons, (label, payload) pairs the sender shows under the text (the 1–5 rating under
an answer); a dialog reply carries its own (`reply`: buttons with links and rows, the message to edit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from feedback.tables import outbox

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=2)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 10 hours of retries
LEASE = timedelta(minutes=2)  # longer than a send may take (the channels' read timeouts are 30 s a part)
KEEP_FINISHED = timedelta(days=7)  # a message about no item is deleted this long after it was written, once sent
FINISHED = ("sent", "failed")
UNSENT = ("pending", "sending")
WRITE_ATTEMPTS = 3  # a message's new state is written again after the database connection dropped

Buttons = Sequence[tuple[str, str]]  # (label, payload) under a message, e.g. the 1–5 rating of an answer


@dataclass
class Outgoing:
    """A message as a sender gets it. `parts_sent` parts of its text were accepted already: a sender that
    splits a long text starts after them and awaits `part_accepted(n, remote_id, last)` when part n (1-based) is
    taken."""

    id: int
    channel: str
    chat_id: str
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)
    reply: dict | None = None
    parts_sent: int = 0
    accepted: Callable[[int, list[str]], Awaitable[None]] | None = None
    remote_ids: list[str] = field(default_factory=list)

    async def part_accepted(self, n: int, remote_id: str = "", last: bool = False) -> None:
        """Part n was taken: recorded at once, before the next is sent; the `last` part is recorded with the
        message's "sent" (one write fewer, the same window: a crash before that write sends it once more)."""
        self.parts_sent = n
        self.remote_ids.append(str(remote_id))
        if self.accepted is not None and not last:
            await self.accepted(n, list(self.remote_ids))


Sender = Callable[[Outgoing], Awaitable[None]]
"""async sender(message): returns when the channel accepted the whole message, raises otherwise."""


class PermanentFailure(Exception):
    """Raised by a sender when retrying is useless (the user blocked the bot, the chat is gone)."""


class RetryLater(Exception):
    """Raised by a sender when the channel asks to wait `seconds` (a rate limit), which is not a failure."""

    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = seconds


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


def enqueue(
    s: Session,
    *,
    channel: str,
    chat_id: str,
    text: str,
    key: str,
    now: datetime,
    item_id: int | None = None,
    buttons: Buttons = (),
    reply: dict | None = None,
    reserve: timedelta | None = None,
) -> int:
    """Add a message in the caller's transaction (a Session or a Connection); `key` is unique, so a message is
    written once. With `reserve`, the worker leaves it to the writer for that long (a turn sends its own replies
    at once: `deliver(only=…)`); after that, or once tried, it is anyone's."""
    return s.execute(
        _INSERT,
        {
            "item_id": item_id,
            "channel": channel,
            "chat_id": str(chat_id),
            "text": text,
            "buttons": [[str(label), str(payload)] for label, payload in buttons] or None,
            "reply": reply,
            "status": "pending",
            "attempts": 0,
            "parts_sent": 0,
            "next_attempt_at": now + reserve if reserve else now,
            "idempotency_key": key,
            "created_at": now,
        },
    ).inserted_primary_key[0]


def has_key(s: Session, key: str) -> bool:
    return bool(s.scalar(select(exists().where(outbox.c.idempotency_key == key))))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 2 s, 4 s, 8 s … at most an hour."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


# The statements a delivery runs for every message are built once (SQLAlchemy then reuses their cache keys and
# compiled forms): "now", "ids" (a turn's own replies), "until" (the lease's end) and "msg_id" are bound at run.
_NOW = bindparam("now", type_=outbox.c.next_attempt_at.type)
_IDS = bindparam("ids", expanding=True)


def _due(own: bool = False):
    """Due for sending; with `own`, a turn's reserved replies never tried are due for it at once too."""
    due = or_(
        and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= _NOW),
        and_(outbox.c.status == "sending", outbox.c.lease_until <= _NOW),
    )
    if own:
        due = or_(due, and_(outbox.c.status == "pending", outbox.c.attempts == 0, outbox.c.last_error.is_(None)))
    return due


_EARLIER = outbox.alias("earlier")


def _earlier_to_chat(condition):
    """An earlier message to the same chat for which `condition` (on `_EARLIER`) holds."""
    return exists().where(
        _EARLIER.c.channel == outbox.c.channel,
        _EARLIER.c.chat_id == outbox.c.chat_id,
        _EARLIER.c.id < outbox.c.id,
        condition,
    )


def _blocked(own: bool):
    """An earlier message to the same chat holds this one back: one waiting for its retry or being sent."""
    earlier = _EARLIER
    waiting = or_(
        and_(earlier.c.status == "pending", earlier.c.next_attempt_at > _NOW),
        and_(earlier.c.status == "sending", earlier.c.lease_until > _NOW),
    )
    if own:
        # A turn's replies also wait behind an earlier message this pass does not send: one of the conversation,
        # or one tried already (its retry due, a dead process's send); the worker sends it first. A notification
        # about an item not yet tried (the acknowledgement written by the same turn) may follow them.
        untried_notice = and_(
            earlier.c.item_id.is_not(None), earlier.c.status == "pending", earlier.c.last_error.is_(None)
        )
        unsent = earlier.c.status.in_(UNSENT)
        waiting = or_(waiting, and_(unsent, ~untried_notice, earlier.c.id.not_in(_IDS)))
    return _earlier_to_chat(waiting)


# A pass takes a message only when no earlier one to its chat is unsent (waiting, due or being sent): two
# processes that listed the same due messages never send one chat's side by side.
_UNSENT_EARLIER = _earlier_to_chat(_EARLIER.c.status.in_(UNSENT))


_CLAIMED = (
    outbox.c.id,
    outbox.c.channel,
    outbox.c.chat_id,
    outbox.c.text,
    outbox.c.buttons,
    outbox.c.reply,
    outbox.c.attempts,
    outbox.c.parts_sent,
    outbox.c.remote_ids,
)
_DUE = select(outbox.c.id).where(_due(), ~_blocked(own=False)).order_by(outbox.c.id)
_CLAIM_OWN = (
    update(outbox)
    .where(outbox.c.id.in_(_IDS), _due(own=True), ~_blocked(own=True))
    .values(status="sending", lease_until=bindparam("until"))
    .returning(*_CLAIMED)
)
_CLAIM = (
    update(outbox)
    .where(outbox.c.id == bindparam("msg_id"), _due(), ~_UNSENT_EARLIER)
    .values(status="sending", lease_until=bindparam("until"))
    .returning(*_CLAIMED)
)
_FINISH = update(outbox).where(outbox.c.id == bindparam("msg_id"), outbox.c.status == "sending")  # SET: the values
_INSERT = insert(outbox)


def engine_of(factory: sessionmaker):
    """The engine under the app's sessions: the statements run for every message (and every update, in the
    inbox) go straight to a connection, without an ORM session's cost."""
    return factory.kw["bind"]


def _due_ids(factory: sessionmaker, now: datetime, limit: int, channels: Collection[str] | None = None) -> list[int]:
    q = _DUE if channels is None else _DUE.where(outbox.c.channel.in_(list(channels)))
    with engine_of(factory).connect() as s:
        return list(s.scalars(q.limit(limit), {"now": now}))


def claim_own(conn: Connection | Session, ids: Collection[int], now: datetime) -> list:
    """A turn takes its replies in one statement, in its own transaction or later: those due for it and held
    back by no earlier message."""
    rows = conn.execute(_CLAIM_OWN, {"ids": list(ids), "now": now, "until": now + LEASE}).all()
    return sorted(rows, key=lambda r: r.id)


def _claim_own(factory: sessionmaker, ids: Collection[int], now: datetime) -> list:
    with engine_of(factory).begin() as s:
        return claim_own(s, ids, now)


def _claim(factory: sessionmaker, msg_id: int, now: datetime):
    """Take one message for sending; None when another worker took it first."""
    with engine_of(factory).begin() as s:
        return s.execute(_CLAIM, {"msg_id": msg_id, "now": now, "until": now + LEASE}).one_or_none()


def _buttons(stored) -> list[tuple[str, str]]:
    """The stored [[label, payload], …] as pairs (anything else is dropped)."""
    pairs = stored if isinstance(stored, list) else []
    return [(str(b[0]), str(b[1])) for b in pairs if isinstance(b, list | tuple) and len(b) == 2]


def _finish(factory: sessionmaker, msg_id: int, values: dict) -> None:
    with engine_of(factory).begin() as s:
        s.execute(_FINISH, {"msg_id": msg_id, **values})


async def _write(factory: sessionmaker, msg_id: int, values: dict) -> None:
    """`_finish`, made again on a new connection when the database dropped this one (a restart, a failover):
    a part the channel accepted stays recorded, not sent again."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            await asyncio.to_thread(_finish, factory, msg_id, values)
            return
        except OperationalError:
            if attempt == WRITE_ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)


def _recorder(factory: sessionmaker, msg_id: int) -> Callable[[int, list[str]], Awaitable[None]]:
    """Record each accepted part at once, before the next is sent."""

    async def accepted(n: int, remote_ids: list[str]) -> None:
        await _write(factory, msg_id, {"parts_sent": n, "remote_ids": remote_ids})

    return accepted


async def _claimed(factory: sessionmaker, now: datetime, limit: int, channels, only) -> AsyncIterator:
    """The messages taken for this pass, one by one (a turn's own replies all at once)."""
    if only is not None:
        for msg in await asyncio.to_thread(_claim_own, factory, only, now):
            yield msg
        return
    for msg_id in await asyncio.to_thread(_due_ids, factory, now, limit, channels):
        msg = await asyncio.to_thread(_claim, factory, msg_id, now)
        if msg is not None:
            yield msg


async def deliver(
    factory: sessionmaker,
    sender: Sender,
    now: datetime | None = None,
    limit: int = 50,
    channels: Collection[str] | None = None,
    only: Collection[int] | None = None,
) -> DeliveryReport:
    """Send the messages that are due (only those of `channels`, or the ids in `only`, when given: a process
    delivers what it can send, a turn its own replies); failures are released for a later attempt."""
    now = now or utcnow()
    return await send_claimed(factory, sender, _claimed(factory, now, limit, channels, only), now)


async def _each(rows: Iterable) -> AsyncIterator:
    for row in rows:
        yield row


async def send_claimed(
    factory: sessionmaker, sender: Sender, claimed: AsyncIterable | Iterable, now: datetime | None = None
) -> DeliveryReport:
    """Send messages claimed already (`claim_own` in a turn's transaction), in order; each is recorded sent, or
    released for a later attempt (and the rest of its chat with it)."""
    now = now or utcnow()
    report = DeliveryReport()
    failed_chats: set[tuple[str, str]] = set()
    async for msg in claimed if isinstance(claimed, AsyncIterable) else _each(claimed):
        if (msg.channel, msg.chat_id) in failed_chats:  # keep the order: wait behind the failed one
            await _write(factory, msg.id, {"status": "pending", "lease_until": None})
            continue
        outgoing = Outgoing(
            msg.id,
            msg.channel,
            msg.chat_id,
            msg.text,
            _buttons(msg.buttons),
            msg.reply if isinstance(msg.reply, dict) else None,
            msg.parts_sent or 0,
            _recorder(factory, msg.id),
            list(msg.remote_ids or []),
        )
        try:
            await sender(outgoing)
        except Exception as e:
            failed_chats.add((msg.channel, msg.chat_id))
            values, outcome = _after_failure(e, msg.attempts + 1, now)
            if outcome == "failed":
                report.failed += 1
                log.warning("outbox %d failed for good (%s)", msg.id, type(e).__name__)
            else:
                report.retried += 1
                log.info("outbox %d attempt failed (%s), retry later", msg.id, type(e).__name__)
            await _write(factory, msg.id, values)
            continue
        values = {"status": "sent", "attempts": msg.attempts + 1, "sent_at": now, "lease_until": None}
        values |= {"parts_sent": outgoing.parts_sent, "remote_ids": outgoing.remote_ids}
        await _write(factory, msg.id, values)
        report.sent += 1
        log.info("outbox %d sent on %s", msg.id, msg.channel)
    return report


def _after_failure(e: Exception, attempts: int, now: datetime) -> tuple[dict, str]:
    """The row's new values after a failed send, and "failed" or "retry"."""
    error = f"{type(e).__name__}: {e}"[:300]
    if isinstance(e, RetryLater):  # the channel's rate limit: come back when it says, not a failed attempt
        wait = timedelta(seconds=max(e.seconds, 0.0))
        values = {"status": "pending", "lease_until": None, "last_error": error, "next_attempt_at": now + wait}
        return values, "retry"
    if isinstance(e, PermanentFailure) or attempts >= MAX_ATTEMPTS:
        return {"status": "failed", "attempts": attempts, "lease_until": None, "last_error": error}, "failed"
    values = {
        "status": "pending",
        "attempts": attempts,
        "lease_until": None,
        "last_error": error,
        "next_attempt_at": now + backoff(attempts),
    }
    return values, "retry"


def prune(factory: sessionmaker, keep: timedelta = KEEP_FINISHED, now: datetime | None = None) -> int:
    """Delete the messages about no item (dialog replies, notices) written over `keep` ago and since sent or given
    up: their delivery is over, and a reply may quote what the citizen typed (a form's summary). An item's
    messages stay with its record."""
    before = (now or utcnow()) - keep
    with engine_of(factory).begin() as s:
        return s.execute(
            delete(outbox).where(
                outbox.c.item_id.is_(None), outbox.c.status.in_(FINISHED), outbox.c.created_at < before
            )
        ).rowcount


def pending_count(factory: sessionmaker) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(outbox).where(outbox.c.status.in_(UNSENT)))


def unsent(factory: sessionmaker, ids: Collection[int]) -> int:
    """How many of `ids` are still waiting or being sent."""
    with factory() as s:
        return s.scalar(
            select(func.count()).where(outbox.c.id.in_(list(ids)), outbox.c.status.in_(UNSENT))
        )


def depth(factory: sessionmaker) -> dict[str, float]:
    """Messages waiting (pending or sending) and the age in seconds of the oldest one."""
    with factory() as s:
        n, oldest = s.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.status.in_(UNSENT))
        ).one()
    if oldest is None:
        return {"count": n, "oldest_seconds": 0.0}
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    return {"count": n, "oldest_seconds": max((utcnow() - oldest).total_seconds(), 0.0)}


def to_chat(factory: sessionmaker, item_id: int, channel: str, chat_id: str) -> list[dict]:
    """An item's messages to one chat (the citizen's), oldest first, with how their delivery went: id, text,
    status, attempts, created_at, sent_at, last_error."""
    with factory() as s:
        rows = s.execute(
            select(
                outbox.c.id,
                outbox.c.text,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.created_at,
                outbox.c.sent_at,
                outbox.c.last_error,
            )
            .where(outbox.c.item_id == item_id, outbox.c.channel == channel, outbox.c.chat_id == str(chat_id))
            .order_by(outbox.c.id)
        )
        return [dict(r._mapping) for r in rows]
