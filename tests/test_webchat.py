"""The portal web chat over HTTP: messages in through the inbox and the dispatcher, replies out through the outbox
into the session's log, read by Server-Sent Events or by polling; duplicates, origins, the rate limit, bad input,
the feedback form's upload, the page and the widget's headers."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta

import pytest
from aiohttp import FormData
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fake_telegram import WAIT
from feedback_util import feedback_sender, feedback_up_to_files, migrated
from sqlalchemy import func, select
from webchat_util import PNG, Visitor, WebChatServed

from bot import inbox
from channels.webchat import channel as wc
from channels.webchat import tables as wc_tables
from feedback import outbox
from feedback import service as fs
from handlers.pakn.intake import FILE_RECEIVED

PORTAL = "https://dichvucong.example.gov.vn"


@pytest.fixture
async def served(app):
    s = await WebChatServed(app, webchat_origins=f"{PORTAL}, https://other.example.vn/").start()
    yield s
    await s.stop()


@pytest.fixture
async def any_served(any_app):
    s = await WebChatServed(any_app, webchat_origins=PORTAL).start()
    yield s
    await s.stop()


# ---- asking ----------------------------------------------------------------------------------------------------


async def test_a_visitor_is_welcomed_asks_presses_and_follows_up(any_served):
    v = Visitor(any_served, origin=PORTAL)
    [welcome] = await v.send({"start": True})
    assert welcome["from"] == "bot" and welcome["text"]
    card = await v.say("đăng ký khai tử lệ phí bao nhiêu")
    assert "Mã thủ tục: 1.000656" in card["text"] and "Phí, lệ phí:" in card["text"]
    labels = [b["label"] for b in card["buttons"]]
    assert labels[:3] == ["Hồ sơ", "Thời hạn", "Nơi nộp"]
    assert any(b.get("url", "").startswith("https://") for b in card["buttons"])  # the portal's page, a link
    docs = await v.press("Hồ sơ", card)
    assert "Hồ sơ cần nộp:" in docs["text"] and "Mã thủ tục: 1.000656" in docs["text"]
    follow = await v.say("thế còn lệ phí?")
    assert "Mã thủ tục: 1.000656" in follow["text"] and "Phí, lệ phí:" in follow["text"]
    log = await v.messages()
    mine = [m["text"] for m in log if m["from"] == "user"]
    assert mine == ["đăng ký khai tử lệ phí bao nhiêu", "Hồ sơ", "thế còn lệ phí?"]  # the welcome's start is not
    assert [m["id"] for m in log] == sorted(m["id"] for m in log)


async def test_the_event_stream_yields_the_reply_and_resumes_after_last_event_id(served):
    v = Visitor(served)
    first = await v.say("đăng ký khai sinh")
    async with served.client.get("/chat/api/events", headers=v.headers()) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        events = await _events(r, lambda e: e["from"] == "bot")
    assert [e["id"] for e in events] == [m["id"] for m in await v.messages()]
    assert events[-1]["text"] == first["text"]

    await v.post({"id": secrets.token_hex(8), "text": "thế còn lệ phí?"})
    resume = {**v.headers(), "Last-Event-ID": str(events[-1]["id"])}
    async with served.client.get("/chat/api/events", headers=resume) as r:
        later = await _events(r, lambda e: e["from"] == "bot")
    assert later[0]["from"] == "user" and later[0]["text"] == "thế còn lệ phí?"  # nothing before it again
    assert "Phí, lệ phí:" in later[-1]["text"]


async def _events(response, until) -> list[dict]:
    """The stream's events up to the first one `until` accepts (after a reply is awaited: a safety timeout)."""
    found: list[dict] = []

    async def read() -> None:
        data = ""
        async for line in response.content:
            text = line.decode().rstrip("\n")
            if text.startswith("data: "):
                data = text[6:]
            elif text == "" and data:
                found.append(json.loads(data))
                data = ""
                if until(found[-1]):
                    return

    await asyncio.wait_for(read(), WAIT)
    return found


async def test_polling_returns_what_came_after_a_given_message(served):
    v = Visitor(served)
    await v.say("đăng ký khai sinh")
    everything = await v.messages()
    assert [m["from"] for m in everything][:1] == ["user"] and everything[-1]["from"] == "bot"
    assert await v.messages(everything[0]["id"]) == everything[1:]
    assert await v.messages(everything[-1]["id"]) == []
    other = Visitor(served)
    assert await other.messages() == []  # one session never sees another's


async def test_a_message_sent_twice_is_handled_once(served):
    v = Visitor(served)
    body = {"id": "dup-" + secrets.token_hex(6), "text": "đăng ký kết hôn"}
    first, again = await v.post(body), await v.post(body)
    assert (await first.json())["outcome"] == "new" and (await again.json())["outcome"] == "duplicate"
    await served.wait_handled(f"{v.session}:{body['id']}")
    log = await v.messages()
    assert [m["from"] for m in log].count("user") == 1
    with served.app.factory() as s:
        mine = (inbox.inbox.c.channel == "webchat", inbox.inbox.c.user_id == v.session)
        rows = s.scalar(select(func.count()).where(*mine))
    assert rows == 1


async def test_the_session_comes_back_in_a_cookie_and_a_new_one_is_made_when_none_is_given(served):
    r = await served.client.post("/chat/api/messages", json={"text": "xin chào"})
    assert r.status == 202
    made = (await r.json())["session"]
    assert wc.SESSION.fullmatch(made) and r.headers["X-Chat-Session"] == made
    cookie = r.cookies[wc.SESSION_COOKIE]
    assert cookie.value == made and cookie["httponly"] and cookie["path"] == "/chat/api"
    polled = await served.client.get("/chat/api/messages")  # the cookie alone names the session now
    assert (await polled.json())["session"] == made


# ---- origins ---------------------------------------------------------------------------------------------------


async def test_listed_origins_get_credentials_and_others_are_refused(served):
    allowed = await Visitor(served, origin=PORTAL).post({"text": "đăng ký khai sinh"})
    assert allowed.status == 202
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    listed_with_slash = await Visitor(served, origin="https://other.example.vn").messages()
    assert listed_with_slash == []

    for origin in ("https://evil.example.com", "null", PORTAL + ".evil.com"):
        v = Visitor(served, origin=origin)
        r = await v.post({"text": "đăng ký khai sinh"})
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
        assert (await r.json())["error"] == wc.NOT_ALLOWED
        polled = await served.client.get("/chat/api/messages", headers=v.headers())
        assert polled.status == 403
        events = await served.client.get("/chat/api/events", headers=v.headers())
        assert events.status == 403
    own = served.server.make_url("").origin()
    same = await Visitor(served, origin=str(own)).post({"text": "đăng ký khai sinh"})
    assert same.status == 202 and "Access-Control-Allow-Origin" not in same.headers


async def test_preflight_is_answered_for_listed_origins_only(served):
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-chat-session"}
    ok = await served.client.options("/chat/api/messages", headers={"Origin": PORTAL, **ask})
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "X-Chat-Session" in ok.headers["Access-Control-Allow-Headers"]
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    refused = await served.client.options("/chat/api/messages", headers={"Origin": "https://evil.example.com", **ask})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers


# ---- limits and bad input --------------------------------------------------------------------------------------


async def test_more_than_twenty_messages_a_minute_are_refused_politely(served):
    v = Visitor(served)
    for i in range(wc.RATE):
        assert (await v.post({"id": f"rate-{i:04d}", "text": f"câu hỏi {i}"})).status == 202
    r = await v.post({"text": "một câu nữa"})
    assert r.status == 429 and r.headers["Retry-After"] == "60"
    assert (await r.json())["error"] == wc.TOO_FAST
    assert (await Visitor(served).post({"text": "đăng ký khai sinh"})).status == 202  # another session is not held


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b'{"text": ""}', "application/json", 400, wc.EMPTY),
        (b'{"text": "   "}', "application/json", 400, wc.EMPTY),
        (b"{}", "application/json", 400, wc.EMPTY),
        (b'{"text": "x', "application/json", 400, wc.BAD_JSON),
        (b"[1, 2]", "application/json", 400, wc.BAD_JSON),
        (b'{"text": 5}', "application/json", 400, wc.BAD_JSON),
        (b"\xff\xfe\x00binary\x00", "application/octet-stream", 400, wc.BAD_JSON),
        (b"[" * 100_000, "application/json", 413, wc.TOO_LARGE),
        (json.dumps({"text": "a" * (wc.TEXT_MAX + 1)}).encode(), "application/json", 400, wc.TOO_LONG),
        (json.dumps({"text": "á" * 5000}, ensure_ascii=False).encode(), "application/json", 400, wc.TOO_LONG),
        (b"x" * (2 * 1024 * 1024), "application/json", 413, wc.TOO_LARGE),
        (b"--nope\r\n", "multipart/form-data; boundary=zzz", 400, None),
    ],
)
async def test_bad_input_is_refused_in_vietnamese_and_nothing_is_stored(served, body, content_type, status, error):
    v = Visitor(served)
    r = await served.client.post("/chat/api/messages", data=body, headers={**v.headers(), "Content-Type": content_type})
    assert r.status == status
    answer = await r.json()
    assert answer["error"] == error if error else answer["error"]
    assert await v.messages() == []
    with served.app.factory() as s:
        assert not s.scalar(select(func.count()).where(inbox.inbox.c.user_id == v.session))


# ---- the feedback form -----------------------------------------------------------------------------------------


async def test_feedback_with_a_photo_uploaded_by_the_browser(served):
    v = Visitor(served)
    await feedback_up_to_files(v)
    exe = FormData()
    exe.add_field("file", b"MZ\x90\x00" * 10, filename="setup.exe", content_type="application/octet-stream")
    [refused] = await v.send(data=exe)
    assert "không được nhận" in refused["text"]
    fake = FormData()
    fake.add_field("file", b"MZ\x90\x00" * 100, filename="anh.png", content_type="image/png")
    [not_photo] = await v.send(data=fake)
    assert "không phải ảnh hoặc PDF" in not_photo["text"]  # the type read from the bytes
    photo = FormData()
    photo.add_field("file", PNG, filename="giay-hen.png", content_type="image/png")
    [ok] = await v.send(data=photo)
    assert ok["text"] == FILE_RECEIVED.format(n=1, max=5)
    assert any(m["from"] == "user" and "giay-hen.png" in m["text"] for m in await v.messages())
    await v.press("Xong")
    summary = await feedback_sender(v)
    assert "Tệp đính kèm: 1" in summary["text"]
    await v.press("Gửi")
    [item] = fs.my_items(served.app.factory, fs.Citizen("webchat", v.session, ""))

    async def acknowledged() -> None:
        while not any(item.code in m["text"] for m in await v.messages()):
            await asyncio.sleep(0.1)

    await asyncio.wait_for(acknowledged(), WAIT)
    [ack] = [m for m in await v.messages() if item.code in m["text"]]
    assert "Mã tra cứu" in ack["text"]


# ---- the page and the widget -----------------------------------------------------------------------------------


async def test_the_log_is_shown_in_my_data_erased_on_request_and_kept_no_longer_than_a_day(served):
    v = Visitor(served)
    await v.say("Tôi là Nguyễn Văn An, số 0912345678, hỏi thủ tục đăng ký khai tử")
    other = Visitor(served)
    await other.say("lệ phí khai sinh")
    mine = await v.say("/dulieucuatoi")
    kept = len(await v.messages()) - 1  # this reply is logged after it was written
    assert f"{kept} tin nhắn trong lịch sử trò chuyện trên trang" in mine["text"]
    ask = await v.say("/xoadulieu")
    assert "lịch sử trò chuyện" in ask["text"]
    done = await v.press("Xóa dữ liệu của tôi", ask)
    assert "lịch sử trò chuyện lưu trên trang" in done["text"]
    assert [m["text"] for m in await v.messages()] == [done["text"]]  # the confirmation only: the rest is gone
    with served.app.factory() as s:  # and of the replies delivered to the chat, only the confirmation is kept
        kept = list(s.scalars(select(outbox.outbox.c.text).where(outbox.outbox.c.chat_id == v.session)))
        others = s.scalar(select(func.count()).where(outbox.outbox.c.chat_id == other.session))
    assert kept == [done["text"]] and others == 1  # the other session's one answer stays
    assert "0912345678" not in json.dumps(await v.messages(), ensure_ascii=False)
    assert len(await other.messages()) == 2  # another session keeps its log

    day_ago = inbox.utcnow() - served.app.conversations.context_ttl
    with served.app.factory.begin() as s:  # the other session's messages are a day old, plus a second
        s.execute(
            wc.messages.update()
            .where(wc.messages.c.session_id == other.session)
            .values(created_at=day_ago - timedelta(seconds=1))
        )
    served.app.upkeep()
    assert await other.messages() == [] and [m["text"] for m in await v.messages()] == [done["text"]]


def test_the_migrations_make_the_tables_as_declared(any_url):
    engine, _ = migrated(any_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), wc_tables.metadata)
    engine.dispose()
    assert [x for x in diff if any(f"'{t}'" in repr(x) for t in wc_tables.metadata.tables)] == []


async def test_the_page_has_its_own_csp_and_the_widget_is_a_small_file(served):
    page = await served.client.get("/chat")
    assert page.status == 200
    html = await page.text()
    assert '<html lang="vi">' in html and 'name="viewport"' in html
    assert '<script src="/widget.js"' in html and "<script>" not in html  # no inline script
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    widget = await served.client.get("/widget.js")
    assert widget.status == 200 and widget.content_type == "application/javascript"
    source = await widget.read()
    assert len(source) < 12 * 1024 and b"innerHTML" not in source
    assert b'role: "log"' in source and b"EventSource" in source
    assert (await served.client.get("/widget.css")).content_type == "text/css"
    admin = await served.client.get("/admin/login")
    assert admin.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
