"""The background loop the app runs: deliver the outbox, and flag overdue items now and then."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.orm import sessionmaker

from feedback import outbox, service

log = logging.getLogger(__name__)


async def run(
    factory: sessionmaker,
    sender: outbox.Sender,
    stop: asyncio.Event,
    interval: float = 5.0,
    overdue_every: float = 3600.0,
) -> None:
    """Until `stop` is set: deliver due messages every `interval` seconds and check deadlines every
    `overdue_every` seconds (the first pass does both). Errors are logged and the loop goes on."""
    last_overdue = None
    while True:
        try:
            if last_overdue is None or time.monotonic() - last_overdue >= overdue_every:
                await asyncio.to_thread(service.check_overdue, factory)
                last_overdue = time.monotonic()
            report = await outbox.deliver(factory, sender)
            if report.sent or report.retried or report.failed:
                log.info("outbox: %s", report)
        except Exception as e:  # a database hiccup must not end the worker
            log.warning("feedback worker pass failed: %s", type(e).__name__)
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
