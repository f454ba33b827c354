"""Feedback end to end on Telegram: python-telegram-bot against the fake Bot API server, a file
downloaded for the form, and the acknowledgement delivered once through the outbox (also after a
crash before delivery), plain text; a user who blocked the bot is a permanent failure."""

import dataclasses
import itertools

import pytest
from fake_telegram import Chat, FakeBotAPI, buttons, start_channel
from feedback_util import CONTENT, feedback_sender, feedback_up_to_files, file_item, outbox_rows, row

from bot.app import build
from bot.notify import Senders, deliver_now
from bot.settings import load_settings
from bot.telegram import file_base_url
from feedback import service as fs
from feedback.outbox import utcnow
from handlers import pakn

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
_users = itertools.count(7_000_001)


@pytest.fixture(scope="module")
def fapp(tmp_path_factory):
    base = tmp_path_factory.mktemp("pakn_tg")
    a = build(load_settings(database_url=f"sqlite:///{base / 'app.db'}", data_dir=base / "data"))
    yield a
    a.engine.dispose()





def test_file_base_url():
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"


async def file_in(citizen: Chat, api: FakeBotAPI, file_id: str, name: str, data: bytes | None, size: int):
    if data is not None:
        api.files[file_id] = data
    doc = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": name, "file_size": size}
    return await citizen.say("", document=doc)


async def intake(citizen: Chat, api: FakeBotAPI) -> None:
    await feedback_up_to_files(citizen)
    big = await file_in(citizen, api, "big1", "anh.jpg", None, 50 * 1024 * 1024)
    assert "quá lớn" in big["text"]
    exe = await file_in(citizen, api, "exe1", "setup.exe", b"MZ", 2)
    assert "không được nhận" in exe["text"]
    assert api.downloads == []  # refused before any download
    ok = await file_in(citizen, api, "png1", "giay-hen.png", PNG, len(PNG))
    assert ok["text"] == pakn.FILE_RECEIVED.format(n=1, max=5) and api.downloads == ["png1"]
    await citizen.press("Xong")
    summary = await feedback_sender(citizen)
    assert "Tệp đính kèm: 1" in summary["text"]
    assert [b["text"] for b in buttons(summary)] == ["Gửi", "Sửa", "Hủy"]
    before = citizen.count()
    await citizen.press("Gửi")
    # the reply itself carries no code; the acknowledgement (with the code) may follow at once from the worker
    done = citizen.mine()[before]
    assert "đã được gửi" in done["text"] and "PA-" not in done["text"]


async def test_intake_and_one_acknowledgement_through_the_outbox(fapp, api):
    staffed = build(load_settings(database_url=fapp.settings.db_url, data_dir=fapp.settings.data_dir,
                                  staff_telegram_chat_id="-100777"))  # fmt: skip
    channel = await start_channel(staffed, api)
    try:
        citizen = Chat(api, next(_users))
        await intake(citizen, api)
        [status] = fs.my_items(fapp.factory, fs.Citizen("telegram", str(citizen.user["id"]), ""))
        senders = Senders({"telegram": channel.send})
        before = citizen.count()
        await deliver_now(fapp.factory, senders)
        await deliver_now(fapp.factory, senders)  # nothing twice
        new = [m["text"] for m in citizen.mine()[before:]]
        assert len(new) == 1 and status.code in new[0] and "Mã tra cứu" in new[0]
        sent = api.sent(chat_id=citizen.chat["id"])[-1]
        assert "parse_mode" not in sent  # plain text: what the citizen typed is shown as typed
        staff = [p["text"] for p in api.sent(chat_id=-100777)]
        assert any(status.code in t for t in staff) and not any("Bình" in t for t in staff)
    finally:
        await channel.stop()
        staffed.engine.dispose()


async def test_a_crash_before_delivery_still_delivers_once(fapp, api):
    channel = await start_channel(fapp, api, outbox_interval=None)  # no worker: the process dies before delivery
    citizen = Chat(api, next(_users))
    try:
        await intake(citizen, api)
    finally:
        await channel.stop()  # the process dies before any worker pass
    code = fs.my_items(fapp.factory, fs.Citizen("telegram", str(citizen.user["id"]), ""))[0].code
    assert [m.status for m in outbox_rows(fapp.factory, code)] == ["pending"]
    restarted = build(fapp.settings)
    channel = await start_channel(dataclasses.replace(fapp, factory=restarted.factory), api, outbox_interval=None)
    try:
        before = citizen.count()
        senders = Senders({"telegram": channel.send})
        await deliver_now(restarted.factory, senders)
        await deliver_now(restarted.factory, senders)
        new = [m["text"] for m in citizen.mine()[before:]]
        assert len(new) == 1 and code in new[0]
        assert [m.status for m in outbox_rows(fapp.factory, code)] == ["sent"]
    finally:
        await channel.stop()
        restarted.engine.dispose()


async def test_a_blocked_bot_is_a_permanent_failure(fapp, api):
    channel = await start_channel(fapp, api, outbox_interval=None)  # this test delivers the acknowledgement
    citizen = Chat(api, next(_users))
    try:
        await intake(citizen, api)
        api.blocked.add(citizen.chat["id"])
        report = await deliver_now(fapp.factory, Senders({"telegram": channel.send}))
        assert report.failed == 1
        code = fs.my_items(fapp.factory, fs.Citizen("telegram", str(citizen.user["id"]), ""))[0].code
        assert [m.status for m in outbox_rows(fapp.factory, code)] == ["failed"]
    finally:
        await channel.stop()


def test_the_terminal_chat_prints_the_acknowledgement_once(fapp):
    from bot.cli import _console_delivery
    from bot.console import chat
    from bot.notify import CONSOLE_HEAD

    lines = iter(
        ["/phananh", "1", CONTENT, "1", "UBND phường Hà Đông", "1", "1", "Nguyễn Văn Bình",
         "số 12 ngõ 45 phố Lê Lợi, Hà Đông, Hà Nội", "0912 345 678", "1", "thoát"]
    )  # fmt: skip
    out: list[str] = []
    user = f"console-{next(_users)}"
    chat(fapp.conversations, read=lambda _: next(lines), write=out.append, user=user,
         deliver=_console_delivery(fapp, write=out.append))  # fmt: skip
    acks = [t for t in out if t.startswith(CONSOLE_HEAD)]
    assert len(acks) == 1 and "Mã tra cứu: PA-" in acks[0]
    assert any("đã được gửi" in t for t in out)


async def test_the_answer_notification_carries_rating_buttons_that_work(any_app, api, any_channel):
    citizen = Chat(api, next(_users))
    await citizen.say("/start")
    uid = str(citizen.user["id"])
    code = file_item(any_app.factory, citizen=fs.Citizen("telegram", uid, uid), now=utcnow()).code
    fs.claim(any_app.factory, code, "lan.tt")
    answer = ("Phường đã trả kết quả, cán bộ liên quan đã được nhắc nhở.\n" * 80)[:3990]  # two parts with the head
    fs.answer(any_app.factory, code, "lan.tt", answer)
    before = len(api.sent(chat_id=citizen.chat["id"]))
    # the channel's outbox worker delivers them (one deliverer: the order is the order they were written)
    await api.wait_for(lambda: len(api.sent(chat_id=citizen.chat["id"])) >= before + 4, "deliver the notifications")
    ack, claimed, *parts = api.sent(chat_id=citizen.chat["id"])[before:]
    assert "Mã tra cứu" in ack["text"] and "reply_markup" not in ack and "reply_markup" not in claimed
    assert len(parts) == 2 and "reply_markup" not in parts[0]  # the keyboard goes under the last part
    assert all("parse_mode" not in p for p in (ack, claimed, *parts))  # still plain text
    assert [b["text"] for b in buttons(parts[1])] == ["1", "2", "3", "4", "5"]
    assert len(parts[1]["reply_markup"]["inline_keyboard"]) == 2  # one group: three to a row
    # pressed at once or much later, from the notification: the turn it names is one every such chat has had
    await citizen.say("đăng ký khai tử")
    [notification] = [m for m in citizen.mine() if m["text"] == parts[1]["text"]]
    assert (await citizen.press("4", notification))["text"] == pakn.RATED.format(code=code, stars=4)
    assert row(any_app.factory, code).rating == 4
    assert "đã đánh giá" in (await citizen.press("5", notification))["text"]
    assert row(any_app.factory, code).rating == 4
