"""Feedback privacy, attacked through the chat as an outsider would: python-telegram-bot against the fake
Bot API, the real app, on SQLite and on PostgreSQL. Guessing a tracking code's phone digits, what
another chat may see, digits in other scripts, control characters, forged form buttons, erasure."""

import itertools
from datetime import timedelta

import pytest
from conftest import STAFF_CHAT
from fake_telegram import Chat, buttons
from feedback_util import file_item, row
from sqlalchemy import event, select, update

from bot.notify import Senders, deliver_now
from feedback import guard, texts
from feedback import service as fs
from feedback.outbox import utcnow
from feedback.tables import items
from handlers import pakn
from handlers.store import conversations

_users = itertools.count(8_000_001)
WRONG = str(fs.NotFound())








def person(api) -> Chat:
    return Chat(api, next(_users))


def filed_by(app, chat: Chat, **over) -> str:
    uid = str(chat.user["id"])
    return file_item(app.factory, citizen=fs.Citizen("telegram", uid, uid), now=utcnow(), **over).code


async def test_guessing_the_digits_locks_the_code_and_alerts_staff(any_app, api, any_channel):
    owner = person(api)
    code = filed_by(any_app, owner)
    answers = [(await person(api).say(f"/tracuu {code} {n:04d}"))["text"] for n in range(1111, 6666, 1111)]
    assert answers == [WRONG] * guard.PER_CODE_HOUR
    # the right digits, from yet another chat, are refused now: the code is locked for other chats
    late = await person(api).say(f"/tracuu {code} 5678")
    assert "tạm khóa" in late["text"] and "Bình" not in late["text"] and "Đã tiếp nhận" not in late["text"]
    # the sender's own chat is never locked out
    assert "Tình trạng: Đã tiếp nhận" in (await owner.say(f"/tracuu {code}"))["text"]
    # staff hear of it once, through the outbox
    await deliver_now(any_app.factory, Senders({"telegram": any_channel.send}))
    alerts = [p["text"] for p in api.sent(chat_id=int(STAFF_CHAT)) if "Cảnh báo bảo mật" in p["text"]]
    assert len(alerts) == 1 and code in alerts[0]


async def test_an_unknown_code_is_answered_like_wrong_digits_and_locks_alike(any_app, api, any_channel):
    made_up = "PA-7K3M9Q2X"
    assert any_app.factory().execute(select(items).where(items.c.code == made_up)).first() is None
    answers = [(await person(api).say(f"/tracuu {made_up} {n:04d}"))["text"] for n in range(1, 7)]
    assert answers[: guard.PER_CODE_HOUR] == [WRONG] * guard.PER_CODE_HOUR and "tạm khóa" in answers[-1]


def _statements(engine, attempt) -> list[str]:
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        with pytest.raises(fs.NotFound):
            attempt()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def test_no_such_code_and_wrong_digits_take_the_same_steps(any_app):
    """The same statements, in the same order, for both refusals: nothing in the timing tells them apart."""
    code = file_item(any_app.factory, now=utcnow()).code
    stranger = fs.Citizen("telegram", str(next(_users)), "x")
    now = utcnow()
    wrong = _statements(any_app.engine, lambda: fs.lookup(any_app.factory, code, stranger, "1111", now=now))
    stranger = fs.Citizen("telegram", str(next(_users)), "x")
    unknown = _statements(any_app.engine, lambda: fs.lookup(any_app.factory, "PA-00000000", stranger, "1111", now=now))
    assert wrong == unknown and any("feedback_lookups" in s for s in wrong)


def test_a_chat_guessing_many_codes_waits_longer_each_time_then_is_locked(any_app):
    chat = fs.Citizen("telegram", str(next(_users)), "x")
    codes = [file_item(any_app.factory, now=utcnow()).code for _ in range(3)]
    start = utcnow()
    # two honest mistakes cost nothing
    for i in range(guard.FREE_MISTAKES):
        with pytest.raises(fs.NotFound):
            fs.lookup(any_app.factory, codes[i], chat, "0000", now=start)
    with pytest.raises(guard.Wait) as waited:  # then each guess waits: 2 s, 4 s, 8 s …
        fs.lookup(any_app.factory, codes[2], chat, "0000", now=start)
    assert "2 giây" in str(waited.value)
    at = start
    for n in range(guard.FREE_MISTAKES, guard.PER_CHAT_HOUR):
        at += timedelta(seconds=2 ** (n - guard.FREE_MISTAKES + 1))
        with pytest.raises(fs.NotFound):  # other codes each time: the per-code limit is not what stops it
            fs.lookup(any_app.factory, f"PA-{n:08d}", chat, "0000", now=at)
    with pytest.raises(guard.Locked):  # even the right digits of a real code, until an hour has passed
        fs.lookup(any_app.factory, codes[0], chat, "5678", now=at + timedelta(minutes=30))
    assert fs.lookup(any_app.factory, codes[0], chat, "5678", now=start + timedelta(minutes=61)).code == codes[0]


async def test_another_chat_sees_the_status_and_redacted_text_only(any_app, api, any_channel):
    owner = person(api)
    code = filed_by(any_app, owner)
    fs.claim(any_app.factory, code, "lan.tt")
    reply = "Kính gửi ông Nguyễn Văn Bình, số 12 ngõ 45 phố Lê Lợi: hồ sơ đã được trả, liên hệ lại 0912345678."
    fs.answer(any_app.factory, code, "lan.tt", reply)
    other = person(api)
    seen = await other.say(f"/tracuu {code} 5678")
    assert "Tình trạng: Đã có trả lời" in seen["text"] and "hồ sơ đã được trả" in seen["text"]
    for personal in ("Bình", "0912345678", "ngõ 45"):
        assert personal not in seen["text"]
    assert buttons(seen) == []  # nothing to act on: no rating, no reply
    mine = await owner.say(f"/tracuu {code}")
    assert "Nguyễn Văn Bình" in mine["text"] and [b["text"] for b in buttons(mine)] == ["1", "2", "3", "4", "5"]


async def test_a_published_list_shows_no_tracking_code(any_app, api, any_channel):
    owner = person(api)
    code = filed_by(any_app, owner, procedure_code="1.000894", field="Hộ tịch")
    fs.claim(any_app.factory, code, "lan.tt")
    fs.answer(any_app.factory, code, "lan.tt", "Phường đã trả kết quả đúng hạn.")
    fs.publish(any_app.factory, code, "lan.tt")
    reader = person(api)
    card = await reader.say("/thutuc đăng ký kết hôn")
    listed = await reader.press("Phản ánh đã được trả lời", card)
    assert "Phường đã trả kết quả" in listed["text"] and code not in listed["text"] and "PA-" not in listed["text"]


async def test_phone_digits_in_other_scripts_are_stored_and_compared_as_ascii(any_app, api, any_channel):
    sender = person(api)
    await sender.say("/phananh")
    await sender.press("Phản ánh")
    await sender.say("Bộ phận một cửa xã hẹn trả kết quả chứng thực bản sao sau 3 ngày nhưng đã 2 tuần chưa trả.")
    await sender.press("Bỏ qua")  # procedure
    await sender.press("Bỏ qua")  # agency
    await sender.press("Đồng ý")
    await sender.press("Bỏ qua")  # files
    await sender.say("Trần Thị Hoa")
    await sender.say("thôn 3, xã Phú Mỹ, tỉnh Bình Định")
    summary = await sender.say("٠٩٨٧ ٦٥٤ ٣٢١")  # Arabic-Indic digits
    assert "Liên hệ: 0987654321" in summary["text"]
    await sender.press("Gửi")
    [status] = fs.my_items(any_app.factory, fs.Citizen("telegram", str(sender.user["id"]), ""))
    assert row(any_app.factory, status.code).sender_phone == "0987654321"
    assert "Tình trạng" in (await person(api).say(f"/tracuu {status.code} ４３２１"))["text"]  # full-width
    # a phone stored as typed by an older version no longer breaks the comparison
    with any_app.factory.begin() as s:
        s.execute(update(items).where(items.c.code == status.code).values(sender_phone="٠٩٨٧٦٥٤٣٢١"))
    assert "Tình trạng" in (await person(api).say(f"/tracuu {status.code} 4321"))["text"]
    assert (await person(api).say(f"/tracuu {status.code} ٤٣٢٠"))["text"] == WRONG


async def test_control_and_direction_characters_are_stripped_at_the_boundary(any_app, api, any_channel):
    citizen = person(api)
    card = await citizen.say("đăng ký\x00 khai sinh\u202e cần\x85 giấy tờ gì")
    assert "Mã thủ tục: 1.001193" in card["text"]
    again = await citizen.press("Lệ phí", card)  # the stored state is read back fine (PostgreSQL refused NUL)
    assert "Phí, lệ phí" in again["text"] and "sự cố" not in again["text"]
    state = any_app.conversations.state("telegram", str(citizen.user["id"]))
    assert state.turns[-1] == "đăng ký khai sinh cần giấy tờ gì"
    await citizen.say("/phananh")
    await citizen.press("Phản ánh")
    await citizen.say("Cán bộ \u202eyêu cầu\u202c nộp thêm\x9b giấy tờ\u2066 không có trong quy định khi chứng thực.")
    draft = any_app.conversations.state("telegram", str(citizen.user["id"])).form["draft"]
    assert draft["content"] == "Cán bộ yêu cầu nộp thêm giấy tờ không có trong quy định khi chứng thực."


async def test_forged_form_buttons_cannot_skip_a_step(any_app, api, any_channel):
    citizen = person(api)
    intro = await citizen.say("/phananh")
    await citizen.press("Phản ánh", intro)
    await citizen.say("Bộ phận một cửa xã hẹn trả kết quả chứng thực bản sao sau 3 ngày nhưng đã 2 tuần chưa trả.")
    await citizen.press("Bỏ qua")
    consent = await citizen.say("UBND xã Phú Mỹ")
    assert texts.CONSENT_TEXT in consent["text"]
    turn = buttons(consent)[0]["callback_data"].split(":")[1]
    uid = str(citizen.user["id"])
    for forged in (f"f:{turn}:edit:back", f"f:{turn}:confirm:send", f"f:{turn}:files:done", f"f:{turn}:edit:name"):
        got = await citizen.tap(forged, consent)
        assert got[-1]["text"].startswith(pakn.STALE), forged
        assert any_app.conversations.state("telegram", uid).form["field"] == "consent"
    # a button of the right step, but drawn before the form reached it (the intro's kind buttons) is old too
    assert (await citizen.press("Kiến nghị", intro))["text"].startswith(pakn.STALE)
    assert fs.my_items(any_app.factory, fs.Citizen("telegram", uid, "")) == []


async def test_erasure_forgets_the_questions_asked(any_app, api, any_channel):
    citizen = person(api)
    await citizen.say("bố tôi mất cần làm giấy báo tử ở đâu")
    await citizen.say("thế còn lệ phí?")
    shown = await citizen.say("/dulieucuatoi")
    assert "2 câu hỏi gần đây" in shown["text"]
    ask = await citizen.say("/xoadulieu")
    done = await citizen.press("Xóa dữ liệu của tôi", ask)
    assert pakn.ERASED_QUESTIONS in done["text"]
    with any_app.factory() as s:
        stored = s.execute(
            select(conversations.c.state).where(
                conversations.c.channel == "telegram", conversations.c.user_id == str(citizen.user["id"])
            )
        ).scalar_one()
    assert "giấy báo tử" not in str(stored) and "lệ phí" not in str(stored)
    assert (await citizen.say("/xoadulieu"))["text"] == pakn.ERASE_NOTHING
