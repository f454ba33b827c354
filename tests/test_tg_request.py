"""python-telegram-bot on aiohttp's client (bot/tg_request.py), against small HTTP servers on 127.0.0.1: the bodies
it sends, and transport failures as PTB's own errors, which never carry the URL (it holds the bot token)."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.tg_request import AiohttpRequest

TOKEN_PATH = "/bot123456:SECRET-TOKEN/sendMessage"


@pytest.fixture
async def request_():
    r = AiohttpRequest(read_timeout=0.5, connect_timeout=1.0, pool_timeout=1.0)
    await r.initialize()
    yield r
    await r.shutdown()


@asynccontextmanager
async def serve(handler) -> AsyncIterator[str]:
    """A server on 127.0.0.1 answering every POST with `handler`; yields its base URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


async def test_parameters_go_as_json_and_files_as_multipart(request_):
    seen = []

    async def handler(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            seen.append(await request.json())
        else:
            form = await request.post()
            seen.append({k: (v.file.read() if hasattr(v, "file") else v) for k, v in form.items()})
        return web.json_response({"ok": True, "result": True})

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Lệ phí", callback_data="a:1:fee")]])
    async with serve(handler) as base:
        plain = RequestData(
            [
                RequestParameter.from_input("chat_id", 42),
                RequestParameter.from_input("text", "Xin chào"),
                RequestParameter.from_input("reply_markup", keyboard),
            ]
        )
        assert await request_.post(base + TOKEN_PATH, request_data=plain) is True
        upload = InputFile(b"%PDF-1.4 hello", filename="don.pdf", attach=True)
        with_file = RequestData(
            [RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("document", upload)]
        )
        assert await request_.post(base + TOKEN_PATH, request_data=with_file) is True
    # JSON as the Bot API reads it: numbers as numbers, the keyboard an object, Vietnamese as is
    assert seen[0] == {
        "chat_id": 42,
        "text": "Xin chào",
        "reply_markup": {"inline_keyboard": [[{"text": "Lệ phí", "callback_data": "a:1:fee"}]]},
    }
    assert seen[1]["chat_id"] == "42" and b"%PDF-1.4 hello" in [v for v in seen[1].values() if isinstance(v, bytes)]


async def test_a_silent_server_is_timed_out_and_a_closed_port_a_network_error_without_the_url(request_):
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    async with serve(silent) as base:
        with pytest.raises(TimedOut):
            await request_.post(base + TOKEN_PATH)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError) as refused:
        await request_.post(f"http://127.0.0.1:{port}{TOKEN_PATH}")
    assert not isinstance(refused.value, TimedOut)
    assert "SECRET" not in str(refused.value) and "SECRET" not in repr(refused.value)


async def test_the_answer_is_read_as_ptb_expects_including_errors(request_):
    async def refused(request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 3}}
        return web.Response(status=429, text=json.dumps(body), content_type="application/json")

    async with serve(refused) as base:
        with pytest.raises(RetryAfter):
            await request_.post(base + TOKEN_PATH)
