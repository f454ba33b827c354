"""The background loop the app runs: deliver the outbox; now and then flag overdue items and tidy up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection

from sqlalchemy.orm import sessionmaker

from feedback import outbox, service

log = logging.getLogger(__name__)


async def run(
    factory: sessionmaker,
    sender: outbox.Sender,
    stop: asyncio.Event,
    interval: float = 5.0,
    overdue_every: float = 3600.0,
    staff_chat: str | None = None,
    channels: Collection[str] | None = None,
    wake: asyncio.Event | None = None,
    upkeep: Callable[[], object] | None = None,
) -> None:
    """Until `stop` is set: deliver due messages (of `channels` when given) every `interval` seconds, or
    at once when `wake` is set, and check deadlines every `overdue_every` seconds, announcing newly overdue
    items in `staff_chat` and running `upkeep` (the first pass does all). Errors are logged and the loop goes on."""
    last_overdue = None
    while True:
        try:
            if last_overdue is None or time.monotonic() - last_overdue >= overdue_every:
                await asyncio.to_thread(service.check_overdue, factory, None, staff_chat)
                if upkeep is not None:
                    await asyncio.to_thread(upkeep)
                last_overdue = time.monotonic()
            report = await outbox.deliver(factory, sender, channels=channels)
            if report.sent or report.retried or report.failed:
                log.info("outbox: %s", report)
        except Exception as e:  # a database hiccup must not end the worker
            log.warning("feedback worker pass failed: %s", type(e).__name__)
        if stop.is_set():
            return
        await pause(stop, wake, interval)
        if stop.is_set():
            return


async def pause(
    stop: asyncio.Event, wake: asyncio.Event | None, interval: float, tasks: Collection[asyncio.Task] = ()
) -> None:
    """Wait until `stop` or `wake` is set, one of `tasks` ends, or `interval` seconds have passed; `wake` is
    cleared."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    if tasks:
        waits.append(asyncio.ensure_future(asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)))
    try:
        await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waits, return_exceptions=True)
    if wake is not None:
        wake.clear()
