"""The Zalo OA channel end to end: the app's webhook receives events signed as Zalo signs them, the dialog answers
through the outbox, and the replies reach a fake Zalo OA API (tests/fake_zalo.py) on 127.0.0.1: signatures,
time and redelivery, the ask journey with buttons and numbered choices, the whole feedback journey with a photo,
staff answers delivered or undeliverable (shown to staff), token refresh, errors by meaning, settings."""

import asyncio
import itertools
import re
import socket
import threading
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dashboard_util import account, login
from fake_zalo import APP_SECRET, FakeZalo, ZaloServed, ZaloUser, buttons, now_ms, sign, titles, zalo_app
from feedback_util import feedback_sender, feedback_up_to_files, file_item, row
from sqlalchemy import func, select

from bot import inbox
from bot.notify import Senders, deliver_now
from bot.serve import serve
from bot.settings import SettingsError, load_settings
from channels.zalo.channel import NUMBER_HINT, TEXT_LIMIT
from channels.zalo.tables import metadata as zalo_md
from channels.zalo.tables import tokens
from feedback import outbox
from feedback import service as fs
from feedback.attachments import MAX_BYTES
from handlers import pakn
from handlers import texts as d
from handlers.core import Button, Reply, reply_json
from handlers.store import aware

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
_users = itertools.count(int(now_ms()) * 10)


@pytest.fixture
async def zalo():
    fake = await FakeZalo().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def served(app, zalo):
    channel = await ZaloServed(app, zalo).start()
    yield channel
    await channel.stop()


async def http_client(served) -> TestClient:
    from bot.web import make_web_app

    client = TestClient(TestServer(make_web_app(served.app, zalo=served.channel)))
    await client.start_server()
    return client


@pytest.fixture
async def client(served):
    c = await http_client(served)
    yield c
    await c.close()


def user(zalo: FakeZalo, client: TestClient) -> ZaloUser:
    return ZaloUser(zalo, client, str(next(_users)))


def stored(app, user_id: str) -> int:
    """Events of the user kept in the inbox."""
    with app.factory() as s:
        q = select(func.count()).where(inbox.inbox.c.channel == "zalo", inbox.inbox.c.user_id == user_id)
        return s.scalar(q)


def pair(app, zalo: FakeZalo):
    with app.factory() as s:
        return s.execute(select(tokens).where(tokens.c.app_id == zalo.app_id)).one()


def test_migration_matches_the_tables(app):
    with app.factory() as s:
        diff = compare_metadata(MigrationContext.configure(s.connection()), zalo_md)
    assert [x for x in diff if any(f"'{t}'" in repr(x) for t in zalo_md.tables)] == []


# ---- the webhook -----------------------------------------------------------------------------------------------


async def test_signed_events_are_served_and_anything_else_is_refused_unprocessed(served, zalo, client, app):
    u = user(zalo, client)
    greeting = await u.send(u.event(text="/start"))
    assert [m["text"] for m in greeting] == [d.WELCOME]
    assert titles(greeting[0]) == ["Hỏi thủ tục", "Tra cứu theo lĩnh vực", "Gửi phản ánh, kiến nghị",
                                   "Tra cứu phản ánh", "Hướng dẫn"]  # fmt: skip
    assert {b["type"] for b in buttons(greeting[0])} == {"oa.query.show"}
    kept = stored(app, u.user_id)

    event = u.event(text="/menu")
    assert await u.post(event, signature=None) == 401  # missing
    assert await u.post(event, signature=sign(b"{}", event["timestamp"], zalo.app_id)) == 403  # another body's
    assert await u.post(event, signature=sign(b"x", event["timestamp"], zalo.app_id, key="guess")) == 403
    forged = sign(b"x", event["timestamp"], zalo.app_id).replace("mac=", "mac=0")
    assert await u.post(event, signature=forged) == 403
    assert await u.post(event, signature="mac=" + "é" * 64) == 403  # not even ASCII
    assert await u.post(event, raw=b"not json") == 403
    for shift in (-360, 360):  # signed, but more than 5 minutes from now
        assert await u.post({**event, "timestamp": now_ms(shift)}) == 403
    assert stored(app, u.user_id) == kept and len(u.mine()) == 1  # nothing kept, nothing answered

    ok = {**event, "timestamp": now_ms(-200)}  # within 5 minutes
    [menu] = await u.send(ok)
    assert menu["text"] == d.MENU_TEXT
    assert await u.post(ok) == 200  # Zalo delivers it again: acknowledged, not answered twice
    assert stored(app, u.user_id) == kept + 1
    await u.say("/help")
    assert [m["text"] for m in u.mine()] == [d.WELCOME, d.MENU_TEXT, d.HELP]

    r = await client.get("/healthz")
    assert (await r.json())["channels"] == {"zalo": "up"}


async def test_echoes_and_unfollow_are_ignored_and_follow_welcomes(served, zalo, client, app):
    u = user(zalo, client)
    for name in ("oa_send_text", "user_seen_message", "unfollow"):
        assert await u.post(u.event(name, text="Xin chào")) == 200
    assert stored(app, u.user_id) == 0 and u.mine() == []
    [welcome] = await u.send(u.event("follow"))
    assert welcome["text"] == d.WELCOME
    sticker = {"attachments": [{"type": "sticker", "payload": {"id": "a1", "url": zalo.url("sticker")}}]}
    assert (await u.send(u.event("user_send_sticker", **sticker)))[0]["text"] == d.EMPTY


# ---- asking ----------------------------------------------------------------------------------------------------


async def test_a_citizen_asks_presses_buttons_follows_up_and_rates(served, zalo, client):
    u = user(zalo, client)
    card = await u.say("đăng ký khai tử lệ phí bao nhiêu")
    assert "Mã thủ tục: 1.000656" in card["text"] and "Phí, lệ phí:" in card["text"]
    assert titles(card) == ["Hồ sơ", "Thời hạn", "Nơi nộp", "Hữu ích", "Chưa hữu ích"]
    assert re.search(r"Xem trên Cổng Dịch vụ công: https://\S+", card["text"])  # the sixth, a link, in the text
    payload = buttons(card)[0]["payload"]
    assert payload.startswith("Hồ sơ #a:")  # what the citizen is seen to send when pressing it

    follow = await u.say("thế còn thời hạn?")
    assert "Mã thủ tục: 1.000656" in follow["text"] and "Thời hạn giải quyết:" in follow["text"]
    docs = await u.press("Hồ sơ", card)  # a button of an earlier card still works
    assert "Hồ sơ cần nộp:" in docs["text"] and "Mã thủ tục: 1.000656" in docs["text"]
    assert (await u.press("Hữu ích", docs))["text"] == d.RATED
    assert (await u.press("Chưa hữu ích", follow))["text"] == d.ASK_MISSING
    assert (await u.say("thiếu trường hợp người nước ngoài"))["text"] == d.MISSING_THANKS


async def test_more_choices_than_buttons_are_numbered_and_a_typed_number_picks_one(served, zalo, client):
    u = user(zalo, client)
    fields = await u.say("/linhvuc")
    assert len(buttons(fields)) == 5 and fields["text"].endswith(NUMBER_HINT)
    sixth = re.search(r"\[6\] (.+) \(\d+\)", fields["text"])
    assert sixth, fields["text"]
    assert re.search(r"\[7\] ", fields["text"]) and "[5]" not in fields["text"]
    picked = await u.say("6")
    assert picked["text"].startswith(f"Lĩnh vực {sixth.group(1)}")
    await u.say("/start")  # five buttons, no numbers: a number typed now is just text
    assert not (await u.say("6"))["text"].startswith("Lĩnh vực")


async def test_a_long_text_goes_in_parts_of_2000_with_the_buttons_under_the_last(served, zalo):
    uid = str(next(_users))
    text = "\n".join(f"Dòng {i}: " + "thủ tục hành chính " * 8 for i in range(40))
    many = tuple(Button(f"Mục {i}", f"m:1:item{i}") for i in range(1, 8))
    reply = Reply(text, many)
    await served.channel.send(outbox.Outgoing(0, "zalo", uid, reply.text, reply=reply_json(reply)))
    parts = zalo.to(uid)
    assert len(parts) == 4 and all(len(p["text"]) <= TEXT_LIMIT for p in parts)
    assert [bool(buttons(p)) for p in parts] == [False, False, False, True]
    assert titles(parts[-1]) == [f"Mục {i}" for i in range(1, 6)]
    assert "[6] Mục 6" in parts[-1]["text"] and "[7] Mục 7" in parts[-1]["text"]


# ---- feedback --------------------------------------------------------------------------------------------------


def image(u: ZaloUser, zalo: FakeZalo, name: str, data: bytes) -> dict:
    zalo.files[name] = data
    payload = {"thumbnail": zalo.url(name), "url": zalo.url(name)}
    return u.event("user_send_image", attachments=[{"type": "image", "payload": payload}])


def document(u: ZaloUser, zalo: FakeZalo, name: str, data: bytes, size: int) -> dict:
    zalo.files[name] = data
    payload = {"url": zalo.url(name), "name": name, "size": str(size), "checksum": "x", "type": name[-3:]}
    return u.event("user_send_file", attachments=[{"type": "file", "payload": payload}])


async def intake(u: ZaloUser, zalo: FakeZalo) -> None:
    """A feedback filed over Zalo, with a photo, as tests/test_pakn_telegram.py files one over Telegram."""
    await feedback_up_to_files(u)
    [big] = await u.send(document(u, zalo, "ho-so.pdf", b"%PDF-1.4", 50 * 1024 * 1024))
    assert "quá lớn" in big["text"]
    [exe] = await u.send(document(u, zalo, "setup.exe", b"MZ", 2))
    assert "không được nhận" in exe["text"] and zalo.downloads == []  # refused before any download
    [huge] = await u.send(image(u, zalo, "huge.jpg", b"\xff\xd8\xff" + b"\x00" * MAX_BYTES))
    assert "quá lớn" in huge["text"]  # no size told: stopped at the limit
    [fake] = await u.send(image(u, zalo, "not-a-photo", b"MZ\x90\x00" * 100))
    assert "không phải ảnh hoặc PDF" in fake["text"]  # the type read from the bytes
    [ok] = await u.send(image(u, zalo, "giay-hen", PNG))
    assert ok["text"] == pakn.FILE_RECEIVED.format(n=1, max=5) and zalo.downloads[-1] == "giay-hen"
    await u.press("Xong")
    summary = await feedback_sender(u)
    assert "Tệp đính kèm: 1" in summary["text"] and titles(summary) == ["Gửi", "Sửa", "Hủy"]
    done = await u.press("Gửi")  # the acknowledgement with the code follows from the outbox (maybe at once)
    assert "đã được gửi" in done["text"]


async def test_feedback_with_a_photo_the_acknowledgement_and_the_staff_answer_over_zalo(any_app, zalo):
    served = await ZaloServed(any_app, zalo).start()
    client = await http_client(served)
    try:
        u = user(zalo, client)
        await intake(u, zalo)
        [item] = fs.my_items(any_app.factory, fs.Citizen("zalo", u.user_id, ""))
        await zalo.wait_for(lambda: any(item.code in m["text"] for m in u.mine()), "acknowledge")
        [ack] = [m for m in u.mine() if item.code in m["text"]]
        assert "Mã tra cứu" in ack["text"]

        fs.claim(any_app.factory, item.code, "lan.tt")
        fs.answer(any_app.factory, item.code, "lan.tt", "Phường đã trả kết quả, cán bộ liên quan đã được nhắc nhở.")
        served.outbox_wake.set()
        await zalo.wait_for(lambda: any("đã được nhắc nhở" in m["text"] for m in u.mine()), "deliver the answer")
        [answer] = [m for m in u.mine() if "đã được nhắc nhở" in m["text"]]
        assert titles(answer) == ["1", "2", "3", "4", "5"]
        rated = await u.press("4", answer)
        assert rated["text"] == pakn.RATED.format(code=item.code, stars=4)
        assert row(any_app.factory, item.code).rating == 4
    finally:
        await client.close()
        await served.stop()


async def test_an_answer_zalo_refuses_is_shown_to_staff_with_the_citizens_other_contacts(app, zalo):
    served = await ZaloServed(app, zalo, outbox_interval=None).start()  # delivered below, once
    try:
        uid = str(next(_users))
        code = file_item(app.factory, citizen=fs.Citizen("zalo", uid, uid), email="binh@example.vn").code
        zalo.fault("send", error=-230, times=10)  # the citizen has not written to the OA for too long
        fs.claim(app.factory, code, "lan.tt")
        fs.answer(app.factory, code, "lan.tt", "Phường đã trả kết quả.")
        failed = 0
        for _ in range(5):  # a message waits behind the chat's earlier one: one fails each pass
            report = await deliver_now(app.factory, Senders({"zalo": served.channel.send}))
            assert report.sent == 0
            failed += report.failed
        assert failed == 3  # the acknowledgement, the claim, the answer
        assert zalo.to(uid) == [] and ("send", -230) in zalo.refused
    finally:
        await served.stop()
    from bot.web import make_web_app

    async with TestClient(TestServer(make_web_app(app))) as dash:
        await login(dash, account(app, "supervisor"))
        page = await (await dash.get(f"/admin/items/{code}")).text()
    assert page.count("Gửi thất bại: PermanentFailure: Zalo -230: người dân không tương tác") == 3
    assert "Tin nhắn không đến được người dân qua Zalo." in page
    assert "Hãy liên hệ qua điện thoại 0912345678 hoặc thư điện tử binh@example.vn." in page


# ---- tokens and errors -----------------------------------------------------------------------------------------


async def test_a_refused_token_is_refreshed_once_stored_and_used_by_another_process(any_app, zalo):
    served = await ZaloServed(any_app, zalo).start()
    client = await http_client(served)
    try:
        u = user(zalo, client)
        await u.say("/start")
        assert zalo.sent[-1]["token"] == "access-0" and zalo.refreshes == []
        zalo.fault("send", error=-216)  # HTTP 200 with an error body: the token is invalid
        assert (await u.say("/menu"))["text"] == d.MENU_TEXT
        assert zalo.refused == [("send", -216)] and zalo.sent[-1]["token"] == "access-1"
        [asked] = zalo.refreshes
        assert asked == {"refresh_token": "refresh-0", "app_id": zalo.app_id, "grant_type": "refresh_token",
                         "secret_key": APP_SECRET}  # fmt: skip
        stored_pair = pair(any_app, zalo)
        assert (stored_pair.access_token, stored_pair.refresh_token) == ("access-1", "refresh-1")
        left = aware(stored_pair.expires_at) - inbox.utcnow()
        assert timedelta(hours=24) < left <= timedelta(seconds=90000)  # expires_in came as a string

        # the token ends (-216 on expiry): two sends at once refresh once, under the lease, and both go out
        zalo.expire()
        a, b = str(next(_users)), str(next(_users))
        await asyncio.gather(*(served.channel.send(outbox.Outgoing(0, "zalo", x, "Xin chào")) for x in (a, b)))
        assert len(zalo.refreshes) == 2 and zalo.to(a) and zalo.to(b)
        assert pair(any_app, zalo).refresh_token == "refresh-2"

        # another process (or this one restarted): its settings still name the first pair, the stored one is used
        other = await ZaloServed(any_app, zalo, outbox_interval=None).start()
        try:
            await other.channel.send(outbox.Outgoing(0, "zalo", a, "Lần nữa"))
        finally:
            await other.stop()
        assert zalo.sent[-1]["token"] == "access-2" and len(zalo.refreshes) == 2
    finally:
        await client.close()
        await served.stop()


async def test_errors_are_read_from_the_body_whatever_the_status(served, zalo, app):
    chats: list[str] = []

    def queued(text: str) -> int:
        chats.append(str(next(_users)))  # a chat each: a message waiting for a retry holds up its chat
        with app.factory.begin() as s:
            key = f"zalo-test:{chats[-1]}"
            return outbox.enqueue(s, channel="zalo", chat_id=chats[-1], text=text, key=key, now=outbox.utcnow())

    def status(msg_id: int):
        with app.factory() as s:
            return s.execute(select(outbox.outbox).where(outbox.outbox.c.id == msg_id)).one()

    async def attempt(text: str) -> tuple[outbox.DeliveryReport, object]:
        msg_id = queued(text)
        return await outbox.deliver(app.factory, served.channel.send, only=[msg_id]), status(msg_id)

    zalo.fault("send", error=-32)  # rate limit: back off, not counted as a failed attempt
    report, slow = await attempt("chậm lại")
    assert report.retried == 1 and slow.status == "pending" and slow.attempts == 0
    assert aware(slow.next_attempt_at) > outbox.utcnow() + timedelta(seconds=30)
    zalo.fault("send", error=-213, status=400)  # not following, told with HTTP 400: undeliverable
    report, gone = await attempt("không theo dõi")
    assert report.failed == 1 and gone.status == "failed" and "Zalo -213" in gone.last_error
    zalo.fault("send", error=-201, status=200)  # refused, told with HTTP 200
    assert (await attempt("bị từ chối"))[1].status == "failed"
    zalo.fault("send", status=502, body=False)  # not Zalo's answer: tried again with backoff
    report, later = await attempt("thử lại")
    assert report.retried == 1 and later.status == "pending" and later.attempts == 1
    assert not any(zalo.to(chat) for chat in chats)


async def test_the_app_serves_while_zalo_is_unreachable_and_connects_once_it_answers(app, zalo):
    zalo.fault("getoa", status=502, body=False)
    served = await ZaloServed(app, zalo).start()  # waits until connected
    try:
        assert served.channel.status == "up" and ("getoa", 0) in zalo.refused
    finally:
        await served.stop()


async def test_run_serves_the_zalo_webhook_on_the_app_server(app, zalo):
    """`python -m bot run` wiring: the HTTP server with the Zalo route, /healthz, replies sent by the worker."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    zapp = zalo_app(app, zalo, host="127.0.0.1", port=port)
    stop, listening = asyncio.Event(), threading.Event()
    server = asyncio.create_task(serve(zapp, stop, listening))
    try:
        assert await asyncio.to_thread(listening.wait, 30)
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            u = ZaloUser(zalo, http, str(next(_users)))
            health = await (await http.get("/healthz")).json()
            assert "zalo" in health["channels"]
            assert await u.post(u.event(text="/start")) == 200
            await zalo.wait_for(lambda: len(u.mine()) == 1, "greet")
        assert u.mine()[0]["text"] == d.WELCOME
    finally:
        stop.set()
        await server


# ---- settings --------------------------------------------------------------------------------------------------


def test_settings():
    s = load_settings()
    assert (s.zalo_app_id, s.zalo_webhook_path) == ("", "/zalo/webhook")
    assert (s.zalo_api_base_url, s.zalo_oauth_base_url) == ("https://openapi.zalo.me", "https://oauth.zaloapp.com")
    local = load_settings(zalo_api_base_url="http://127.0.0.1:9/", zalo_oauth_base_url="http://127.0.0.1:9")
    assert (local.zalo_api_base_url, local.zalo_oauth_base_url) == ("http://127.0.0.1:9", "http://127.0.0.1:9")
    for name, bad in [("zalo_app_id", "my-app"), ("zalo_api_base_url", "openapi.zalo.me"),
                      ("zalo_oauth_base_url", "ftp://oauth.zaloapp.com"), ("zalo_webhook_path", "zalo")]:  # fmt: skip
        with pytest.raises(SettingsError, match=f"setting {name.upper()} is invalid"):
            load_settings(**{name: bad})
    with pytest.raises(SettingsError, match="ZALO_APP_SECRET"):
        load_settings(zalo_app_id="123", zalo_oa_secret_key="k").check_zalo()
    with pytest.raises(SettingsError, match="ZALO_OA_SECRET_KEY"):
        load_settings(zalo_app_id="123", zalo_app_secret="s").check_zalo()
    with pytest.raises(SettingsError, match="must differ"):
        load_settings(zalo_app_id="1", zalo_app_secret="s", zalo_oa_secret_key="k",
                      zalo_webhook_path="/telegram/webhook").check_zalo()  # fmt: skip
    load_settings(zalo_app_id="123", zalo_app_secret="s", zalo_oa_secret_key="k").check_zalo()
