"""What every channel fed through the inbox shares; each adapter adds its API, its webhook and its rendering
(Telegram in bot/telegram.py, Zalo in channels/zalo/).

- `split_message`: a long text in parts at the channel's limit, cut at line ends (Telegram 4,096, Zalo 2,000).
- `read_json`: a webhook's body and the JSON object in it, or what is wrong with it (never its content).
- `InboxChannel`: an update is stored in the inbox before it is acknowledged (`store`, `acknowledge`); the
  dispatcher hands it back to the adapter's `_handle`, whose turn writes the replies into the outbox in the
  turn's transaction and delivers them at once (`turn`, `deliver`); an update that failed for good is answered
  once with SORRY; the files a waiting form asks for are downloaded through the adapter's `download` after the
  same checks on every channel (`with_files`); the API is reached in the background with backoff while the app
  serves (`keep_connecting`, `status`, `connected`); `listeners` are told each update id once it is handled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import inbox, metrics
from bot.app import App
from bot.dispatch import Dispatcher, Route
from feedback import attachments as feedback_files
from feedback import outbox
from feedback.validate import InvalidField
from handlers.conversation import Conversations
from handlers.core import FILE_KINDS, Attachment, Incoming
from handlers.store import aware

log = logging.getLogger(__name__)

SORRY = "Xin lỗi, hệ thống đang gặp sự cố. Bạn vui lòng thử lại sau ít phút."
RECONNECT_MAX = 60.0
BLOCKED_TRIES, BLOCKED_WAIT = 40, 0.05  # a reply behind a message being sent waits up to 2 s, then the worker's


def utf16_len(text: str) -> int:
    """Message length as Telegram and Zalo's clients count it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` UTF-16 units, cut at line ends; a longer line is cut at a space."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while utf16_len(line) > limit:
            cut = _cut(line, limit)
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if current and utf16_len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip() or not chunks:
        chunks.append(current)
    return [c if c.strip() else "…" for c in chunks]


def _cut(line: str, limit: int) -> int:
    """The longest prefix within `limit` UTF-16 units, ending at a space when one is near."""
    n = 0
    end = 0
    for i, ch in enumerate(line):
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > limit:
            break
        end = i + 1
    space = line.rfind(" ", 0, end)
    return space if space > end // 2 else end


async def read_json(request: web.Request) -> tuple[bytes, dict | None, str]:
    """The posted body and the JSON object in it, or None and what is wrong (never the content)."""
    try:
        body = await request.read()  # at most the app's client_max_size (1 MB)
    except web.HTTPRequestEntityTooLarge:
        return b"", None, "body too large"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, a 5,000-digit number; deep nesting
        return body, None, f"not JSON ({type(e).__name__})"
    if not isinstance(data, dict):
        return body, None, f"not an object ({type(data).__name__})"
    return body, data, ""


class InboxChannel:
    """The shared half of a channel adapter. A subclass sets `name` (the channel as the inbox and the outbox name
    it), `transient` (its API's errors that may pass: the update is tried again) and `download_errors`, and
    implements `incoming_of` (a stored update as the dialog sees it), `_handle` (process one stored update: the
    dispatcher calls it), `send` (the outbox's sender) and, when forms take files there, `download`."""

    name = ""
    transient: tuple[type[BaseException], ...] = ()
    download_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, app: App, dispatcher: Dispatcher, outbox_wake: asyncio.Event | None = None):
        self.settings = app.settings
        self.factory = app.factory
        self.conversations: Conversations = app.conversations
        self.dispatcher = dispatcher
        self.outbox_wake = outbox_wake or asyncio.Event()  # the outbox worker looks at once
        self.status = "starting"  # up | down: shown by /healthz
        self.connected = asyncio.Event()  # set once the API answered
        self.listeners: list[Callable[[Any], Awaitable[None]]] = []  # told each update id once it is handled
        self._tasks: list[asyncio.Task] = []
        self.writer = inbox.Writer(self.factory, self.name)
        dispatcher.add(self.name, Route(self._handle, self._on_failure, transient=self.transient))

    def incoming_of(self, payload: dict) -> Incoming | None:
        raise NotImplementedError

    async def _handle(self, item: inbox.Claimed) -> bool:
        """Process a stored update; True when its turn marked it done (`turn`)."""
        raise NotImplementedError

    async def send(self, msg: outbox.Outgoing) -> None:
        raise NotImplementedError

    async def download(self, a: Attachment) -> Attachment:
        """The attachment with its bytes (`data`) fetched from the channel."""
        raise NotImplementedError

    # ---- connecting and stopping ----------------------------------------------------------------

    async def keep_connecting(self, connect: Callable[[], Awaitable[None]], errors: tuple[type[Exception], ...]):
        """Try `connect` until it succeeds: each failure shows the channel down and waits longer (1 s … 60 s)."""
        delay = 1.0
        while True:
            try:
                await connect()
                break
            except errors as e:
                self.status = "down"
                metrics.ERRORS.labels(f"{self.name}_connect").inc()
                log.warning("%s unreachable (%s), trying again in %.0f s", self.name, type(e).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
        self.status = "up"
        self.connected.set()

    async def stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- receiving: stored before acknowledged ---------------------------------------------------

    async def store(self, update_id: str, msg: Incoming | None, data: dict) -> None:
        """Keep an update in the inbox (`msg` None: not one the bot serves, dropped)."""
        if msg is None:
            log.info("%s update ignored update_id=%s", self.name, update_id)
            metrics.UPDATES.labels(self.name, "ignored").inc()
            return
        outcome = await self.writer.store(update_id, msg.user_id, msg.chat_id, data)
        metrics.UPDATES.labels(self.name, outcome).inc()
        if outcome == "new":
            self.dispatcher.wake.set()
        elif outcome == "skipped":
            log.info("%s update over the user's cap update_id=%s", self.name, update_id)
            self.outbox_wake.set()

    async def acknowledge(self, update_id: str, msg: Incoming | None, data: dict, received: float) -> web.Response:
        """A webhook's answer: 200 once the update is stored, 503 when it cannot be (the channel sends it again)."""
        try:
            await self.store(update_id, msg, data)
        except Exception as e:
            metrics.ERRORS.labels("inbox_store").inc()
            log.warning("%s webhook: update not stored (%s), answered 503", self.name, type(e).__name__)
            return web.Response(status=503)
        metrics.STAGE.labels(self.name, "store").observe(time.perf_counter() - received)
        return web.Response(status=200)

    # ---- processing (called by the dispatcher) ---------------------------------------------------

    async def turn(
        self, msg: Incoming, item: inbox.Claimed, wrap: Callable[[Awaitable], Awaitable] | None = None
    ) -> bool:
        """Process a stored message: the files a waiting form asks for fetched, the turn recorded (its replies
        written to the outbox and the update marked done with it) inside `wrap` when given (a typing indicator),
        the replies sent at once. False for an update handled before (the caller marks it done)."""
        if any(a.kind in FILE_KINDS for a in msg.attachments):
            msg = await self.with_files(msg)
        started = time.perf_counter()
        work = asyncio.to_thread(self.conversations.record, msg, lambda conn: inbox.finish_in(conn, item.id))
        recorded = await (wrap(work) if wrap is not None else work)
        metrics.STAGE.labels(self.name, "turn").observe(time.perf_counter() - started)
        if recorded is None:
            return False
        report = await self.deliver(recorded.ids, recorded.claimed)
        if recorded.ids and report.sent:
            waited = (inbox.utcnow() - aware(item.received_at)).total_seconds()
            metrics.STAGE.labels(self.name, "reply").observe(max(waited, 0.0))
        if report.retried:
            self.outbox_wake.set()
        return True

    async def told(self, update_id: Any) -> None:
        for listener in self.listeners:
            await listener(update_id)

    async def deliver(self, ids: list[int], claimed: list = ()) -> outbox.DeliveryReport:
        """Send a turn's replies now: those it `claimed` in its transaction, then the rest. A reply waiting behind
        an earlier message to the chat that another task is sending (a notification) is tried again shortly; what
        the API refuses stays in the outbox for the worker."""
        total = await outbox.send_claimed(self.factory, self.send, claimed)
        taken = {row.id for row in claimed}
        left = [i for i in ids if i not in taken]
        sent = 0
        for _ in range(BLOCKED_TRIES if left and not (total.retried or total.failed) else 0):
            report = await outbox.deliver(self.factory, self.send, only=left)
            sent += report.sent
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            if report.retried or report.failed or sent >= len(left):
                break
            if not report.sent and not await asyncio.to_thread(outbox.unsent, self.factory, left):
                break  # another process or the worker sent them
            await asyncio.sleep(BLOCKED_WAIT)
        return total

    async def _on_failure(self, item: inbox.Claimed) -> None:
        """An update that failed for good: say so to the user (once, through the outbox)."""
        msg = self.incoming_of(item.payload)
        if msg is None:
            return
        key = f"sorry:{self.name}:{item.update_id}"

        def enqueue() -> int | None:
            with self.factory.begin() as s:
                if outbox.has_key(s, key):
                    return None
                now = inbox.utcnow()
                return outbox.enqueue(s, channel=self.name, chat_id=msg.chat_id, text=SORRY, key=key, now=now)

        queued = await asyncio.to_thread(enqueue)
        await self.deliver([queued] if queued else [])

    async def with_files(self, msg: Incoming) -> Incoming:
        """Download the photos and documents a waiting form asks for; a file refused by its name or size
        is not downloaded (the dialog tells why), nor is any file when no form wants one."""
        state = await asyncio.to_thread(self.conversations.state, msg.channel, msg.user_id)
        if not (state.form or {}).get("files"):
            return msg
        fetched = []
        for a in msg.attachments:
            if a.kind in FILE_KINDS:
                try:
                    feedback_files.check(a.name or None, a.size or None)
                    a = await self.download(a)
                except InvalidField:
                    pass
                except self.download_errors as e:
                    log.info("file download failed %s chat=%s error=%s", self.name, msg.chat_id, type(e).__name__)
            fetched.append(a)
        return dataclasses.replace(msg, attachments=tuple(fetched))
