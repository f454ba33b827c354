"""Telegram hardening: logs at DEBUG hold no personal data or secrets; the webhook refuses bad bodies with 400
and one line, and rate-limits its warnings about unauthenticated requests."""

import asyncio
import io
import itertools
import json
import logging

import pytest
from fake_telegram import SECRET, TOKEN, Chat, buttons

from bot.logs import CAPS, setup_logging
from bot.telegram import SECRET_HEADER

PATH = "/telegram/webhook"
GOOD = {SECRET_HEADER: SECRET}
TEXT = "Tôi là Nguyễn Văn Bình, số 0912345678, hỏi đăng ký khai sinh"
NEVER_LOGGED = (TOKEN, TOKEN.partition(":")[2], SECRET, "0912345678", "Bình", TEXT)
_users = itertools.count(7_000_001)


@pytest.fixture(autouse=True)
def captured():
    """Logging as `python -m bot run` sets it up with LOG_LEVEL=DEBUG, into a buffer; restored afterwards."""
    root = logging.getLogger()
    before = [h for h in root.handlers if not type(h).__module__.startswith("_pytest")]
    level = root.level
    caps = {name: logging.getLogger(name).level for name in CAPS}
    buf = io.StringIO()
    setup_logging("DEBUG", secrets=(TOKEN, SECRET), stream=buf)
    ours = root.handlers[0]
    yield buf
    root.removeHandler(ours)
    root.handlers[:0] = [h for h in before if h not in root.handlers]
    root.setLevel(level)
    for name, cap in caps.items():
        logging.getLogger(name).setLevel(cap)











def citizen(api) -> Chat:
    c = Chat(api, next(_users), first_name="Bình")
    c.user.update(last_name="Nguyễn Văn", username="binh_nv")
    c.chat.update(last_name="Nguyễn Văn", username="binh_nv")
    return c


def first_callback(message: dict) -> str:
    return next(b["text"] for b in buttons(message) if "callback_data" in b)


def assert_clean(logged: str) -> None:
    assert "INFO bot.telegram telegram started" in logged  # the capture works
    for secret in NEVER_LOGGED:
        assert secret not in logged, secret
    assert "Traceback" not in logged and " ERROR " not in logged


# ---- logs at DEBUG -----------------------------------------------------------------------------


async def test_debug_logs_in_polling_mode_hold_no_personal_data_or_secrets(polling, api, captured):
    assert logging.getLogger("bot.telegram").isEnabledFor(logging.DEBUG)  # LOG_LEVEL applies to our code
    assert not logging.getLogger("telegram.ext.Application").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    c = citizen(api)
    answer = await c.say(TEXT)
    await c.press(first_callback(answer), answer)
    assert_clean(captured.getvalue())


async def test_debug_logs_in_webhook_mode_hold_no_personal_data_or_secrets(webhook, api, captured):
    _, client = webhook
    c = citizen(api)
    update = c.message_update(TEXT)
    r = await client.post(PATH, json=update, headers=GOOD)
    assert r.status == 200
    await api.handled(update)
    answer = c.last()
    label = first_callback(answer)
    press = c.callback_update(next(b for b in buttons(answer) if b["text"] == label)["callback_data"], answer)
    r = await client.post(PATH, json=press, headers=GOOD)
    assert r.status == 200
    await api.handled(press)
    assert c.count() >= 2 or api.sent("editMessageText")
    assert_clean(captured.getvalue())


def test_the_log_filter_scrubs_every_line_and_never_raises(captured):
    ours = logging.getLogger("bot.test")
    ours.debug("token=%s secret=%s", TOKEN, SECRET)
    ours.info("GET https://api.telegram.org/bot%s/getMe", TOKEN.replace(":", "%3A"))
    ours.info("db postgresql+psycopg://tthc:hunter2pass@db.example.vn/tthc")
    ours.info("call 0912 345 678, 0912.345.678 or +84 912345678; mail binh.nv@example.com")
    ours.info("chat=%s update_id=%s took=%ss", 5000001, 1001, 0.1234567891)
    ours.info("bad %s %s", 1)  # arguments that do not fit: still logged
    try:
        raise ValueError(f"boom {TOKEN}")
    except ValueError:
        ours.exception("failed")
    logging.getLogger("telegram.ext.Application").debug("update %s", TEXT)
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT … %s", TEXT)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
    logged = captured.getvalue()
    for secret in (*NEVER_LOGGED, "hunter2pass", "345 678", "345.678", "912345678", "binh.nv@"):
        assert secret not in logged, secret
    assert "DEBUG bot.test token=[secret] secret=[secret]" in logged
    assert "postgresql+psycopg://tthc:***@db.example.vn/tthc" in logged
    assert "call [phone], [phone] or [phone]; mail [email]" in logged
    assert "chat=5000001 update_id=1001 took=0.1234567891s" in logged
    assert "bad %s %s (bad log arguments)" in logged
    assert "Traceback" in logged and "ValueError: boom [secret]" in logged
    assert "telegram.ext" not in logged and "sqlalchemy" not in logged and "httpx" not in logged


# ---- the webhook -------------------------------------------------------------------------------


def _bad_bodies(c: Chat) -> dict[str, bytes]:
    huge_date = c.message_update("khai sinh")
    huge_date["message"]["date"] = 10**20
    return {
        "list": b"[]",
        "string": b'"x"',
        "number": b"1",
        "null": b"null",
        "empty object": b"{}",
        "update_id not an integer": b'{"update_id": "a"}',
        "huge date": json.dumps(huge_date).encode(),
        "deep nesting": b"[" * 100_000 + b"]" * 100_000,
        "invalid UTF-8": b'{"update_id": 1, "message": "\xff\xfe"}',
        "over the size limit": b'{"update_id": 1, "x": "' + b"a" * (1024 * 1024) + b'"}',
    }


async def test_bad_bodies_get_400_and_one_line_each(webhook, api, captured):
    _, client = webhook
    c = citizen(api)
    for name, body in _bad_bodies(c).items():
        lines = captured.getvalue().count("\n")
        r = await client.post(PATH, data=body, headers={**GOOD, "Content-Type": "application/json"})
        assert r.status == 400, name
        new = captured.getvalue().splitlines()[lines:]
        assert len(new) == 1 and " WARNING bot.telegram telegram webhook bad update: " in new[0], (name, new)
    logged = captured.getvalue()
    assert "Traceback" not in logged and " ERROR " not in logged
    assert not api.sent("sendMessage") and not api.done  # the bot processed nothing
    # …and still serves a good update, the only one it ever handled
    update = c.message_update("/start")
    r = await client.post(PATH, json=update, headers=GOOD)
    assert r.status == 200
    await api.handled(update)
    assert c.count() == 1 and len(api.sent("sendMessage")) == 1 and api.done == {update["update_id"]}


async def test_unauthenticated_requests_are_refused_with_rate_limited_warnings(webhook, api, captured):
    channel, client = webhook
    c = citizen(api)
    body = c.message_update("/start")
    before = captured.getvalue().count(" WARNING ")
    for i in range(100):
        r = await client.post(PATH, json=body)
        assert r.status == 401
        r = await client.post(PATH, json=body, headers={SECRET_HEADER: f"wrong-{i}"})
        assert r.status == 403
    # a secret header that is not UTF-8 is a wrong secret too
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n" + SECRET_HEADER.encode() + b": \xff\xfe\r\n"
                 b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")  # fmt: skip
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 403 ")
    writer.close()
    logged = captured.getvalue()
    assert logged.count(" WARNING ") - before <= 2
    assert "Traceback" not in logged and " ERROR " not in logged
    # after a quiet period (no waiting here: the interval is shortened), the next line counts the others
    channel.webhook_warnings.interval = 0
    r = await client.post(PATH, json=body)
    assert r.status == 401
    assert "telegram webhook without secret header from=127.0.0.1 (99 more suppressed)" in captured.getvalue()
    assert not api.sent("sendMessage") and not api.done
    r = await client.post(PATH, json=body, headers=GOOD)
    assert r.status == 200
    await api.handled(body)
    assert c.count() == 1 and api.done == {body["update_id"]}
