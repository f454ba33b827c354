"""The dispatcher: claims updates from the inbox and hands each to its channel, a few at a time.

Each process runs one. It claims at most `slots` updates at once, the oldest waiting update of each user
(bot/inbox.py), and none of a user whose update is in hand (done in its turn, its replies still being sent), so
one user's burst never holds more than one slot. It looks at the inbox when a channel has stored an update here
(`wake`) and every `interval` seconds for updates stored by other processes or left by a stopped one. On stop it
takes nothing new and waits for the updates in hand (at most `drain` seconds; what is left unfinished is released
for the next start).

A channel's handler processes an update completely (the turn, with its replies written to the outbox and the
update marked done in the turn's transaction, then the replies sent); when it raises, the update is retried with
backoff if the error may pass (the database or the network), and otherwise marked failed and the channel's
`on_failure` tells the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import sessionmaker

from bot import inbox, metrics
from feedback import worker
from handlers.store import aware

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, DBAPIError, OSError, asyncio.TimeoutError)


@dataclass
class Route:
    """How a channel's updates are processed, and what the user hears when one fails for good."""

    handle: Callable[[inbox.Claimed], Awaitable[bool]]  # True: the update was marked done in its turn
    on_failure: Callable[[inbox.Claimed], Awaitable[None]]
    transient: tuple[type[BaseException], ...] = ()


class Dispatcher:
    def __init__(
        self,
        factory: sessionmaker,
        slots: int = 16,
        lease: timedelta = timedelta(seconds=60),
        interval: float = 1.0,
        drain: float = 20.0,
    ):
        self.factory = factory
        self.routes: dict[str, Route] = {}
        self.slots = slots
        self.lease = lease
        self.interval = interval
        self.drain = drain
        self.wake = asyncio.Event()  # set by a channel that stored an update
        self.active: dict[int, asyncio.Task] = {}
        self.held: dict[int, inbox.Claimed] = {}  # the updates in hand: their users wait for the next claim

    def add(self, channel: str, route: Route) -> None:
        self.routes[channel] = route

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then drain."""
        backoff = self.interval
        while not stop.is_set():
            try:
                busy = {(item.channel, item.user_id) for item in self.held.values()}
                claimed = await asyncio.to_thread(
                    inbox.claim, self.factory, self.slots - len(self.active), self.lease, list(self.routes), None, busy
                )
                backoff = self.interval
            except Exception as e:  # the database is down: try again later
                log.warning("inbox claim failed: %s", type(e).__name__)
                metrics.ERRORS.labels("inbox_claim").inc()
                claimed = []
                backoff = min(backoff * 2, 10.0)
            for item in claimed:
                self.held[item.id] = item
                self.active[item.id] = asyncio.create_task(self._process(item))
            if claimed and len(self.active) < self.slots:
                continue  # there may be more
            await worker.pause(stop, self.wake, backoff, self.active.values())  # a slot freed: claim again
        await self._drain()

    async def _drain(self) -> None:
        if not self.active:
            return
        log.info("draining %d updates in hand", len(self.active))
        _, late = await asyncio.wait(set(self.active.values()), timeout=self.drain)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        left = list(self.active)
        if left:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(inbox.release, self.factory, left)
            log.warning("stopped with %d updates unfinished, left in the inbox", len(left))

    async def _process(self, item: inbox.Claimed) -> None:
        route = self.routes[item.channel]
        started = time.perf_counter()
        waited = max((inbox.utcnow() - aware(item.received_at)).total_seconds(), 0.0)
        metrics.STAGE.labels(item.channel, "inbox_wait").observe(waited)
        try:
            if not await route.handle(item):
                await asyncio.to_thread(inbox.finish, self.factory, item.id)
            self.active.pop(item.id, None)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.active.pop(item.id, None)
            transient = isinstance(e, TRANSIENT + route.transient)
            metrics.ERRORS.labels("transient" if transient else "update").inc()
            log.warning(
                "update failed channel=%s inbox=%d error=%s retry=%s",
                item.channel,
                item.id,
                type(e).__name__,
                transient,
            )
            try:
                final = await asyncio.to_thread(inbox.failed, self.factory, item, f"{type(e).__name__}", transient)
                if final:
                    await route.on_failure(item)
            except Exception as e2:  # the database is down too: the lease brings the update back
                log.warning("recording the failure failed: %s", type(e2).__name__)
        finally:
            self.held.pop(item.id, None)
            metrics.STAGE.labels(item.channel, "process").observe(time.perf_counter() - started)
