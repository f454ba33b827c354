"""The portal web chat: a page of the app (`GET /chat`) and a widget a portal embeds with one script tag
(`GET /widget.js`, its style `GET /widget.css`), both talking to a small API on the app's aiohttp server.

Session. The browser makes a random id (128 bits, hex) and keeps it in localStorage; it sends it in the
`X-Chat-Session` header (or `?session=` where a header cannot be set: EventSource). The server answers every
API call with an HttpOnly cookie holding the same id, which stands in when localStorage is unavailable
(private windows, storage blocked); the header or query wins over the cookie, and with neither the server
makes a new id and returns it. The id is the channel's `user_id` and `chat_id`.

Receiving. `POST /chat/api/messages` takes JSON `{"id", "text"}`, `{"id", "payload", "label"}` (a button) or
`{"start": true}` (the welcome), or a multipart form (`id`, `text`, `file`: the feedback form's upload). The
message is stored in the inbox (channel "webchat", update id = session + the client's message id, so a message
sent twice is processed once) before the 202; the dispatcher processes it as on every channel. The citizen's own
message goes into the session's log (`webchat_messages`) as plain text. At most RATE messages a minute per
session (counted in the database, for every process): more are answered 429 in Vietnamese.

Sending. The outbox's sender writes each reply into the session's log (once per outbox message) and wakes the
streams of this process; `GET /chat/api/events` (Server-Sent Events) reads the log after `Last-Event-ID` or
`?after=`, looking again every POLL seconds when not woken (a reply delivered by another process), and
`GET /chat/api/messages?after=N` serves browsers without EventSource.

Cross-origin use: only the app's own origin and those in WEBCHAT_ORIGINS may call the API from a browser
(credentials included); another origin is refused 403, preflight included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot import inbox, metrics
from bot.app import App
from bot.dispatch import Dispatcher
from channels.base import InboxChannel
from channels.webchat.tables import files, messages
from feedback import attachments as feedback_files
from feedback import outbox
from feedback.validate import InvalidField
from handlers.core import Attachment, Incoming, stored_reply

log = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC = Path(__file__).with_name("static")
SESSION_HEADER = "X-Chat-Session"
SESSION_COOKIE = "webchat_session"
SESSION = re.compile(r"[0-9a-f]{32}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,40}")
RATE = 20  # messages a session may send a minute
TEXT_MAX = 2000  # characters of a message
JSON_MAX = 16 * 1024  # bytes of a JSON body
POLL = 1.0  # seconds between looks at the log when no delivery in this process woke the stream
STREAM_MAX = 300.0  # seconds an event stream stays open; the browser reconnects and goes on after Last-Event-ID
HEARTBEAT = 15.0  # seconds between comments that keep proxies from closing an idle stream
BATCH = 100  # messages a poll returns at most
FILES_KEPT = timedelta(days=1)  # an upload the dialog has not taken by then is deleted
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

BAD_JSON = "Dữ liệu gửi lên không đúng định dạng JSON."
EMPTY = "Tin nhắn trống. Bạn hãy nhập câu hỏi."
TOO_LONG = f"Tin nhắn quá dài (tối đa {TEXT_MAX} ký tự)."
TOO_LARGE = "Dữ liệu gửi lên quá lớn."
TOO_FAST = "Bạn gửi nhanh quá. Vui lòng đợi một phút rồi gửi tiếp."
NOT_ALLOWED = "Trang này không được phép dùng hộp trò chuyện."
NOT_STORED = "Hệ thống chưa nhận được tin nhắn. Bạn vui lòng thử lại sau ít phút."


def _error(status: int, text: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=headers)


class Hub:
    """Wakes the event streams of this process when a reply was stored."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.closing = asyncio.Event()

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class Log:
    """The session logs as the dialog's data rights and the app's housekeeping reach them (`Transcript`): the
    citizen sees how many messages are kept and erases them with the rest of their data; the app's upkeep deletes
    those older than the conversation's memory (24 hours: CONTEXT_TTL)."""

    def count(self, conn: Connection, user_id: str) -> int:
        return int(conn.scalar(select(func.count()).where(messages.c.session_id == user_id)) or 0)

    def erase(self, conn: Connection, user_id: str) -> int:
        return conn.execute(delete(messages).where(messages.c.session_id == user_id)).rowcount

    def prune(self, conn: Connection, before: datetime) -> int:
        return conn.execute(delete(messages).where(messages.c.created_at < before)).rowcount


def message_json(row: Any) -> dict:
    return {"id": row.id, "from": row.sender, "text": row.text, "buttons": row.buttons}


def view(reply) -> tuple[str, list[dict]]:
    """A reply as the browser shows it: the text and its buttons (a link as a button with a URL)."""
    links = ("https://", "http://")
    buttons: list[dict] = []
    for b in reply.buttons:
        if b.url:
            if b.url.startswith(links):
                buttons.append({"label": b.label or b.url, "url": b.url})
        elif b.payload:
            buttons.append({"label": b.label or "•", "payload": b.payload})
    shown = {b.get("url") for b in buttons}
    buttons += [{"label": "Mở liên kết", "url": u} for u in reply.links if u.startswith(links) and u not in shown]
    return reply.text, buttons


def incoming(payload: dict) -> Incoming | None:
    """A stored message as the dialog sees it."""
    session = str(payload.get("session") or "")
    if not SESSION.fullmatch(session):
        return None
    attached = tuple(
        Attachment(str(f.get("kind")), str(f.get("ref") or ""), str(f.get("name") or ""), int(f.get("size") or 0))
        for f in payload.get("files") or []
        if isinstance(f, dict)
    )
    return Incoming(
        CHANNEL,
        session,
        session,
        text=str(payload.get("text") or ""),
        payload=str(payload.get("payload") or ""),
        message_id=str(payload.get("id") or ""),
        attachments=attached,
    )


class WebChatChannel(InboxChannel):
    name = CHANNEL
    download_errors = (LookupError,)

    def __init__(self, app: App, dispatcher: Dispatcher, outbox_wake: asyncio.Event | None = None):
        super().__init__(app, dispatcher, outbox_wake)
        app.conversations.transcripts[CHANNEL] = Log()
        self.hub = Hub()
        base = self.settings.public_base_url.rstrip("/")
        self.origins = {_origin(o) for o in self.settings.chat_origins} | ({_origin(base)} if base else set())

    async def start(self) -> None:
        self.status = "up"  # nothing to connect to: the browsers come here
        self.connected.set()

    async def stop(self) -> None:
        self.hub.closing.set()
        await self.stop_tasks()

    def routes(self, webapp: web.Application) -> None:
        webapp.router.add_get("/chat", self.page)
        webapp.router.add_get("/widget.js", self.static("widget.js", "application/javascript"))
        webapp.router.add_get("/widget.css", self.static("widget.css", "text/css"))
        webapp.router.add_route("OPTIONS", "/chat/api/{tail:.*}", self.preflight)
        webapp.router.add_post("/chat/api/messages", self.receive)
        webapp.router.add_get("/chat/api/messages", self.poll)
        webapp.router.add_get("/chat/api/events", self.events)
        webapp.on_shutdown.append(self._closing)

    async def _closing(self, _webapp: web.Application) -> None:
        self.hub.closing.set()

    # ---- pages ---------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        html = (STATIC / "chat.html").read_text(encoding="utf-8")
        headers = {
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        return web.Response(text=html, content_type="text/html", headers=headers)

    def static(self, name: str, content_type: str):
        body = (STATIC / name).read_bytes()

        async def serve(request: web.Request) -> web.Response:
            headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
            return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

        return serve

    # ---- origins and sessions ------------------------------------------------------------------

    def _allowed(self, request: web.Request) -> tuple[bool, dict]:
        """Whether the request's origin may use the API, and the CORS headers its answer carries."""
        origin = request.headers.get("Origin")
        if origin is None or origin == _origin(str(request.url.origin())):
            return True, {}
        if _origin(origin) in self.origins:
            return True, {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Expose-Headers": SESSION_HEADER,
                "Vary": "Origin",
            }
        return False, {"Vary": "Origin"}

    async def preflight(self, request: web.Request) -> web.Response:
        allowed, headers = self._allowed(request)
        if not allowed or "Access-Control-Allow-Origin" not in headers:
            return web.Response(status=403, headers=headers)
        headers |= {
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": f"Content-Type, {SESSION_HEADER}, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        }
        return web.Response(status=204, headers=headers)

    def _session(self, request: web.Request) -> str:
        for given in (
            request.headers.get(SESSION_HEADER),
            request.query.get("session"),
            request.cookies.get(SESSION_COOKIE),
        ):
            if given and SESSION.fullmatch(given):
                return given
        return secrets.token_hex(16)

    def _answer(self, request: web.Request, response: web.Response, session: str, cors: dict) -> web.Response:
        response.headers.update(cors)
        response.headers[SESSION_HEADER] = session
        response.headers["Cache-Control"] = "no-store"
        secure = self.settings.secure_cookies or request.secure
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=30 * 24 * 3600,
            path="/chat/api",
            httponly=True,
            secure=secure,
            samesite="None" if secure else "Lax",  # a portal on another site sends it only with None (https)
        )
        return response

    # ---- receiving -----------------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        allowed, cors = self._allowed(request)
        if not allowed:
            return _error(403, NOT_ALLOWED, cors)
        session = self._session(request)
        if request.content_type == "multipart/form-data":
            data, problem = await self._form(request, session)
        else:
            data, problem = await self._json(request)
        if problem:
            status = 413 if problem == TOO_LARGE else 400
            return self._answer(request, _error(status, problem), session, cors)
        if await asyncio.to_thread(self._sent_lately, session) >= RATE:
            metrics.UPDATES.labels(CHANNEL, "rate_limited").inc()
            return self._answer(request, _error(429, TOO_FAST, {"Retry-After": "60"}), session, cors)
        client_id = str(data.pop("id", "") or "")
        if not CLIENT_ID.fullmatch(client_id):
            client_id = secrets.token_hex(8)
        payload = {"session": session, "id": f"{session}:{client_id}", **data}
        msg = incoming(payload)
        try:
            outcome = await self.writer.store(payload["id"], session, session, payload)
        except Exception as e:
            metrics.ERRORS.labels("inbox_store").inc()
            log.warning("webchat message not stored (%s)", type(e).__name__)
            return self._answer(request, _error(503, NOT_STORED), session, cors)
        metrics.UPDATES.labels(CHANNEL, outcome).inc()
        if outcome != "duplicate":
            shown = data.get("label") or data.get("text") or ("•" if data.get("payload") else "")
            shown += "".join(f"\n📎 {f['name'] or 'tệp'}" for f in data.get("files", []))
            if shown.strip() and not data.get("start"):
                await asyncio.to_thread(self._log, session, "user", shown.strip(), [], None)
                self.hub.notify()
        if outcome == "new":
            self.dispatcher.wake.set()
        elif outcome == "skipped":
            self.outbox_wake.set()
        body = {"session": session, "outcome": outcome, "handled": msg is not None}
        return self._answer(request, web.json_response(body, status=202), session, cors)

    async def _json(self, request: web.Request) -> tuple[dict, str]:
        if request.content_length is not None and request.content_length > JSON_MAX:
            return {}, TOO_LARGE
        body = b""
        while len(body) <= JSON_MAX and (chunk := await request.content.read(JSON_MAX + 1 - len(body))):
            body += chunk
        if len(body) > JSON_MAX:
            return {}, TOO_LARGE
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return {}, BAD_JSON
        if not isinstance(data, dict):
            return {}, BAD_JSON
        if data.get("start") is True:
            return {"id": data.get("id"), "text": "/start", "start": True}, ""
        text, payload, label = (data.get(k) for k in ("text", "payload", "label"))
        if not all(v is None or isinstance(v, str) for v in (text, payload, label)):
            return {}, BAD_JSON
        if payload:
            if len(payload) > 200 or len(label or "") > 200:
                return {}, TOO_LONG
            return {"id": data.get("id"), "payload": payload, "label": label or ""}, ""
        text = (text or "").strip()
        if not text:
            return {}, EMPTY
        if len(text) > TEXT_MAX:
            return {}, TOO_LONG
        return {"id": data.get("id"), "text": text}, ""

    async def _form(self, request: web.Request, session: str) -> tuple[dict, str]:
        """A multipart message: `id`, `text` and one `file` (read up to the feedback form's limit)."""
        data: dict = {"text": "", "files": []}
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if part.name in ("id", "text"):
                    value = await part.read(decode=True)
                    if len(value) > TEXT_MAX * 4:
                        return {}, TOO_LONG
                    data[part.name] = value.decode("utf-8", errors="replace").strip()
                elif part.name == "file" and not data["files"]:
                    data["files"].append(await self._upload(part, session))
        except ValueError:  # not a multipart body, a broken boundary
            return {}, BAD_JSON
        if len(data["text"]) > TEXT_MAX:
            return {}, TOO_LONG
        if not data["text"] and not data["files"]:
            return {}, EMPTY
        return data, ""

    async def _upload(self, part, session: str) -> dict:
        """Keep an uploaded file for the dialog (not when its name or size is refused: the dialog says why)."""
        name = (part.filename or "").strip()[:200]
        chunks, size = [], 0
        while chunk := await part.read_chunk(64 * 1024):
            size += len(chunk)
            if size <= feedback_files.MAX_BYTES:
                chunks.append(chunk)
        data = b"".join(chunks)
        kind = "photo" if (feedback_files.sniff(data[:16]) or "").startswith("image/") else "document"
        try:
            feedback_files.check(name or None, size)
        except InvalidField:
            return {"kind": kind, "ref": "", "name": name, "size": size}
        ref = secrets.token_hex(16)
        await asyncio.to_thread(self._keep_file, ref, session, name, data)
        return {"kind": kind, "ref": ref, "name": name, "size": size}

    def _keep_file(self, ref: str, session: str, name: str, data: bytes) -> None:
        now = inbox.utcnow()
        with self.factory.begin() as s:
            s.execute(delete(files).where(files.c.created_at < now - FILES_KEPT))
            s.execute(insert(files).values(id=ref, session_id=session, name=name, data=data, created_at=now))

    def _sent_lately(self, session: str) -> int:
        since = inbox.utcnow() - timedelta(minutes=1)
        query = select(func.count()).where(
            messages.c.session_id == session, messages.c.sender == "user", messages.c.created_at >= since
        )
        with self.factory() as s:
            return int(s.scalar(query) or 0)

    def _log(self, session: str, sender: str, text: str, buttons: list, outbox_id: int | None) -> None:
        values = dict(session_id=session, sender=sender, text=text, buttons=buttons, outbox_id=outbox_id)
        try:
            with self.factory.begin() as s:
                s.execute(insert(messages).values(created_at=inbox.utcnow(), **values))
        except IntegrityError:  # this outbox message was stored already (sent again after a crash)
            pass

    # ---- processing (called by the dispatcher) ---------------------------------------------------

    def incoming_of(self, payload: dict) -> Incoming | None:
        return incoming(payload)

    async def _handle(self, item: inbox.Claimed) -> bool:
        msg = incoming(item.payload)
        done = await self.turn(msg, item) if msg is not None else False
        await self.told(item.update_id)
        return done

    async def download(self, a: Attachment) -> Attachment:
        def read() -> bytes:
            with self.factory() as s:
                data = s.scalar(select(files.c.data).where(files.c.id == a.ref))
            if data is None:
                raise LookupError(a.ref)
            return bytes(data)

        data = await asyncio.to_thread(read)
        return dataclasses.replace(a, data=data, size=len(data))

    # ---- sending (the outbox's sender) ---------------------------------------------------------

    async def send(self, msg: outbox.Outgoing) -> None:
        reply, _ = stored_reply(msg.text, msg.reply, msg.buttons)  # a page of a list comes as a new message
        text, buttons = view(reply)
        started = time.perf_counter()
        await asyncio.to_thread(self._log, msg.chat_id, "bot", text, buttons, msg.id)
        metrics.SENT.labels(CHANNEL).inc()
        metrics.STAGE.labels(CHANNEL, "send").observe(time.perf_counter() - started)
        await msg.part_accepted(1, last=True)
        self.hub.notify()

    # ---- what the browser reads ------------------------------------------------------------------

    def _after(self, session: str, after: int) -> list[dict]:
        query = (
            select(messages)
            .where(messages.c.session_id == session, messages.c.id > after)
            .order_by(messages.c.id)
            .limit(BATCH)
        )
        with self.factory() as s:
            return [message_json(r) for r in s.execute(query)]

    async def poll(self, request: web.Request) -> web.Response:
        allowed, cors = self._allowed(request)
        if not allowed:
            return _error(403, NOT_ALLOWED, cors)
        session = self._session(request)
        after = _int(request.query.get("after"))
        found = await asyncio.to_thread(self._after, session, after)
        return self._answer(request, web.json_response({"session": session, "messages": found}), session, cors)

    async def events(self, request: web.Request) -> web.StreamResponse:
        allowed, cors = self._allowed(request)
        if not allowed:
            return _error(403, NOT_ALLOWED, cors)
        session = self._session(request)
        after = _int(request.headers.get("Last-Event-ID") or request.query.get("after"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        self._answer(request, response, session, cors)
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        opened = quiet = time.monotonic()
        while not self.hub.closing.is_set() and time.monotonic() - opened < STREAM_MAX:
            changed = self.hub.changed
            for m in await asyncio.to_thread(self._after, session, after):
                after = m["id"]
                data = json.dumps(m, ensure_ascii=False)
                await response.write(f"id: {after}\ndata: {data}\n\n".encode())
                quiet = time.monotonic()
            if time.monotonic() - quiet > HEARTBEAT:
                await response.write(b": still here\n\n")
                quiet = time.monotonic()
            closing = asyncio.ensure_future(self.hub.closing.wait())
            woken = asyncio.ensure_future(changed.wait())
            await asyncio.wait({closing, woken}, timeout=POLL, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            woken.cancel()
        return response


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    match = re.match(r"[a-z][a-z0-9+.-]*://[^/?#]+", url.strip(), re.IGNORECASE)
    return match.group(0).lower() if match else url


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 16 else 0
