"""`python -m bot run`: the app's server process, and `--workers N` to run several of them.

A server process listens on HOST:PORT, connects its channels (in the background: an unreachable API leaves
the app serving with the channel marked down), runs the inbox dispatcher and the outbox worker, and on the
first SIGTERM or SIGINT stops taking updates, drains the ones in hand, and exits; whatever is left waits in
the database for the next start or another process.

With `--workers N` a parent process starts N server processes sharing the port (SO_REUSEPORT: the kernel
spreads connections) and the database, restarts one that dies, and passes SIGTERM/SIGINT on to all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

from bot import db
from bot.app import App

log = logging.getLogger(__name__)

OUTBOX_INTERVAL = 1.0  # seconds between the outbox worker's looks for messages due again
RESTART_DELAY = 2.0


async def serve(
    app: App,
    stop: asyncio.Event | None = None,
    listening: threading.Event | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until `stop` is set, or until SIGTERM/SIGINT when running in the main thread."""
    from aiohttp import web

    from bot.dispatch import Dispatcher
    from bot.notify import Senders, start_worker
    from bot.web import make_web_app

    stop = stop or asyncio.Event()
    _on_signals(stop)
    dispatcher = Dispatcher(app.factory, lease=timedelta(seconds=app.settings.inbox_lease_seconds))
    wake = asyncio.Event()  # the outbox worker looks at once
    telegram = None
    senders = Senders({})
    if app.settings.telegram_bot_token:
        from bot.telegram import TelegramChannel

        telegram = TelegramChannel(app, dispatcher, wake)
        senders.by_channel["telegram"] = telegram.send
    zalo = None
    if app.settings.zalo_app_id:
        from channels.zalo.channel import ZaloChannel

        zalo = ZaloChannel(app, dispatcher, wake)
        senders.by_channel["zalo"] = zalo.send
    from channels.webchat.channel import WebChatChannel

    webchat = WebChatChannel(app, dispatcher, wake)
    senders.by_channel["webchat"] = webchat.send
    await asyncio.to_thread(len, app.kb)  # the search index is built before the first question or health probe
    runner = web.AppRunner(make_web_app(app, telegram, wake, zalo, webchat), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, app.settings.host, app.settings.port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise db.DatabaseError(f"cannot listen on {app.settings.host}:{app.settings.port}: {e.strerror}") from None
    log.info("serving on http://%s:%s pid=%d", app.settings.host, app.settings.port, os.getpid())
    if listening is not None:
        listening.set()
    stop_worker = asyncio.Event()
    dispatching = asyncio.create_task(dispatcher.run(stop))
    notifier = start_worker(
        app.factory,
        senders,
        stop_worker,
        app.settings.staff_chat,
        wake=wake,
        interval=OUTBOX_INTERVAL,
        upkeep=app.upkeep,
    )
    try:
        for channel in (telegram, zalo, webchat):
            if channel is not None:
                await channel.start()
        await stop.wait()
        log.info("stopping: no new updates, finishing those in hand")
    finally:
        stop.set()
        await site.stop()  # no new requests; a webhook being stored finishes first
        await dispatching
        stop_worker.set()
        await notifier
        for channel in (telegram, zalo, webchat):
            if channel is not None:
                await channel.stop()
        await runner.cleanup()
        log.info("stopped")


def run_process(app: App, reuse_port: bool = False) -> None:
    """Serve in this process until SIGTERM/SIGINT, on uvloop's event loop (libuv; under load the loop's own code
    took 7 % of the server's CPU samples against asyncio's 12 %). What is loaded by then (the knowledge base and
    its search index, most of the process's objects) lives as long as the process: it is frozen out of the garbage
    collector, whose every full pass would otherwise walk it again (135 ms a pass; 22 ms frozen)."""
    import uvloop

    len(app.kb)
    gc.freeze()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(app, reuse_port=reuse_port))


def _on_signals(stop: asyncio.Event) -> None:
    """The first SIGTERM or SIGINT sets `stop` (only the main thread can take signals; the demo's server runs in
    another and is stopped by its chat)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def run_workers(n: int, settings) -> int:
    """Start `n` server processes on one port and database, keep them running, stop them on SIGTERM/SIGINT."""
    if settings.db_url.startswith("sqlite"):
        log.warning("several workers on SQLite take turns writing; use PostgreSQL (DATABASE_URL) to scale out")
    env = dict(os.environ)
    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir.resolve()))
    command = [sys.executable, "-m", "bot", "run", "--worker"]
    stopping = threading.Event()

    def on_signal(signum, _frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs = [subprocess.Popen(command, env=env) for _ in range(n)]
    log.info("started %d workers pids=%s", n, ",".join(str(p.pid) for p in procs))
    while not stopping.is_set():
        for i, p in enumerate(procs):
            if p.poll() is not None and not stopping.is_set():
                log.warning("worker pid=%d exited with %s, starting another", p.pid, p.returncode)
                time.sleep(RESTART_DELAY)
                procs[i] = subprocess.Popen(command, env=env)
        stopping.wait(0.5)
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
    codes = [p.wait() for p in procs]
    log.info("workers stopped codes=%s", codes)
    return 0 if all(c == 0 for c in codes) else 1
