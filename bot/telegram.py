"""The Telegram channel (python-telegram-bot 22's Bot API client): updates become `Incoming`, `Reply` values
become messages with inline keyboards.

Nothing is acknowledged before it is stored: a webhook update is put in the inbox (bot/inbox.py) before the
200, a polled batch before the next `getUpdates` offset confirms it. The dispatcher (bot/dispatch.py) hands
stored updates back here to be processed; the replies go through the outbox (feedback/outbox.py), part by
part, honouring Telegram's `retry_after`. Long polling by default, by one process at a time (a lease in the
database); with TELEGRAM_MODE=webhook, Telegram posts to a route of the app's own aiohttp server (bot/web.py),
which checks X-Telegram-Bot-Api-Secret-Token before anything is read.

When the Bot API cannot be reached at start, the app serves anyway (`/healthz` shows the channel down) and
keeps trying with backoff; what every inbox-fed channel does alike lives in channels/base.py. Texts are sent in
HTML parse mode with everything escaped, split on line boundaries at Telegram's 4,096-character limit. Only
private chats are served. Logs carry ids, never text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import html
import logging
import time
import warnings
from datetime import timedelta

from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot import inbox, leases, metrics
from bot.app import App
from bot.dispatch import Dispatcher
from bot.logs import Throttled
from bot.tg_request import AiohttpRequest
from channels.base import RECONNECT_MAX, InboxChannel, read_json, split_message
from feedback import outbox
from handlers.core import Attachment, Incoming, Reply, layout, stored_reply
from handlers.texts import COMMANDS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TYPING_AFTER = 0.5  # seconds a turn may take before the chat shows "typing…"
TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 seconds
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits
POLL_LEASE = timedelta(seconds=60)  # who polls: renewed after every long poll
SEND_TIMEOUT = 30.0  # a send answered late is waited for, so an accepted message is recorded, not repeated


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = []
    urls = {b.url for b in reply.buttons if b.url}
    extra = [u for u in reply.links if u not in urls]
    for row in layout(reply.buttons):
        keys = []
        for b in row:
            if b.url:
                if b.url.startswith(("https://", "http://")):
                    keys.append(InlineKeyboardButton(b.label[:64], url=b.url))
            elif b.payload and len(b.payload.encode()) <= 64:
                keys.append(InlineKeyboardButton(b.label[:64] or "•", callback_data=b.payload))
        if keys:
            rows.append(keys)
    rows.extend([InlineKeyboardButton("Mở liên kết", url=u)] for u in extra if u.startswith(("https://", "http://")))
    return InlineKeyboardMarkup(rows) if rows else None


def attachments(m: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if m.photo:
        big = m.photo[-1]
        found.append(Attachment("photo", big.file_id, "", big.file_size or 0))
    if m.document:
        found.append(Attachment("document", m.document.file_id, m.document.file_name or "", m.document.file_size or 0))
    for kind in ("sticker", "voice", "video", "video_note", "audio", "animation"):
        media = getattr(m, kind)
        if media is not None:
            found.append(Attachment(kind, media.file_id))
    if m.location or m.venue:
        found.append(Attachment("location"))
    if m.contact:
        found.append(Attachment("contact"))
    return tuple(found)


def incoming(update: Update) -> Incoming | None:
    """The update as the dialog sees it, or None for what the bot does not serve."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE or user.is_bot:
        return None
    if update.callback_query is not None:
        q = update.callback_query
        pressed = str(q.message.message_id) if isinstance(q.message, Message) else ""
        return Incoming(
            CHANNEL, str(user.id), str(chat.id), payload=q.data or "", message_id=f"cb:{q.id}", acted_on=pressed
        )
    m = update.message
    if m is None:
        return None
    return Incoming(
        CHANNEL,
        str(user.id),
        str(chat.id),
        text=m.text or m.caption or "",
        message_id=f"m:{chat.id}:{m.message_id}",
        attachments=attachments(m),
    )


def file_base_url(api_base_url: str) -> str:
    """Where files are downloaded: https://api.telegram.org/bot → https://api.telegram.org/file/bot."""
    head, sep, tail = api_base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else api_base_url


class TelegramChannel(InboxChannel):
    name = CHANNEL
    transient = (NetworkError,)
    download_errors = (TelegramError,)

    def __init__(self, app: App, dispatcher: Dispatcher, outbox_wake: asyncio.Event | None = None):
        super().__init__(app, dispatcher, outbox_wake)
        self.webhook_mode = self.settings.telegram_mode == "webhook"
        # Anyone can post to the webhook: warnings about a missing or wrong secret are rate-limited.
        self.webhook_warnings = Throttled(log, interval=60.0)
        self.webhook_url = self.settings.telegram_webhook_url() if self.webhook_mode else ""
        rate = self.settings.telegram_send_rate
        self.bot = ExtBot(
            self.settings.telegram_bot_token,
            base_url=self.settings.telegram_api_base_url,
            base_file_url=file_base_url(self.settings.telegram_api_base_url),
            request=AiohttpRequest(connections=64, read_timeout=SEND_TIMEOUT, pool_timeout=10.0),
            get_updates_request=AiohttpRequest(connections=1, read_timeout=POLL_TIMEOUT + 10.0),
            rate_limiter=AIORateLimiter(overall_max_rate=rate, max_retries=0) if rate else None,
        )

    # ---- start and stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: the app serves meanwhile, and keeps trying while the API is down."""
        self._tasks.append(asyncio.create_task(self._connect()))

    async def _connect(self) -> None:
        await self.keep_connecting(self._register, (TelegramError,))
        log.info("telegram started mode=%s bot_id=%s", self.settings.telegram_mode, self.bot.id)
        if not self.webhook_mode:
            await self._poll()

    async def _register(self) -> None:
        await self.bot.initialize()
        await self.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS.items()])
        if self.webhook_mode:
            await self.bot.set_webhook(
                self.webhook_url,
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await self.bot.delete_webhook()

    async def stop(self) -> None:
        await self.stop_tasks()
        if not self.webhook_mode:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(leases.release, self.factory, self._poll_lease, inbox.HOLDER)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()
        log.info("telegram stopped")

    @property
    def _poll_lease(self) -> str:
        return f"telegram-poll:{self.bot.token.split(':')[0]}"

    # ---- receiving: stored before acknowledged ---------------------------------------------------

    async def _poll(self) -> None:
        """Long polling by the process holding the lease. A batch is stored before the next call's offset
        confirms it to Telegram; when it cannot be stored, the same offset asks for it again."""
        offset: int | None = None
        delay = 1.0
        while True:
            if not await asyncio.to_thread(leases.acquire, self.factory, self._poll_lease, inbox.HOLDER, POLL_LEASE):
                await asyncio.sleep(POLL_TIMEOUT)  # another process polls; take over if it stops
                continue
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
                await asyncio.gather(  # one batch; in order, as each call joins the writer's queue at once
                    *(self.store(str(u.update_id), incoming(u), u.to_dict()) for u in updates)
                )
            except RetryAfter as e:
                await asyncio.sleep(_seconds(e))
                continue
            except Exception as e:  # the API or the database is unreachable: back off, then ask again
                if isinstance(e, NetworkError):
                    self.status = "down"
                metrics.ERRORS.labels("telegram_poll").inc()
                log.warning("telegram polling failed (%s), again in %.0f s", type(e).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            self.status = "up"
            delay = 1.0
            if updates:
                offset = updates[-1].update_id + 1

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: the secret header first, then the update is stored and only then answered 200
        (503 when it cannot be stored: Telegram sends it again). A body that is not an update gets 400 and one
        line (no traceback, nothing of the body)."""
        received = time.perf_counter()
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            self.webhook_warnings.warning("telegram webhook without secret header from=%s", request.remote)
            return web.Response(status=401)
        given_bytes = given.encode(errors="surrogateescape")  # a header that is not UTF-8 is wrong, not a 500
        if not hmac.compare_digest(given_bytes, self.settings.telegram_webhook_secret.encode()):
            self.webhook_warnings.warning("telegram webhook with a wrong secret from=%s", request.remote)
            return web.Response(status=403)
        update, data, problem = await self._read_update(request, self.bot)
        if update is None:
            log.warning("telegram webhook bad update: %s", problem)
            return web.Response(status=400)
        return await self.acknowledge(str(update.update_id), incoming(update), data, received)

    @staticmethod
    async def _read_update(request: web.Request, bot) -> tuple[Update | None, dict, str]:
        """The posted update and its data, or None and what is wrong with the body (never its content)."""
        _, data, problem = await read_json(request)
        if data is None:
            return None, {}, problem
        if type(data.get("update_id")) is not int:  # de_json takes "a", 1.5 or true as an update_id
            return None, {}, "no integer update_id"
        try:
            return Update.de_json(data, bot), data, ""
        except Exception as e:  # de_json raises TypeError, ValueError, AttributeError, OverflowError, RecursionError…
            return None, {}, f"not an update ({type(e).__name__})"

    # ---- processing (called by the dispatcher) ---------------------------------------------------

    def incoming_of(self, payload: dict) -> Incoming | None:
        return incoming(Update.de_json(payload, self.bot))

    async def _handle(self, item: inbox.Claimed) -> bool:
        update = Update.de_json(item.payload, self.bot)
        msg = incoming(update)
        done = False
        if msg is not None:
            query = update.callback_query
            if query is not None:
                done = await self.turn(msg, item, lambda work: self._answering(query.id, work))
            else:
                done = await self.turn(msg, item, lambda work: self._with_typing(int(msg.chat_id), work))
        await self.told(update.update_id)
        return done

    async def _answering(self, query_id: str, work):
        """Run `work` while the button press is answered (Telegram stops the button's spinner)."""
        answered = asyncio.ensure_future(self._answer(query_id))
        try:
            return await work
        finally:
            await answered

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as e:
            log.info("callback answer failed error=%s", type(e).__name__)

    async def download(self, a: Attachment) -> Attachment:
        f = await self.bot.get_file(a.ref)
        return dataclasses.replace(a, data=bytes(await f.download_as_bytearray()))

    async def _with_typing(self, chat_id: int, work):
        """Run `work`; when it takes longer than TYPING_AFTER, the chat shows "typing…", renewed while it lasts
        (a quick answer needs none: one request less for each message)."""
        task = asyncio.ensure_future(work)
        try:
            wait = TYPING_AFTER
            while not task.done():
                await asyncio.wait({task}, timeout=wait)
                if not task.done():
                    await self._typing(chat_id)  # awaited: "typing…" never arrives after the answer
                wait = TYPING_EVERY
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as e:
            log.info("typing action failed chat=%s error=%s", chat_id, type(e).__name__)

    # ---- sending (the outbox's sender) ---------------------------------------------------------

    async def send(self, msg: outbox.Outgoing) -> None:
        """Send an outbox message: the parts not yet accepted, each recorded as it is; a reply to a button
        press replaces the pressed message when it fits in one. Telegram's 429 → RetryLater; a blocked bot, a
        chat that is gone or a request Telegram refuses → PermanentFailure; anything else is raised."""
        reply, edit = stored_reply(msg.text, msg.reply, msg.buttons)
        chunks = split_message(reply.text, MessageLimit.MAX_TEXT_LENGTH)
        markup = keyboard(reply)
        chat_id = int(msg.chat_id)
        started = time.perf_counter()
        try:
            if (
                edit
                and len(chunks) == 1
                and msg.parts_sent == 0
                and await self._edit(chat_id, int(edit), chunks[0], markup)
            ):
                await msg.part_accepted(1, edit, last=True)
                return
            rich = msg.reply is not None  # a dialog reply in HTML mode (escaped); a notification in plain text
            for i in range(msg.parts_sent, len(chunks)):
                sent = await self.bot.send_message(
                    chat_id,
                    html.escape(chunks[i], quote=False) if rich else chunks[i],
                    parse_mode=ParseMode.HTML if rich else None,
                    reply_markup=markup if i == len(chunks) - 1 else None,
                    link_preview_options=NO_PREVIEW,
                )
                metrics.SENT.labels(CHANNEL).inc()
                await msg.part_accepted(i + 1, str(sent.message_id), last=i == len(chunks) - 1)
        except RetryAfter as e:
            metrics.ERRORS.labels("telegram_429").inc()
            raise outbox.RetryLater(_seconds(e)) from None
        except (Forbidden, BadRequest) as e:
            raise outbox.PermanentFailure(f"telegram: {type(e).__name__}: {e}") from None
        finally:
            metrics.STAGE.labels(CHANNEL, "send").observe(time.perf_counter() - started)

    async def _edit(self, chat_id: int, message_id: int, text: str, markup) -> bool:
        """Replace the pressed message; False when it cannot be edited (then the reply is sent anew)."""
        try:
            await self.bot.edit_message_text(
                html.escape(text, quote=False),
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as e:
            if "not modified" in str(e).lower():
                return True
            log.info("edit failed, sending anew chat=%s error=%s", chat_id, type(e).__name__)
            return False
        return True


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta: both are handled
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
