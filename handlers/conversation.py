"""Conversations: each message handled once, in order, against the state stored in the database.

For every message, in one transaction:
1. its id goes into `processed_messages`: a second delivery of the same update fails on the primary
   key and is dropped (on PostgreSQL it waits for the first to commit, then fails);
2. the conversation row is read (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the insert of step 1
   already holds the database's write lock), the dialog runs, and the row is written back only if its
   `version` is still the one read; otherwise everything is rolled back and the message is handled again.

In one process an asyncio lock per (channel, user), first come first served, keeps one user's messages
in arrival order while other users go ahead in parallel threads. A restart, or another process on the
same database, carries on from the stored state.

Channels served through the inbox (bot/inbox.py) call `record`: the same transaction also writes the replies
into the outbox and claims for sending those no earlier message holds back (the channel sends them right after
the commit), so a turn and its replies are kept together or not at all, and a second handling of the same update
(after a crash) finds it handled and adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from feedback import outbox
from handlers import store
from handlers.core import Incoming, Reply, reply_json
from handlers.dialog import Dialog
from handlers.state import State

log = logging.getLogger(__name__)

CONTEXT_TTL = timedelta(hours=24)  # after this pause a question starts afresh
KEEP_PROCESSED = timedelta(days=7)
PRUNE_EVERY = 500
ATTEMPTS = 8
REPLY_RESERVE = timedelta(seconds=5)  # the outbox worker leaves a turn's replies to the turn for this long


class Duplicate(Exception):
    pass


@dataclass
class Recorded:
    """A turn's replies in the outbox (ids, in order) and those it claimed for sending (rows to send at once)."""

    ids: list[int]
    claimed: list = field(default_factory=list)


class _KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], list] = {}

    @contextmanager
    def _ref(self, key) -> Iterator[asyncio.Lock]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            yield entry[0]
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class Conversations:
    def __init__(self, engine: Engine, dialog: Dialog, context_ttl: timedelta = CONTEXT_TTL):
        self.engine = engine
        self.dialog = dialog
        self.context_ttl = context_ttl
        self._locks = _KeyedLocks()
        self._handled = 0
        # channels that keep a chat's messages themselves (the web chat), by channel name
        self.transcripts: dict[str, store.Transcript] = {}

    async def handle(self, msg: Incoming) -> list[Reply]:
        """The replies to one message, after every earlier message of the same user; [] for a duplicate."""
        async with self.ordered(msg):
            return await self.run(msg)

    @asynccontextmanager
    async def ordered(self, msg: Incoming) -> AsyncIterator[None]:
        """Hold the user's turn, first come first served: an adapter that also sends the replies inside
        keeps them in order too. Enter it before anything else awaits."""
        with self._locks._ref((msg.channel, msg.user_id)) as lock:
            async with lock:
                yield

    async def run(self, msg: Incoming) -> list[Reply]:
        """`handle_sync` in a worker thread (the database and the search block); call it inside `ordered`."""
        return await asyncio.to_thread(self.handle_sync, msg)

    def handle_sync(self, msg: Incoming) -> list[Reply]:
        """The replies, returned to the caller (the terminal chat shows them at once)."""
        return self._handle(msg)[0]

    def record(self, msg: Incoming, then: Callable[[Connection], None] | None = None) -> Recorded | None:
        """Handle an update from the inbox: the replies go to the outbox, those nothing holds back are claimed
        for sending, and `then` runs, in the turn's transaction (the inbox marks the update done); the caller
        delivers them at once (None for a duplicate: nothing was written)."""
        return self._handle(msg, to_outbox=True, then=then)[1]

    def _handle(
        self, msg: Incoming, to_outbox: bool = False, then: Callable[[Connection], None] | None = None
    ) -> tuple[list[Reply], Recorded | None]:
        message_id = msg.message_id or f"local:{uuid.uuid4().hex}"
        started = time.perf_counter()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                replies, queued, state, version = self._once(msg, message_id, to_outbox, then)
            except Duplicate:
                log.info("duplicate message dropped channel=%s user=%s", msg.channel, msg.user_id)
                return [], None
            except (store.Conflict, IntegrityError, OperationalError) as e:
                if attempt == ATTEMPTS:
                    raise
                log.info(
                    "conversation busy, retrying channel=%s user=%s attempt=%d reason=%s",
                    msg.channel,
                    msg.user_id,
                    attempt,
                    type(e).__name__,
                )
                time.sleep(0.005 * attempt)
                continue
            log.info(
                "handled channel=%s user=%s turn=%d version=%d outcome=%s code=%s replies=%d ms=%.1f",
                msg.channel,
                msg.user_id,
                state.turn,
                version,
                state.outcome,
                state.code or "-",
                len(replies),
                (time.perf_counter() - started) * 1000,
            )
            self._maybe_prune()
            return replies, queued
        raise AssertionError("unreachable")

    def _once(
        self, msg: Incoming, message_id: str, to_outbox: bool, then: Callable[[Connection], None] | None
    ) -> tuple[list[Reply], Recorded, State, int]:
        with self.engine.connect() as conn, conn.begin():
            try:
                store.mark_processed(conn, msg.channel, message_id)
            except IntegrityError:
                raise Duplicate from None
            row = store.load(conn, msg.channel, msg.user_id)
            state = State.from_json(row.state if row is not None else None)
            if row is not None and store.aware(row.updated_at) < store.now() - self.context_ttl:
                state.forget_context()
            journal = store.Journal(conn, msg.channel, msg.user_id, msg.chat_id, self.transcripts.get(msg.channel))
            replies = self.dialog.respond(state, msg, journal)
            version = store.save(conn, row, msg.channel, msg.user_id, msg.chat_id, state.to_json())
            queued: list[int] = []
            claimed: list = []
            if to_outbox:
                now = store.now()
                for i, reply in enumerate(replies):
                    key = f"reply:{msg.channel}:{message_id}:{i}"[:120]
                    queued.append(
                        outbox.enqueue(
                            conn,
                            channel=msg.channel,
                            chat_id=msg.chat_id,
                            text=reply.text,
                            key=key,
                            now=now,
                            reply=reply_json(reply, msg.acted_on),
                            reserve=REPLY_RESERVE,
                        )
                    )
                claimed = outbox.claim_own(conn, queued, now) if queued else []
            if then is not None:
                then(conn)
        return replies, Recorded(queued, claimed), state, version

    def state(self, channel: str, user_id: str) -> State:
        """The stored state (for tests and admin tools)."""
        with self.engine.connect() as conn:
            row = store.load(conn, channel, user_id, lock=False)
        return State.from_json(row.state if row is not None else None)

    def _maybe_prune(self) -> None:
        self._handled += 1
        if self._handled % PRUNE_EVERY:
            return
        with self.engine.begin() as conn:
            n = store.prune(conn, KEEP_PROCESSED)
        log.info("pruned handled message ids count=%d", n)
