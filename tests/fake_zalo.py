"""A fake Zalo Official Account API (aiohttp on 127.0.0.1, a random port) for end-to-end tests.

The channel's client is pointed at it with ZALO_API_BASE_URL and ZALO_OAUTH_BASE_URL. It serves customer-service
sends (`/v3.0/oa/message/cs`, refused with -216 unless the header carries the token in force), the OA profile, token
refreshes (`/v4/oa/access_token`: each refresh token works once and the old access token stops working) and the
files users send (`/files/…`); it records every call, and `fault` makes the next calls fail as Zalo fails (an
error code in the body, with HTTP 200 or another status). `ZaloUser` plays a citizen: its events are signed as Zalo
signs them (computed here from Zalo's rule, not by the code under test) and posted to the app's webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from fake_telegram import WAIT, Served

APP_SECRET = "zalo-app-secret-for-tests"
OA_SECRET_KEY = "zalo-oa-secret-key-for-tests"
OA_ID = "579745863508352884"
TEXT_LIMIT, MAX_BUTTONS = 2000, 5  # what Zalo accepts; more is refused with -201


@dataclass
class Fault:
    """What the fake does to the next `times` calls of `call` ("send", "refresh", "getoa"): answer Zalo's
    `error` code in the body with HTTP `status` (`body` False: a page that is not JSON), doing nothing."""

    call: str
    error: int = 0
    status: int = 200
    body: bool = True
    times: int = 1


class FakeZalo:
    def __init__(self):
        self.app_id = str(random.randrange(10**18, 10**19))  # an app of its own: tests sharing a database never mix
        self.access_token, self.refresh_token = "access-0", "refresh-0"  # the pair in force
        self._pairs = itertools.count(1)
        self.sent: list[dict[str, Any]] = []  # accepted sends: user_id, message, token, message_id
        self.refused: list[tuple[str, int]] = []  # (call, error) of each refused call
        self.refreshes: list[dict[str, str]] = []  # each refresh asked: the form and the secret_key header
        self.files: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.faults: list[Fault] = []
        self.done: set[str] = set()  # update ids the channel finished handling (see `watch`)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> FakeZalo:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def settings(self) -> dict[str, str]:
        """The app's settings for this server, the first token pair included."""
        return {"zalo_app_id": self.app_id, "zalo_app_secret": APP_SECRET, "zalo_oa_secret_key": OA_SECRET_KEY,
                "zalo_access_token": "access-0", "zalo_refresh_token": "refresh-0",
                "zalo_api_base_url": self.base_url, "zalo_oauth_base_url": self.base_url}  # fmt: skip

    def fault(self, call: str, error: int = 0, status: int = 200, body: bool = True, times: int = 1) -> None:
        self.faults.append(Fault(call, error, status, body, times))

    def expire(self) -> None:
        """The access token in force ends (as after 25 hours): the next call with it gets -216."""
        self.access_token = f"expired-{uuid.uuid4().hex[:6]}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/files/{name}"

    # ---- the API -----------------------------------------------------------------------------

    def _fault(self, call: str) -> web.Response | None:
        for f in self.faults:
            if f.call == call and f.times > 0:
                f.times -= 1
                self.refused.append((call, f.error))
                if not f.body:
                    return web.Response(status=f.status, text="<html>Bad Gateway</html>", content_type="text/html")
                return web.json_response({"error": f.error, "message": "injected"}, status=f.status)
        return None

    def _refuse(self, call: str, error: int, message: str) -> web.Response:
        self.refused.append((call, error))
        return web.json_response({"error": error, "message": message})  # HTTP 200, as Zalo does

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._changed:
            refused = self._fault("send")
            if refused is None and request.headers.get("access_token") != self.access_token:
                refused = self._refuse("send", -216, "Access token is invalid")
            message = body.get("message") or {}
            buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []
            text = message.get("text") or ""
            if refused is None and (len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT or len(buttons) > MAX_BUTTONS):
                refused = self._refuse("send", -201, "Parameters are invalid")
            if refused is not None:
                self._changed.notify_all()
                return refused
            message_id = uuid.uuid4().hex
            user_id = body["recipient"]["user_id"]
            self.sent.append({"user_id": user_id, "message": message, "token": self.access_token,
                              "message_id": message_id})  # fmt: skip
            self._changed.notify_all()
        return web.json_response({"data": {"message_id": message_id, "user_id": user_id}, "error": 0,
                                  "message": "Success"})  # fmt: skip

    async def _getoa(self, request: web.Request) -> web.Response:
        async with self._changed:
            refused = self._fault("getoa")
            if refused is None and request.headers.get("access_token") != self.access_token:
                refused = self._refuse("getoa", -216, "Access token is invalid")
        if refused is not None:
            return refused
        return web.json_response({"data": {"oa_id": OA_ID, "name": "UBND tỉnh (thử nghiệm)"}, "error": 0})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        async with self._changed:
            self.refreshes.append({**form, "secret_key": request.headers.get("secret_key", "")})
            self._changed.notify_all()
            refused = self._fault("refresh")
            if refused is not None:
                return refused
            if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != self.app_id:
                return web.json_response({"error": -14002, "error_name": "Invalid app"})
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
                return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
            n = next(self._pairs)
            self.access_token, self.refresh_token = f"access-{n}", f"refresh-{n}"  # the old ones end
            pair = {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}
        return web.json_response(pair)

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.files:
            return web.Response(status=404)
        self.downloads.append(name)
        return web.Response(body=self.files[name], content_type="application/octet-stream")

    # ---- what tests use ----------------------------------------------------------------------

    def watch(self, channel) -> None:
        """Learn when the channel has finished an update (its turn saved, its replies handed to this server)."""

        async def finished(update_id: str) -> None:
            async with self._changed:
                self.done.add(str(update_id))
                self._changed.notify_all()

        channel.listeners.append(finished)

    def to(self, user_id: str) -> list[dict[str, Any]]:
        """The messages sent to a user, in order."""
        return [s["message"] for s in self.sent if s["user_id"] == user_id]

    async def wait_for(self, predicate, what: str = "") -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), WAIT)
            except TimeoutError:
                raise AssertionError(f"the channel did not {what or 'answer'}; sent: {len(self.sent)}") from None


def sign(body: bytes, timestamp: str, app_id: str, key: str = OA_SECRET_KEY) -> str:
    """X-ZEvent-Signature as Zalo computes it: mac= + hex SHA-256(app id + body + timestamp + OA secret key)."""
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + key.encode()).hexdigest()


def now_ms(shift: float = 0.0) -> str:
    return str(int((time.time() + shift) * 1000))


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []


def titles(message: dict[str, Any]) -> list[str]:
    return [b["title"] for b in buttons(message)]


class ZaloUser:
    """A citizen following the OA, talking to the app's webhook through `client`."""

    _ids = itertools.count(int(time.time()) * 1000)

    def __init__(self, zalo: FakeZalo, client: TestClient, user_id: str, path: str = "/zalo/webhook"):
        self.zalo, self.client, self.user_id, self.path = zalo, client, user_id, path

    def event(self, name: str = "user_send_text", text: str = "", **message: Any) -> dict[str, Any]:
        msg_id = f"msg{next(self._ids)}"
        body = {"app_id": self.zalo.app_id, "user_id_by_app": f"app-{self.user_id}", "event_name": name,
                "sender": {"id": self.user_id}, "recipient": {"id": OA_ID},
                "message": {"msg_id": msg_id, "text": text, **message}, "timestamp": now_ms()}  # fmt: skip
        if name in ("follow", "unfollow"):
            body = {"app_id": self.zalo.app_id, "oa_id": OA_ID, "event_name": name, "follower": {"id": self.user_id},
                    "source": "oa_profile", "user_id_by_app": f"app-{self.user_id}", "timestamp": now_ms()}  # fmt: skip
        return body

    async def post(self, event: dict[str, Any], signature: str | None = "sign", raw: bytes | None = None) -> int:
        """POST an event (signed unless `signature` is None or given); the webhook's HTTP status."""
        body = raw if raw is not None else json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign(body, str(event.get("timestamp", "")), self.zalo.app_id)
        if signature is not None:
            headers["X-ZEvent-Signature"] = signature
        r = await self.client.post(self.path, data=body, headers=headers)
        return r.status

    async def send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Post an event and wait until the channel has handled it; the messages it sent meanwhile."""
        before = len(self.mine())
        assert await self.post(event) == 200
        key = event["message"]["msg_id"] if "message" in event else f"follow:{self.user_id}:{event['timestamp']}"
        await self.zalo.wait_for(lambda: key in self.zalo.done, f"handle {key}")
        return self.mine()[before:]

    async def say(self, text: str) -> dict[str, Any]:
        """Write to the OA; its answer as the user sees it: the parts' texts joined, the last part's buttons."""
        return seen(await self.send(self.event(text=text)))

    async def press(self, title: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Tap a button: Zalo sends its payload as the user's text (oa.query.show)."""
        message = message or next(m for m in reversed(self.mine()) if buttons(m))
        found = [b for b in buttons(message) if b["title"].startswith(title)]
        assert found, f"no button {title!r} in {titles(message)}"
        assert found[0]["type"] == "oa.query.show"
        return await self.say(found[0]["payload"])

    def mine(self) -> list[dict[str, Any]]:
        return self.zalo.to(self.user_id)


def seen(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert messages, "the OA sent nothing"
    return {**messages[-1], "text": "\n".join(m.get("text", "") for m in messages), "parts": len(messages)}


def zalo_app(app, zalo: FakeZalo, **settings):
    """The app with Zalo settings pointing at the fake server, `settings` on top."""
    import dataclasses

    from bot.settings import load_settings

    s = load_settings(database_url=app.settings.db_url, data_dir=app.settings.data_dir,
                      **{**zalo.settings(), **settings})  # fmt: skip
    return dataclasses.replace(app, settings=s)


class ZaloServed(Served):
    """The app's Zalo channel with its dispatcher and outbox worker (see `Served`), against a FakeZalo."""

    def configure(self, app, zalo: FakeZalo, **settings):
        return zalo_app(app, zalo, **settings)

    def make_channel(self):
        from channels.zalo.channel import ZaloChannel

        return ZaloChannel(self.app, self.dispatcher)
