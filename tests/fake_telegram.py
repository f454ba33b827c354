"""A fake Telegram Bot API server (aiohttp on 127.0.0.1, a random port) for end-to-end tests.

python-telegram-bot is pointed at it with `base_url`; it serves the methods the bot calls, hands out
queued updates through getUpdates (long polling), and records every call so a test can read what the
bot sent. `Chat` plays a citizen: it writes, presses inline buttons, and reads the bot's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_for-fake-server"
BOT = {"id": 123456, "is_bot": True, "first_name": "Trợ lý TTHC", "username": "tthc_test_bot"}
STRING_PARAMS = {
    "text",
    "caption",
    "callback_query_id",
    "url",
    "secret_token",
    "action",
    "parse_mode",
    "inline_message_id",
}
WAIT = 30.0  # seconds: a safety net for a broken bot, never a timing assertion


@dataclass
class Fault:
    """What the fake does to the next `times` calls of `method`: refuse with `status` (429 with `retry_after`,
    500 …) without doing it, or do it and answer `late` seconds later."""

    method: str
    status: int = 0
    retry_after: int = 0
    late: float = 0.0
    times: int = 1


class FakeBotAPI:
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.pending: list[dict[str, Any]] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # as they stand now (edits applied)
        self.outbox: list[tuple[int, int]] = []  # (chat id, message id) of each sendMessage, in order
        self.done: set[int] = set()  # update ids the bot finished handling (see `watch`)
        self.files: dict[str, bytes] = {}  # file_id: content, served through getFile and /file/bot…
        self.downloads: list[str] = []  # file ids the bot downloaded
        self.blocked: set[int] = set()  # chats whose user blocked the bot: sendMessage answers 403
        self.faults: list[Fault] = []  # see `fault`
        self.refused: list[tuple[str, dict[str, Any], int]] = []  # calls a fault refused: method, params, status
        self._closing = False
        self._changed = asyncio.Condition()
        # Telegram numbers a bot's updates in sequence from a number of its own: each fake server too (tests
        # that share a database never see two updates with one id)
        self._update_ids = itertools.count(random.randrange(10**6, 10**9))
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, port: int = 0) -> FakeBotAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def stop(self) -> None:
        async with self._changed:
            self._closing = True  # release a long poll still waiting
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def watch(self, channel) -> None:
        """Learn when the bot has finished an update (its turn saved, its replies handed to this server)."""

        async def finished(update_id: int) -> None:
            async with self._changed:
                self.done.add(update_id)
                self._changed.notify_all()

        channel.listeners.append(finished)

    async def handled(self, update: dict[str, Any]) -> None:
        await self.wait_for(lambda: update["update_id"] in self.done, f"finish update {update['update_id']}")

    # ---- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        if request.content_type == "application/json":  # the Bot API takes a JSON body or a form
            params = await request.json()
        else:
            form = await request.post() if request.body_exists else {}
            params = {k: (v if k in STRING_PARAMS else _json(v)) for k, v in form.items()}
        fault = self._fault(method)
        if fault is not None and fault.status:
            async with self._changed:
                self.refused.append((method, params, fault.status))
                self._changed.notify_all()
            return _error(fault.status, fault.retry_after)
        if method == "getUpdates":
            result = await self._get_updates(params)
        else:
            async with self._changed:
                self.calls.append((method, params))
                result = self._result(method, params)
                self._changed.notify_all()
        if fault is not None and fault.late:
            await asyncio.sleep(fault.late)  # done already; the answer comes late
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    def fault(self, method: str, status: int = 0, retry_after: int = 0, late: float = 0.0, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail with `status` (429 carries `retry_after`), or succeed
        with the answer `late` seconds late."""
        self.faults.append(Fault(method, status, retry_after, late, times))

    def _fault(self, method: str) -> Fault | None:
        for f in self.faults:
            if f.method == method and f.times > 0:
                f.times -= 1
                return f
        return None

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].removeprefix("files/")
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        self.downloads.append(file_id)
        return web.Response(body=self.files[file_id])

    def _result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getFile":
            file_id = str(p["file_id"])
            if file_id not in self.files:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}, status=400
                )
            data = self.files[file_id]
            return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(data),
                    "file_path": f"files/{file_id}"}  # fmt: skip
        if method == "sendMessage" and int(p["chat_id"]) in self.blocked:
            return web.json_response(
                {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, status=403
            )
        if method == "sendMessage":
            msg = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(p["chat_id"]), "type": "private"},
                "from": BOT,
                "text": p["text"],
            }
            if p.get("reply_markup"):
                msg["reply_markup"] = p["reply_markup"]
            self.messages[(msg["chat"]["id"], msg["message_id"])] = msg
            self.outbox.append((msg["chat"]["id"], msg["message_id"]))
            return msg
        if method == "editMessageText":
            key = (int(p["chat_id"]), int(p["message_id"]))
            msg = self.messages.get(key)
            if msg is None:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
                    status=400,
                )
            if msg["text"] == p["text"] and msg.get("reply_markup") == p.get("reply_markup"):
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}, status=400
                )
            msg = {**msg, "text": p["text"], "edit_date": int(time.time())}
            if p.get("reply_markup"):
                msg["reply_markup"] = p["reply_markup"]
            self.messages[key] = msg
            return msg
        if method in {"getWebhookInfo"}:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        # answerCallbackQuery, sendChatAction, setMyCommands, deleteWebhook, setWebhook, …
        return True

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        async with self._changed:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            if not self.pending and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.pending) or self._closing), timeout)
            return list(self.pending)

    # ---- what tests use ----------------------------------------------------------------------

    async def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates; several at once arrive in one getUpdates answer, as a burst would."""
        async with self._changed:
            self.pending.extend(updates)
            self._changed.notify_all()

    def new_update_id(self) -> int:
        return next(self._update_ids)

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method and (chat_id is None or int(p.get("chat_id", 0)) == chat_id)]

    async def wait_for(self, predicate, what: str = "") -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), WAIT)
            except TimeoutError:
                raise AssertionError(
                    f"the bot did not {what or 'answer'}; calls: {[m for m, _ in self.calls]}"
                ) from None


def _error(status: int, retry_after: int = 0) -> web.Response:
    """The Bot API's error answer: 429 with parameters.retry_after, or a bare error code."""
    body: dict[str, Any] = {"ok": False, "error_code": status}
    if status == 429:
        body["description"] = f"Too Many Requests: retry after {retry_after}"
        body["parameters"] = {"retry_after": retry_after}
    else:
        body["description"] = "Internal Server Error" if status >= 500 else "Bad Request"
    return web.json_response(body, status=status)


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class Chat:
    """A citizen in a private chat with the bot."""

    def __init__(self, api: FakeBotAPI, user_id: int, first_name: str = "An"):
        self.api = api
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}
        self.chat = {"id": user_id, "type": "private", "first_name": first_name}
        self._ids = itertools.count(1)

    def message_update(self, text: str = "", **extra: Any) -> dict[str, Any]:
        msg = {"message_id": next(self._ids), "date": int(time.time()), "chat": self.chat, "from": self.user, **extra}
        if text:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": self.api.new_update_id(), "message": msg}

    def callback_update(self, data: str, message: dict[str, Any]) -> dict[str, Any]:
        query = {
            "id": uuid.uuid4().hex,  # Telegram's callback query ids are unique
            "from": self.user,
            "chat_instance": f"ci-{self.chat['id']}",
            "data": data,
            "message": message,
        }
        return {"update_id": self.api.new_update_id(), "callback_query": query}

    def mine(self) -> list[dict[str, Any]]:
        """The messages the bot sent to this chat, in order, as they stand now."""
        return [self.api.messages[key] for key in self.api.outbox if key[0] == self.chat["id"]]

    def count(self) -> int:
        return len(self.mine())

    async def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Deliver an update and wait until the bot has handled it; the messages it sent meanwhile."""
        before = self.count()
        await self.api.push(update)
        await self.api.handled(update)
        return self.mine()[before:]

    async def say(self, text: str, **extra: Any) -> dict[str, Any]:
        """Write to the bot; its answer as the citizen sees it (see `seen`)."""
        return seen(await self.send(self.message_update(text, **extra)))

    async def tap(self, data: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.send(self.callback_update(data, message))

    async def press(self, label: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Press a button of a message (the last one by default); the bot's answer, sent or edited."""
        message = message or self.last()
        answers = len(self.api.sent("answerCallbackQuery"))
        edits = len(self.api.sent("editMessageText", self.chat["id"]))
        sent = await self.tap(button(message, label)["callback_data"], message)
        assert len(self.api.sent("answerCallbackQuery")) == answers + 1, "the button press was not answered"
        if sent:
            return seen(sent)
        assert len(self.api.sent("editMessageText", self.chat["id"])) > edits, "no answer to the button"
        edit = self.api.sent("editMessageText", self.chat["id"])[-1]
        return self.api.messages[(self.chat["id"], int(edit["message_id"]))]

    def last(self) -> dict[str, Any]:
        """The last message the bot sent to this chat (edits applied)."""
        mine = self.mine()
        return mine[-1] if mine else {}


def seen(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Messages sent for one answer, as one: the texts joined, the last part's id and keyboard."""
    assert messages, "the bot sent nothing"
    return {**messages[-1], "text": "\n".join(m["text"] for m in messages), "parts": len(messages)}


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if b["text"] == label or b["text"].startswith(label)]
    assert found, f"no button {label!r} in {[b['text'] for b in buttons(message)]}"
    return found[0]


SECRET = "s3cret_Token-for-tests"  # the webhook secret of the tests


def telegram_app(app, api: FakeBotAPI, **settings):
    """The app with Telegram settings pointing at the fake server, `settings` on top."""
    import dataclasses

    from bot.settings import load_settings

    s = load_settings(
        database_url=app.settings.db_url,
        data_dir=app.settings.data_dir,
        telegram_bot_token=api.token,
        telegram_api_base_url=api.base_url,
        **settings,
    )
    return dataclasses.replace(app, settings=s)


class Served:
    """A Telegram channel (another one in a subclass: `configure`, `make_channel`) with its inbox dispatcher and
    (unless `outbox_interval` is None) an outbox worker running, wired as `bot.serve.serve` wires them; the
    channel's attributes are read through. `stop` stops all."""

    def __init__(self, app, api, outbox_interval: float | None = 0.2, **settings):
        from bot.dispatch import Dispatcher

        self.app = self.configure(app, api, **settings)
        self.dispatcher = Dispatcher(self.app.factory, interval=0.2)
        self.channel = self.make_channel()
        self.outbox_interval = outbox_interval
        api.watch(self.channel)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def configure(self, app, api, **settings):
        return telegram_app(app, api, **settings)

    def make_channel(self):
        from bot.telegram import TelegramChannel

        return TelegramChannel(self.app, self.dispatcher)

    def __getattr__(self, name: str):
        return getattr(self.channel, name)

    async def start(self) -> Served:
        from bot.notify import Senders, start_worker

        self._tasks.append(asyncio.create_task(self.dispatcher.run(self._stop)))
        if self.outbox_interval is not None:
            senders = Senders({self.channel.name: self.channel.send})
            self._tasks.append(
                start_worker(
                    self.app.factory,
                    senders,
                    self._stop,
                    None,
                    wake=self.channel.outbox_wake,
                    interval=self.outbox_interval,
                )
            )
        await self.channel.start()
        await asyncio.wait_for(self.channel.connected.wait(), WAIT)
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.channel.stop()


async def start_channel(app, api: FakeBotAPI, outbox_interval: float | None = 0.2, **settings) -> Served:
    """The app's Telegram channel (polling unless `settings` say otherwise), started against the fake server."""
    return await Served(app, api, outbox_interval, **settings).start()
