"""The Zalo Official Account channel: Zalo posts events to a route of the app's aiohttp server (bot/web.py); the
replies go out as the OA's customer-service messages (`POST /v3.0/oa/message/cs`, header `access_token`).

Receiving. `X-ZEvent-Signature` must be `mac=` + hex SHA-256 of app id + raw body + the body's `timestamp` + the
OA secret key (a plain hash of the concatenation, not an HMAC), compared in constant time: a missing signature is
answered 401, a wrong one or an event more than 5 minutes from now 403, and nothing of it is processed. A signed
event is stored in the inbox under its `message.msg_id` (a redelivery is recognised) and answered 200 at once; the
dispatcher processes it (Zalo retries slow webhooks). Served: user_send_text, user_send_image, user_send_file,
user_send_sticker, follow (the welcome, as /start); unfollow, the OA's own echoes (oa_send_*) and other events are
answered 200 and dropped.

Sending. Text is cut at Zalo's 2,000 characters (a longer text is refused, not cut), each part recorded in the
outbox as Zalo accepts it. Up to 5 buttons go under the last part as `oa.query.show` buttons (a link as
`oa.open.url`); more are listed in the text with numbers, as the terminal chat shows them, and typing a number
presses that one (the numbers are kept per user, `zalo_choices`). A `query.show` button makes the user send its
payload as a text, `<label> #<dialog payload>`, which presses the button again here; the dialog takes a typed label
as a press too. Zalo cannot edit a message: a page of a list comes as a new message.

Errors are read from the body's `error`: -216/-124 (token invalid or expired) refresh the token and the call is
made once more (channels/zalo/tokens.py); -230/-213/-201 (outside the window Zalo allows replies in, not
following, refused) → `PermanentFailure`, shown on the staff's item page with the citizen's other contacts; -32
(rate limit) → `RetryLater`; anything else is retried with the outbox's backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import inbox, metrics
from bot.app import App
from bot.console import render as numbered
from bot.dispatch import Dispatcher
from bot.logs import Throttled
from channels.base import InboxChannel, read_json, split_message
from channels.zalo.client import ZaloClient, ZaloError, ZaloUnavailable
from channels.zalo.tables import choices
from channels.zalo.tokens import MissingTokens, Tokens
from feedback import attachments as feedback_files
from feedback import outbox
from handlers.core import Attachment, Button, Incoming, Reply, stored_reply
from handlers.dialog import PAYLOAD

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_SKEW = timedelta(minutes=5)
USER_EVENTS = frozenset({"user_send_text", "user_send_image", "user_send_file", "user_send_sticker"})
TEXT_LIMIT = 2000  # Zalo refuses a longer text
MAX_BUTTONS = 5  # buttons under one message; more are listed with numbers
TITLE_LIMIT = 100  # a button's title
LINK_LABEL = "Mở liên kết"
NUMBER_HINT = "Gõ số trong ngoặc [ ] để chọn."
UNDELIVERABLE = {  # shown to staff on the item page
    -230: "người dân không tương tác với OA trong thời gian Zalo cho phép gửi tin tư vấn",
    -213: "người dân chưa quan tâm hoặc đã bỏ quan tâm OA",
    -201: "Zalo từ chối tin nhắn (người nhận không hợp lệ)",
}
RATE_LIMITED = frozenset({-32})
RATE_WAIT = 60.0  # seconds: Zalo does not say how long
ATTACHMENT_KINDS = {"image": "photo", "file": "document", "sticker": "sticker", "gif": "animation",
                    "video": "video", "audio": "voice", "location": "location"}  # fmt: skip
PRESSED = re.compile(rf"(?:^|\s)#({PAYLOAD.pattern})$")  # a query.show button's text: "<label> #<payload>"


def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The `X-ZEvent-Signature` Zalo sends with an event."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return f"mac={digest}"


def _id(obj: Any) -> str:
    value = obj.get("id") if isinstance(obj, dict) else None
    return str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else ""


def update_id(event: dict) -> str:
    """The event's id in the inbox: the message's msg_id; a follow has none, its follower and time stand in."""
    if event.get("event_name") == "follow":
        return f"follow:{_id(event.get('follower'))}:{event.get('timestamp')}"[:64]
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    return str(message.get("msg_id") or event.get("event_name") or "?")[:64]


def attachments(message: dict) -> tuple[Attachment, ...]:
    found = []
    for a in message.get("attachments") or []:
        if not isinstance(a, dict):
            continue
        payload = a.get("payload") if isinstance(a.get("payload"), dict) else {}
        kind = ATTACHMENT_KINDS.get(str(a.get("type")), "other")
        url = str(payload.get("url") or "")
        name = str(payload.get("name") or "")
        size = str(payload.get("size") or "0")
        found.append(Attachment(kind, url, name, int(size) if size.isdigit() else 0))
    return tuple(found)


def incoming(event: dict) -> Incoming | None:
    """The event as the dialog sees it, or None for what the bot does not serve."""
    name = event.get("event_name")
    if name == "follow":
        user = _id(event.get("follower"))
        return Incoming(CHANNEL, user, user, text="/start", message_id=update_id(event)) if user else None
    message = event.get("message")
    if name not in USER_EVENTS or not isinstance(message, dict) or not message.get("msg_id"):
        return None
    user = _id(event.get("sender"))
    if not user:
        return None
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    pressed = PRESSED.search(text.strip())
    if pressed:
        return Incoming(CHANNEL, user, user, payload=pressed.group(1), message_id=update_id(event))
    return Incoming(CHANNEL, user, user, text=text, message_id=update_id(event), attachments=attachments(message))


@dataclass
class View:
    """A reply as Zalo shows it: the text (numbered choices included), the buttons, what a typed number presses."""

    text: str
    buttons: list[dict]
    numbers: dict[str, str]


def _button(b: Button) -> dict:
    title = b.label[:TITLE_LIMIT] or "•"
    if b.url:
        return {"title": title, "type": "oa.open.url", "payload": {"url": b.url}}
    return {"title": title, "type": "oa.query.show", "payload": f"{title} #{b.payload}"}


def render(reply: Reply) -> View:
    web_links = ("https://", "http://")
    items = [b for b in reply.buttons if (b.url.startswith(web_links) if b.url else b.payload)]
    urls = {b.url for b in items}
    items += [Button(LINK_LABEL, url=u) for u in reply.links if u not in urls and u.startswith(web_links)]
    shown, rest = items[:MAX_BUTTONS], items[MAX_BUTTONS:]
    choices_ = [b for b in rest if not b.url]
    first = MAX_BUTTONS + 1
    text = numbered(Reply(reply.text, tuple(choices_)), first)
    links = [f"{b.label}: {b.url}" for b in rest if b.url]
    if links:
        text += "\n" + "\n".join(links)
    if choices_:
        text += "\n" + NUMBER_HINT
    numbers = {str(n): b.payload for n, b in enumerate(choices_, first)}
    return View(text, [_button(b) for b in shown], numbers)


class ZaloChannel(InboxChannel):
    name = CHANNEL
    transient = (aiohttp.ClientError, ZaloUnavailable)
    download_errors = (aiohttp.ClientError, TimeoutError, ZaloUnavailable)

    def __init__(self, app: App, dispatcher: Dispatcher, outbox_wake: asyncio.Event | None = None):
        super().__init__(app, dispatcher, outbox_wake)
        s = self.settings
        s.check_zalo()
        self.app_id = s.zalo_app_id
        self.client = ZaloClient(s.zalo_api_base_url, s.zalo_oauth_base_url, s.zalo_app_id, s.zalo_app_secret)
        self.tokens = Tokens(self.factory, self.client, s.zalo_access_token, s.zalo_refresh_token)
        self.webhook_path = s.zalo_webhook_path
        # Anyone can post to the webhook: warnings about a refused event are rate-limited.
        self.webhook_warnings = Throttled(log, interval=60.0)

    # ---- start and stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Check in the background that the API answers and the token works: the app serves meanwhile (events
        are stored), and keeps trying while Zalo cannot be reached."""
        self._tasks.append(asyncio.create_task(self._connect()))

    async def _connect(self) -> None:
        errors = (aiohttp.ClientError, TimeoutError, ZaloError, ZaloUnavailable, MissingTokens, SQLAlchemyError)
        await self.keep_connecting(lambda: self.tokens.call(self.client.oa_info), errors)
        log.info("zalo started app_id=%s", self.app_id)

    async def stop(self) -> None:
        await self.stop_tasks()
        await self.client.close()
        log.info("zalo stopped")

    # ---- receiving: stored before acknowledged ---------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST from Zalo: the signature and the time first, then the event is stored and only then answered
        200 (503 when it cannot be stored: Zalo sends it again)."""
        received = time.perf_counter()
        given = request.headers.get(SIGNATURE_HEADER)
        if given is None:
            self.webhook_warnings.warning("zalo webhook without signature from=%s", request.remote)
            return web.Response(status=401)
        body, event, problem = await read_json(request)
        if event is None or not self._signed(body, event, given):
            self.webhook_warnings.warning("zalo webhook with a wrong signature from=%s", request.remote)
            if problem:
                log.info("zalo webhook body: %s", problem)
            return web.Response(status=403)
        if not _recent(event.get("timestamp")):
            self.webhook_warnings.warning("zalo webhook event out of time from=%s", request.remote)
            return web.Response(status=403)
        return await self.acknowledge(update_id(event), incoming(event), event, received)

    def _signed(self, body: bytes, event: dict, given: str) -> bool:
        stamp = event.get("timestamp")
        if not isinstance(stamp, str | int) or isinstance(stamp, bool):
            return False
        expected = signature(self.app_id, body, str(stamp), self.settings.zalo_oa_secret_key)
        return hmac.compare_digest(given.encode(errors="surrogateescape"), expected.encode())

    # ---- processing (called by the dispatcher) ---------------------------------------------------

    def incoming_of(self, payload: dict) -> Incoming | None:
        return incoming(payload)

    async def _handle(self, item: inbox.Claimed) -> bool:
        msg = incoming(item.payload)
        done = False
        if msg is not None:
            if msg.text.strip().isdigit():
                msg = await self._picked(msg)
            done = await self.turn(msg, item)
        await self.told(item.update_id)
        return done

    async def _picked(self, msg: Incoming) -> Incoming:
        """A typed number of the numbered list shown last presses that choice."""
        numbers = await asyncio.to_thread(self._numbers, msg.user_id)
        payload = numbers.get(str(int(msg.text.strip())))
        return dataclasses.replace(msg, text="", payload=payload) if payload else msg

    def _numbers(self, user_id: str) -> dict[str, str]:
        with self.factory() as s:
            stored = s.scalar(select(choices.c.numbers).where(choices.c.user_id == user_id))
        return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def _remember(self, user_id: str, numbers: dict[str, str]) -> None:
        values = {"numbers": numbers, "updated_at": inbox.utcnow()}
        with self.factory.begin() as s:
            if s.execute(update(choices).where(choices.c.user_id == user_id).values(**values)).rowcount:
                return
        try:
            with self.factory.begin() as s:
                s.execute(insert(choices).values(user_id=user_id, **values))
        except IntegrityError:  # written meanwhile by another message to the same user
            pass

    async def download(self, a: Attachment) -> Attachment:
        data, size = await self.client.download(a.ref, feedback_files.MAX_BYTES)
        return dataclasses.replace(a, data=data, size=size)  # too large: no data, and the dialog says why

    # ---- sending (the outbox's sender) ---------------------------------------------------------

    async def send(self, msg: outbox.Outgoing) -> None:
        """Send an outbox message: the parts not yet accepted, each recorded as it is, the buttons under the
        last; then what its numbers press is kept for the user."""
        reply, _ = stored_reply(msg.text, msg.reply, msg.buttons)  # Zalo cannot edit: a page comes anew
        view = render(reply)
        chunks = split_message(view.text, TEXT_LIMIT)
        started = time.perf_counter()
        try:
            for i in range(msg.parts_sent, len(chunks)):
                message: dict[str, Any] = {"text": chunks[i]}
                if i == len(chunks) - 1 and view.buttons:
                    message["attachment"] = {"type": "template", "payload": {"buttons": view.buttons}}
                remote = await self._send({"recipient": {"user_id": msg.chat_id}, "message": message})
                metrics.SENT.labels(CHANNEL).inc()
                await msg.part_accepted(i + 1, remote, last=i == len(chunks) - 1 and not view.buttons)
        finally:
            metrics.STAGE.labels(CHANNEL, "send").observe(time.perf_counter() - started)
        if view.buttons:
            await asyncio.to_thread(self._remember, msg.chat_id, view.numbers)

    async def _send(self, body: dict) -> str:
        try:
            remote = await self.tokens.call(lambda token: self.client.send(token, body))
        except ZaloError as e:
            if e.code in UNDELIVERABLE:
                raise outbox.PermanentFailure(f"Zalo {e.code}: {UNDELIVERABLE[e.code]}") from None
            if e.code in RATE_LIMITED:
                metrics.ERRORS.labels("zalo_rate_limit").inc()
                raise outbox.RetryLater(RATE_WAIT) from None
            raise
        except (aiohttp.ClientError, TimeoutError, ZaloUnavailable):
            self.status = "down"
            raise
        self.status = "up"
        return remote


def _recent(stamp: Any) -> bool:
    """Zalo's `timestamp` (milliseconds, a string or a number) is within MAX_SKEW of now."""
    text = str(stamp).strip() if isinstance(stamp, str | int) and not isinstance(stamp, bool) else ""
    if not text.isdigit():
        return False
    return abs(time.time() * 1000 - int(text)) <= MAX_SKEW.total_seconds() * 1000
