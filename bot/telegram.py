"""The Telegram channel (python-telegram-bot 22): updates become `Incoming`, `Reply` values become
messages with inline keyboards.

Long polling by default; with TELEGRAM_MODE=webhook, Telegram posts to a route of the app's own aiohttp
server (bot/web.py), which checks X-Telegram-Bot-Api-Secret-Token before anything is read. Texts are
sent in HTML parse mode with everything escaped, split on line boundaries at Telegram's 4,096-character
limit. Only private chats are served. Logs carry ids, never message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import html
import json
import logging
import traceback
from collections.abc import Sequence

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
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import App
from bot.logs import Throttled
from feedback import attachments as feedback_files
from feedback.outbox import PermanentFailure
from feedback.validate import InvalidField
from handlers.conversation import Conversations
from handlers.core import FILE_KINDS, Attachment, Button, Incoming, Reply, layout
from handlers.texts import COMMANDS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 seconds
SORRY = "Xin lỗi, hệ thống đang gặp sự cố. Bạn vui lòng thử lại sau ít phút."
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
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
        return Incoming(CHANNEL, str(user.id), str(chat.id), payload=q.data or "", message_id=f"cb:{q.id}")
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


class TelegramChannel:
    def __init__(self, app: App):
        self.settings = app.settings
        self.conversations: Conversations = app.conversations
        self.outbox_wake = asyncio.Event()  # set after each update: the outbox worker looks at once
        self.webhook_mode = self.settings.telegram_mode == "webhook"
        # Anyone can post to the webhook: warnings about a missing or wrong secret are rate-limited.
        self.webhook_warnings = Throttled(log, interval=60.0)
        self.webhook_url = self.settings.telegram_webhook_url() if self.webhook_mode else ""
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_bot_token)
            .base_url(self.settings.telegram_api_base_url)
            .base_file_url(file_base_url(self.settings.telegram_api_base_url))
            .concurrent_updates(32)  # one user's messages keep their order through Conversations
        )
        if self.webhook_mode:
            builder = builder.updater(None)
        self.application: Application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    @property
    def bot(self):
        return self.application.bot

    async def start(self) -> None:
        await self.application.initialize()
        await self.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS.items()])
        if self.webhook_mode:
            await self.bot.set_webhook(
                self.webhook_url, secret_token=self.settings.telegram_webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await self.application.start()
        log.info("telegram started mode=%s bot_id=%s", self.settings.telegram_mode, self.bot.id)

    async def stop(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        log.info("telegram stopped")

    # ---- webhook -----------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: the secret header first, then the update goes to the application's queue.
        A body that is not an update gets 400 and one line (no traceback, nothing of the body)."""
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            self.webhook_warnings.warning("telegram webhook without secret header from=%s", request.remote)
            return web.Response(status=401)
        given_bytes = given.encode(errors="surrogateescape")  # a header that is not UTF-8 is wrong, not a 500
        if not hmac.compare_digest(given_bytes, self.settings.telegram_webhook_secret.encode()):
            self.webhook_warnings.warning("telegram webhook with a wrong secret from=%s", request.remote)
            return web.Response(status=403)
        update, problem = await self._read_update(request, self.bot)
        if update is None:
            log.warning("telegram webhook bad update: %s", problem)
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    @staticmethod
    async def _read_update(request: web.Request, bot) -> tuple[Update | None, str]:
        """The posted update, or None and what is wrong with the body (never its content)."""
        try:
            body = await request.read()  # at most the app's client_max_size (1 MB)
        except web.HTTPRequestEntityTooLarge:
            return None, "body too large"
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, a 5,000-digit number; deep nesting
            return None, f"not JSON ({type(e).__name__})"
        if not isinstance(data, dict):
            return None, f"not an object ({type(data).__name__})"
        if type(data.get("update_id")) is not int:  # de_json takes "a", 1.5 or true as an update_id
            return None, "no integer update_id"
        try:
            return Update.de_json(data, bot), ""
        except Exception as e:  # de_json raises TypeError, ValueError, AttributeError, OverflowError, RecursionError…
            return None, f"not an update ({type(e).__name__})"

    # ---- updates -----------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = incoming(update)
        if msg is None:
            log.info("telegram update ignored update_id=%s", update.update_id)
            return
        # The user's turn is taken before the first await, and held while the replies go out, so two
        # quick messages are answered in the order they were sent.
        async with self.conversations.ordered(msg):
            if any(a.kind in FILE_KINDS for a in msg.attachments):
                msg = await self._fetch_files(msg)
            query = update.callback_query
            if query is not None:
                work = asyncio.ensure_future(self.conversations.run(msg))
                try:
                    await query.answer()
                except TelegramError as e:
                    log.info("callback answer failed update_id=%s error=%s", update.update_id, type(e).__name__)
                replies = await work
            else:
                replies = await self._with_typing(int(msg.chat_id), self.conversations.run(msg))
            edit = query.message if query is not None and isinstance(query.message, Message) else None
            for reply in replies:
                await self.send(int(msg.chat_id), reply, edit if reply.replace else None)
        self.outbox_wake.set()

    async def _fetch_files(self, msg: Incoming) -> Incoming:
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
                    f = await self.bot.get_file(a.ref)
                    a = dataclasses.replace(a, data=bytes(await f.download_as_bytearray()))
                except InvalidField:
                    pass
                except TelegramError as e:
                    log.info("file download failed chat=%s error=%s", msg.chat_id, type(e).__name__)
            fetched.append(a)
        return dataclasses.replace(msg, attachments=tuple(fetched))

    async def send_plain(self, chat_id: str, text: str, buttons: Sequence[tuple[str, str]] = ()) -> None:
        """The outbox's sender: plain text (no parse mode), split at Telegram's limit, `buttons` (label,
        payload) as an inline keyboard under the last part. A blocked bot or a chat that is gone is a
        PermanentFailure; anything else is raised, to be retried."""
        markup = keyboard(Reply(text, tuple(Button(label, payload, group="notice") for label, payload in buttons)))
        chunks = split_message(text)
        try:
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                await self.bot.send_message(
                    int(chat_id), chunk, link_preview_options=NO_PREVIEW, reply_markup=markup if last else None
                )
        except Forbidden as e:
            raise PermanentFailure(f"telegram: {type(e).__name__}") from None
        except BadRequest as e:
            if "chat not found" in str(e).lower() or "user is deactivated" in str(e).lower():
                raise PermanentFailure(f"telegram: {type(e).__name__}") from None
            raise

    async def _with_typing(self, chat_id: int, work):
        """Run `work` while the chat shows "typing…": sent at once, renewed while work takes longer."""
        task = asyncio.ensure_future(work)
        first = asyncio.ensure_future(self._typing(chat_id))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=TYPING_EVERY)
                if not task.done():
                    await self._typing(chat_id)
            await first  # never let "typing…" arrive after the answer
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as e:
            log.info("typing action failed chat=%s error=%s", chat_id, type(e).__name__)

    async def send(self, chat_id: int, reply: Reply, edit: Message | None = None) -> None:
        chunks = split_message(reply.text)
        markup = keyboard(reply)
        if edit is not None and len(chunks) == 1:
            try:
                await edit.edit_text(
                    html.escape(chunks[0], quote=False),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                )
                return
            except BadRequest as e:
                if "not modified" in str(e).lower():
                    return
                log.info("edit failed, sending anew chat=%s error=%s", chat_id, type(e).__name__)
        for i, chunk in enumerate(chunks):
            await self.bot.send_message(
                chat_id,
                html.escape(chunk, quote=False),
                parse_mode=ParseMode.HTML,
                reply_markup=markup if i == len(chunks) - 1 else None,
                link_preview_options=NO_PREVIEW,
            )

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        err = context.error
        update_id = update.update_id if isinstance(update, Update) else "-"
        # The traceback without the exception's message: a database error's message carries its parameters.
        where = "".join(traceback.format_tb(err.__traceback__)) if err is not None else ""
        log.error("telegram update failed update_id=%s error=%s\n%s", update_id, type(err).__name__, where)
        if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
            with contextlib.suppress(TelegramError):
                await self.bot.send_message(update.effective_chat.id, SORRY)
