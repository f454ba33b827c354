"""The portal web chat in tests: the app's server with the web chat channel, its inbox dispatcher and outbox worker
running (as bot/serve.py wires them), and `Visitor`, a browser's session talking to its JSON API."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

from aiohttp.test_utils import TestClient, TestServer
from fake_telegram import WAIT

from bot.settings import load_settings
from bot.web import make_web_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class WebChatServed:
    """The web chat on a real port of 127.0.0.1 (`server`), with `client` to call it; `handled` the update ids
    the channel has finished (its replies stored)."""

    def __init__(self, app, **settings):
        from bot.dispatch import Dispatcher
        from channels.webchat.channel import WebChatChannel

        s = load_settings(database_url=app.settings.db_url, data_dir=app.settings.data_dir, **settings)
        self.app = dataclasses.replace(app, settings=s)
        self.dispatcher = Dispatcher(self.app.factory, interval=0.2)
        self.channel = WebChatChannel(self.app, self.dispatcher)
        self.handled: set[str] = set()
        self._changed = asyncio.Condition()
        self.channel.listeners.append(self._finished)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.server = TestServer(make_web_app(self.app, webchat=self.channel))
        self.client = TestClient(self.server)

    async def _finished(self, update_id: str) -> None:
        async with self._changed:
            self.handled.add(update_id)
            self._changed.notify_all()

    async def wait_handled(self, update_id: str) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: update_id in self.handled), WAIT)

    async def start(self) -> WebChatServed:
        from bot.notify import Senders, start_worker

        self._tasks.append(asyncio.create_task(self.dispatcher.run(self._stop)))
        senders = Senders({"webchat": self.channel.send})
        wake = self.channel.outbox_wake
        self._tasks.append(start_worker(self.app.factory, senders, self._stop, None, wake=wake, interval=0.2))
        await self.channel.start()
        await self.client.start_server()
        return self

    async def stop(self) -> None:
        await self.channel.stop()
        await self.client.close()
        self._stop.set()
        await asyncio.gather(*self._tasks)


class Visitor:
    """One browser session of the web chat: `say` and `press` post a message and return the bot's replies to it."""

    def __init__(self, served: WebChatServed, origin: str | None = None):
        self.served = served
        self.session = secrets.token_hex(16)
        self.origin = origin
        self.last = 0

    def headers(self, **more) -> dict:
        h = {"X-Chat-Session": self.session, **more}
        if self.origin:
            h["Origin"] = self.origin
        return h

    async def post(self, body: dict | None = None, **kwargs):
        if body is not None:
            kwargs["json"] = body
        return await self.served.client.post("/chat/api/messages", headers=self.headers(), **kwargs)

    async def messages(self, after: int = 0) -> list[dict]:
        r = await self.served.client.get(f"/chat/api/messages?after={after}", headers=self.headers())
        assert r.status == 200, await r.text()
        return (await r.json())["messages"]

    async def send(self, body: dict | None = None, **kwargs) -> list[dict]:
        """Post a message and wait until it is handled; the bot's messages since the last call."""
        message_id = secrets.token_hex(8)
        if body is not None:
            body = {"id": message_id, **body}
        else:
            kwargs["data"].add_field("id", message_id)
        r = await self.post(body, **kwargs)
        assert r.status == 202, await r.text()
        await self.served.wait_handled(f"{self.session}:{message_id}")
        return await self.replies()

    async def replies(self) -> list[dict]:
        new = await self.messages(self.last)
        if new:
            self.last = new[-1]["id"]
        return [m for m in new if m["from"] == "bot"]

    async def say(self, text: str) -> dict:
        replies = await self.send({"text": text})
        assert replies, f"no reply to {text!r}"
        return replies[-1]

    async def press(self, label: str, message: dict | None = None) -> dict:
        """Press the button `label` of `message` (else of the latest message that has it)."""
        pool = [message] if message else list(reversed(await self.messages()))
        for m in pool:
            for b in m["buttons"]:
                if b["label"] == label and "payload" in b:
                    replies = await self.send({"payload": b["payload"], "label": label})
                    assert replies, f"no reply to pressing {label!r}"
                    return replies[-1]
        raise AssertionError(f"no button {label!r}")
