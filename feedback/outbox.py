"""The outbox: messages to citizens and to the staff group, written in the same transaction as the change
they announce, and delivered by a worker with retries and exponential backoff.

A message is claimed (status "sending" with a lease) in one transaction, sent, and marked "sent" in
another, so two workers never send it both and a sent message is never sent again. Only a worker that
dies after the channel accepted a message and before marking it sent leaves it to be sent once more when
the lease ends: delivery is at least once, and at most twice for a message caught in a crash.

Messages to one chat go out in the order they were written: a message waits while an earlier one to the
same chat waits for a retry or is being sent.

A message may carry buttons, (label, payload) pairs the sender shows under the text (the 1–5 rating under
an answer); the payload is what the chat's dialog receives when the citizen presses one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from feedback.tables import outbox

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 12  # about 7 hours of retries
LEASE = timedelta(minutes=2)

Buttons = Sequence[tuple[str, str]]  # (label, payload) under a message, e.g. the 1–5 rating of an answer
Sender = Callable[[str, str, str, Buttons], Awaitable[None]]
"""async sender(channel, chat_id, text, buttons): returns when the channel accepted the message, raises otherwise."""


class PermanentFailure(Exception):
    """Raised by a sender when retrying is useless (the user blocked the bot, the chat is gone)."""


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
) -> int:
    """Add a message in the caller's transaction; `key` is unique, so a message is written once."""
    return s.execute(
        insert(outbox).values(
            item_id=item_id,
            channel=channel,
            chat_id=str(chat_id),
            text=text,
            buttons=[[str(label), str(payload)] for label, payload in buttons] or None,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            idempotency_key=key,
            created_at=now,
        )
    ).inserted_primary_key[0]


def has_key(s: Session, key: str) -> bool:
    return bool(s.scalar(select(exists().where(outbox.c.idempotency_key == key))))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, 4 min … at most an hour."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def _due(now: datetime):
    return or_(
        and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
        and_(outbox.c.status == "sending", outbox.c.lease_until <= now),
    )


def _due_ids(factory: sessionmaker, now: datetime, limit: int, channels: Collection[str] | None = None) -> list[int]:
    earlier = outbox.alias("earlier")
    blocked = exists().where(
        earlier.c.channel == outbox.c.channel,
        earlier.c.chat_id == outbox.c.chat_id,
        earlier.c.id < outbox.c.id,
        or_(
            and_(earlier.c.status == "pending", earlier.c.next_attempt_at > now),
            and_(earlier.c.status == "sending", earlier.c.lease_until > now),
        ),
    )
    q = select(outbox.c.id).where(_due(now), ~blocked)
    if channels is not None:
        q = q.where(outbox.c.channel.in_(list(channels)))
    with factory() as s:
        return list(s.scalars(q.order_by(outbox.c.id).limit(limit)))


def _claim(factory: sessionmaker, msg_id: int, now: datetime):
    """Take one message for sending; None when another worker took it first."""
    with factory.begin() as s:
        n = s.execute(
            update(outbox).where(outbox.c.id == msg_id, _due(now)).values(status="sending", lease_until=now + LEASE)
        ).rowcount
        if n != 1:
            return None
        return s.execute(
            select(
                outbox.c.id, outbox.c.channel, outbox.c.chat_id, outbox.c.text, outbox.c.buttons, outbox.c.attempts
            ).where(outbox.c.id == msg_id)
        ).one()


def _buttons(stored) -> list[tuple[str, str]]:
    """The stored [[label, payload], …] as pairs (anything else is dropped)."""
    pairs = stored if isinstance(stored, list) else []
    return [(str(b[0]), str(b[1])) for b in pairs if isinstance(b, list | tuple) and len(b) == 2]


def _finish(factory: sessionmaker, msg_id: int, values: dict) -> None:
    with factory.begin() as s:
        s.execute(update(outbox).where(outbox.c.id == msg_id, outbox.c.status == "sending").values(**values))


async def deliver(
    factory: sessionmaker,
    sender: Sender,
    now: datetime | None = None,
    limit: int = 50,
    channels: Collection[str] | None = None,
) -> DeliveryReport:
    """Send the messages that are due (only those of `channels` when given: a process delivers what it can
    send); failures are retried later with exponential backoff."""
    now = now or utcnow()
    report = DeliveryReport()
    failed_chats: set[tuple[str, str]] = set()
    for msg_id in await asyncio.to_thread(_due_ids, factory, now, limit, channels):
        msg = await asyncio.to_thread(_claim, factory, msg_id, now)
        if msg is None:
            continue
        if (msg.channel, msg.chat_id) in failed_chats:  # keep the order: wait behind the failed one
            await asyncio.to_thread(_finish, factory, msg.id, {"status": "pending", "lease_until": None})
            continue
        attempts = msg.attempts + 1
        try:
            await sender(msg.channel, msg.chat_id, msg.text, _buttons(msg.buttons))
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:300]
            failed_chats.add((msg.channel, msg.chat_id))
            if isinstance(e, PermanentFailure) or attempts >= MAX_ATTEMPTS:
                values = {"status": "failed", "attempts": attempts, "lease_until": None, "last_error": error}
                report.failed += 1
                log.warning("outbox %d failed for good after %d attempts (%s)", msg.id, attempts, type(e).__name__)
            else:
                values = {
                    "status": "pending",
                    "attempts": attempts,
                    "lease_until": None,
                    "last_error": error,
                    "next_attempt_at": now + backoff(attempts),
                }
                report.retried += 1
                log.info("outbox %d attempt %d failed (%s), retry later", msg.id, attempts, type(e).__name__)
            await asyncio.to_thread(_finish, factory, msg.id, values)
            continue
        await asyncio.to_thread(
            _finish, factory, msg.id, {"status": "sent", "attempts": attempts, "sent_at": now, "lease_until": None}
        )
        report.sent += 1
        log.info("outbox %d sent on %s", msg.id, msg.channel)
    return report


def pending_count(factory: sessionmaker) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(outbox).where(outbox.c.status.in_(("pending", "sending"))))


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
