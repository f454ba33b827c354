"""The feedback dialogs through the dialog core and the stored conversation, on a real database:
intake with bad values at each step, cancel, restart, submit and the outbox, tracking, information
replies, rating, published answers, data rights and out-of-scope messages."""

import asyncio

import pytest
from citizen import Citizen, labels
from feedback_util import CONTENT, FakeChannel, file_item, outbox_rows, row
from sqlalchemy import select

from bot.app import build
from bot.settings import load_settings
from feedback import attachments as files
from feedback import outbox, scope, texts
from feedback import service as fs
from feedback.outbox import utcnow
from feedback.tables import attachments, items, messages
from feedback.validate import MIN_CONTENT_CHARS, MIN_CONTENT_WORDS
from handlers import pakn
from handlers import texts as d
from handlers.core import Attachment, Reply

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
STAFF = "lan.tt"
NAME = "Nguyễn Văn Bình"
ADDRESS = "số 12 ngõ 45 phố Lê Lợi, phường Hà Đông, Hà Nội"
PHONE = "0912 345 678"


@pytest.fixture(scope="module")
def fapp(tmp_path_factory):
    base = tmp_path_factory.mktemp("pakn")
    a = build(load_settings(database_url=f"sqlite:///{base / 'app.db'}", data_dir=base / "data"))
    yield a
    a.engine.dispose()


@pytest.fixture
def citizen(fapp):
    return Citizen(fapp.conversations, channel="telegram")


def me(c: Citizen) -> fs.Citizen:
    return fs.Citizen(c.channel, c.user, c.user)


def step(c: Citizen) -> str | None:
    form = c.state.form
    return form.get("field") if form else None


def file_msg(c: Citizen, name="anh.png", data=PNG, size=None, kind="document"):
    a = Attachment(kind, "f1", name, len(data) if size is None else size, data=data)
    [reply] = c.send(c.incoming(attachments=[a]))
    return reply


def fill_to(c: Citizen, target: str, content: str = CONTENT) -> None:
    """Answer every step with good values until the form asks `target`."""
    answers = {
        "kind": lambda: c.press("Phản ánh"),
        "content": lambda: c.say(content),
        "procedure": lambda: c.press("1."),
        "agency": lambda: c.say("UBND phường Hà Đông"),
        "files": lambda: c.press("Bỏ qua"),
        "consent": lambda: c.press("Đồng ý"),
        "name": lambda: c.say(NAME),
        "address": lambda: c.say(ADDRESS),
        "contact": lambda: c.say(PHONE),
    }
    c.say("/phananh")
    while step(c) != target:
        answers[step(c)]()


def ack_count(factory, user: str) -> int:
    return sum(1 for m in outbox_rows(factory) if m.chat_id == user and "Mã tra cứu" in m.text)


def test_the_whole_intake_with_bad_values_at_each_step(fapp, citizen):
    c = citizen
    intro = c.say("/phananh")
    assert intro.text == pakn.INTRO and texts.ANONYMOUS_NOT_ACCEPTED in intro.text
    assert labels(intro) == ["Phản ánh", "Kiến nghị", "Hủy"]
    assert "Hãy chọn" in c.say("khiếu gì đó").text and step(c) == "kind"
    assert "nội dung kiến nghị" in c.say("kiến nghị").text and step(c) == "content"
    # content: empty, too short, too long, not Vietnamese
    assert "không được để trống" in c.say("   ").text
    assert "quá ngắn" in c.say("chậm quá").text
    assert "vượt quá 4.000" in c.say("chậm trễ " * 600).text
    assert step(c) == "content"
    # script tags are kept as text, never interpreted
    content = "<script>alert(1)</script> " + CONTENT
    proc = c.say(content)
    assert step(c) == "procedure" and "1. Thủ tục đăng ký khai sinh" in proc.text
    assert "Bỏ qua" in labels(proc)
    assert pakn.NOT_A_PROCEDURE.format(code="9.999999") in c.say("9.999999").text
    c.say("1.001193")
    assert step(c) == "agency" and c.state.form["draft"]["field"] == "Hộ tịch"
    assert "dài quá 300" in c.say("UBND " * 100).text
    consent = c.say("UBND phường Hà Đông")
    # consent before anything personal: files, name, address, contact
    assert step(c) == "consent" and texts.CONSENT_TEXT in consent.text
    assert labels(consent) == ["Đồng ý", "Không đồng ý", "Hủy"]
    assert c.say("ừ").text == pakn.CONSENT_PRESS  # silence or vagueness is not consent
    assert c.press("Không đồng ý").text == pakn.CONSENT_REFUSED and step(c) == "consent"
    c.press("Đồng ý")
    assert step(c) == "files" and c.state.form["consent"]
    assert "chỉ nhận" in file_msg(c, "virus.exe", b"MZ" + b"\x00" * 100).text.lower()
    assert "quá lớn" in file_msg(c, "anh.jpg", b"", size=50 * 1024 * 1024).text
    assert "không phải ảnh hoặc PDF" in file_msg(c, "anh.jpg", b"not really an image at all").text
    assert file_msg(c).text == pakn.FILE_RECEIVED.format(n=1, max=files.MAX_PER_ITEM)
    assert c.say("ảnh nữa").text == pakn.FILES_WAITING
    c.press("Xong")
    assert step(c) == "name"
    assert "không được tiếp nhận" in c.say("   ").text  # empty name: why anonymous is refused
    assert "chỉ gồm chữ cái" in c.say("<script>").text
    assert "dài quá 100" in c.say("An " * 60).text
    c.say(NAME)
    assert "Địa chỉ chưa rõ" in c.say("<b>HN</b>").text
    c.say(ADDRESS)
    assert "không hợp lệ" in c.say("12345").text
    assert "không hợp lệ" in c.say("0112 345 678").text
    assert "thư điện tử không hợp lệ" in c.say("binh@@gmail").text
    summary = c.say(f"{PHONE}, binh@gmail.com")
    assert step(c) == "confirm" and labels(summary) == ["Gửi", "Sửa", "Hủy"]
    assert "Liên hệ: 0912345678, binh@gmail.com" in summary.text and "Tệp đính kèm: 1" in summary.text
    # edit one field from the summary, then back to the summary
    assert c.press("Sửa").text == pakn.EDIT_WHICH
    c.press("Họ tên")
    assert step(c) == "name"
    assert "Họ tên: Trần Thị Hoa" in c.say("Trần Thị Hoa").text and step(c) == "confirm"
    before = ack_count(fapp.factory, c.user)
    done = c.press("Gửi")
    assert "đã được gửi" in done.text and "PA-" not in done.text  # the code comes once, through the outbox
    assert c.state.form is None
    [status] = fs.my_items(fapp.factory, me(c))
    it = row(fapp.factory, status.code)
    assert it.kind == "kien_nghi" and it.sender_name == "Trần Thị Hoa" and it.content.startswith("<script>")
    assert it.procedure_code == "1.001193" and it.sender_phone == "0912345678"
    with fapp.factory() as s:
        assert s.execute(select(attachments.c.content_type).where(attachments.c.item_id == it.id)).scalars().all() == [
            "image/png"
        ]
    # exactly one acknowledgement, delivered through the outbox, once
    assert ack_count(fapp.factory, c.user) == before + 1
    channel = FakeChannel()
    asyncio.run(outbox.deliver(fapp.factory, channel))
    mine = [t for _, chat, t in channel.sent if chat == c.user]
    assert len(mine) == 1 and status.code in mine[0] and "Mã tra cứu" in mine[0]
    asyncio.run(outbox.deliver(fapp.factory, channel))
    assert len([t for _, chat, t in channel.sent if chat == c.user]) == 1


@pytest.mark.parametrize(
    "at", ["kind", "content", "procedure", "agency", "files", "consent", "name", "contact", "confirm"]
)
def test_huy_cancels_at_any_step(fapp, citizen, at):
    fill_to(citizen, at)
    assert citizen.say("/huy").text == d.CANCELLED
    assert citizen.state.form is None
    assert fs.my_items(fapp.factory, me(citizen)) == []
    assert citizen.say("/huy").text == d.NOTHING_TO_CANCEL


def test_the_cancel_button_and_other_commands(fapp, citizen):
    fill_to(citizen, "address")
    assert citizen.say("/help").text == d.HELP and step(citizen) == "address"  # help keeps the draft
    citizen.say("/linhvuc")
    assert step(citizen) == "address"  # a non-soft form survives other commands
    resume = citizen.say("/phananh")
    assert resume.text.startswith(pakn.RESUME) and step(citizen) == "address"
    assert citizen.press("Hủy", resume).text == d.CANCELLED and citizen.state.form is None


def test_a_stale_form_button_reasks_the_current_step(citizen):
    intro = citizen.say("/phananh")
    citizen.press("Phản ánh", intro)
    again = citizen.press("Kiến nghị", intro)
    assert again.text.startswith(pakn.STALE) and step(citizen) == "content"
    assert citizen.state.form["draft"]["kind"] == "phan_anh"


def test_a_restart_mid_draft_carries_on(fapp, citizen):
    fill_to(citizen, "name")
    restarted = build(fapp.settings)  # a new process on the same database
    try:
        c = Citizen(restarted.conversations, channel="telegram", user=citizen.user)
        assert step(c) == "name"
        c.say(NAME)
        c.say(ADDRESS)
        c.say(PHONE)
        assert "đã được gửi" in c.press("Gửi").text
        assert len(fs.my_items(restarted.factory, me(c))) == 1
    finally:
        restarted.engine.dispose()


def test_out_of_scope_is_explained_not_filed(fapp, citizen):
    c = citizen
    c.say("/phananh")
    c.press("Phản ánh")
    denounce = "Tôi muốn tố cáo cán bộ địa chính xã nhận tiền của dân khi làm sổ đỏ cho gia đình tôi năm nay."
    reply = c.say(denounce)
    assert texts.OUT_OF_SCOPE["to_cao"] in reply.text and step(c) == "scope"
    assert c.press("Hủy").text == d.CANCELLED
    assert fs.my_items(fapp.factory, me(c)) == []
    # a question outside any procedure that is a request for legal advice
    assert scope.out_of_scope("xin tư vấn luật về tranh chấp đất với hàng xóm") == "tu_van"
    # the citizen may still insist it is feedback on a procedure: staff can reject it later
    c.say("/phananh")
    c.press("Phản ánh")
    c.say("Tôi cần tư vấn giúp vì " + CONTENT)
    assert step(c) == "scope"
    c.press("Vẫn gửi")
    assert step(c) == "procedure"


def test_tracking_from_the_same_chat_and_from_another(fapp, citizen):
    fill_to(citizen, "confirm")
    citizen.press("Gửi")
    [status] = fs.my_items(fapp.factory, me(citizen))
    listing = citizen.say("/tracuu")
    assert status.code in listing.text and pakn.TRACK_PROMPT in listing.text
    card = citizen.press(status.code)
    assert card.text == status.text() and "Đã tiếp nhận" in card.text
    assert citizen.say(f"cho hỏi {status.code} thế nào rồi").text == status.text()

    other = Citizen(fapp.conversations, channel="telegram")
    ask = other.say(f"/tracuu {status.code}")
    assert ask.text.startswith(str(fs.PhoneDigitsRequired()))
    assert other.say("1234").text == str(fs.NotFound())
    other.say(status.code)
    assert other.say("5678").text == status.text()
    assert other.say(f"/tracuu {status.code} 5678").text == status.text()
    assert other.say("/tracuu PA-00000000 5678").text == str(fs.NotFound())
    assert pakn.NO_ITEMS in other.say("/tracuu").text


def test_needs_info_reply_rating_and_published_answers(fapp, citizen):
    fill_to(citizen, "confirm")
    citizen.press("Gửi")
    [status] = fs.my_items(fapp.factory, me(citizen))
    code = status.code
    fs.claim(fapp.factory, code, STAFF)
    fs.ask_info(fapp.factory, code, STAFF, "Bạn cho biết số giấy hẹn trả kết quả.")
    offer = citizen.say("Giấy hẹn số 123/GH ngày 5/10/2026")
    assert offer.text == pakn.OFFER.format(codes=code)
    assert citizen.press(f"Gửi bổ sung cho {code}").text == pakn.INFO_SENT.format(code=code)
    assert row(fapp.factory, code).state == "in_processing"
    with fapp.factory() as s:
        bodies = s.execute(select(messages.c.body).where(messages.c.author_kind == "citizen")).scalars().all()
    assert "Giấy hẹn số 123/GH ngày 5/10/2026" in bodies
    # asked again: the status card offers the reply, with a file
    fs.ask_info(fapp.factory, code, STAFF, "Bạn gửi ảnh giấy hẹn.")
    card = citizen.say(f"/tracuu {code}")
    assert "Cần bổ sung: Bạn gửi ảnh giấy hẹn." in card.text
    citizen.press("Gửi thông tin bổ sung", card)
    assert file_msg(citizen).text == pakn.INFO_FILE.format(n=1)
    assert citizen.say("Ảnh giấy hẹn đây ạ").text == pakn.INFO_SENT.format(code=code)
    with fapp.factory() as s:
        n = s.scalar(
            select(attachments.c.id).join(items).where(items.c.code == code, attachments.c.message_id.is_not(None))
        )
    assert n is not None
    # "no, it is a question": answered as a question
    fs.ask_info(fapp.factory, code, STAFF, "Thêm thông tin?")
    citizen.say("đăng ký khai tử lệ phí bao nhiêu")
    assert "Mã thủ tục: 1.000656" in citizen.press("Không, tôi hỏi thủ tục").text
    fs.reply_info(fapp.factory, code, me(citizen), "Không còn gì thêm.")
    # answer → rating buttons on the card
    fs.answer(fapp.factory, code, STAFF, "Phường đã trả kết quả, cán bộ đã được nhắc nhở.")
    card = citizen.say(f"/tracuu {code}")
    assert pakn.RATE_ASK in card.text and labels(card) == ["1", "2", "3", "4", "5"]
    assert citizen.press("4", card).text == pakn.RATED.format(code=code, stars=4)
    assert "đã đánh giá" in citizen.press("5", card).text
    assert row(fapp.factory, code).rating == 4
    # published: the procedure's answer card offers the published answers
    fs.publish(fapp.factory, code, STAFF)
    answer = citizen.say("/thutuc đăng ký khai sinh")
    assert "Phản ánh đã được trả lời" in labels(answer)
    published = citizen.press("Phản ánh đã được trả lời", answer)
    assert code not in published.text and "Phường đã trả kết quả" in published.text  # no code to guess from
    assert NAME not in published.text and "0912" not in published.text


def test_a_typed_digit_rates_the_latest_answer(fapp, citizen):
    fill_to(citizen, "confirm")
    citizen.press("Gửi")
    [status] = fs.my_items(fapp.factory, me(citizen))
    fs.claim(fapp.factory, status.code, STAFF)
    fs.answer(fapp.factory, status.code, STAFF, "Đã xử lý.")
    assert citizen.say("5").text == pakn.RATED.format(code=status.code, stars=5)


def test_data_rights(fapp, citizen):
    assert citizen.say("/xoadulieu").text == pakn.ERASE_NOTHING
    fill_to(citizen, "confirm")
    citizen.press("Gửi")
    shown = citizen.say("/dulieucuatoi").text
    assert NAME in shown and "0912345678" in shown and "/xoadulieu" in shown
    ask = citizen.say("/xoadulieu")
    assert ask.text == pakn.ERASE_ASK and labels(ask) == ["Xóa dữ liệu của tôi", "Không xóa"]
    assert citizen.press("Không xóa").text == pakn.ERASE_KEPT
    assert NAME in citizen.say("/dulieucuatoi").text
    citizen.say("/xoadulieu")
    assert citizen.press("Xóa dữ liệu của tôi").text == pakn.ERASED.format(what=pakn.ERASED_ITEMS.format(n=1))
    after = citizen.say("/dulieucuatoi").text
    assert NAME not in after and "0912" not in after and "rút lại ngày" in after
    # the draft goes too
    fill_to(citizen, "address")
    citizen.say("/xoadulieu")
    citizen.press("Xóa dữ liệu của tôi")
    assert citizen.state.form is None


def test_help_and_commands_list_the_data_rights():
    for name in ("dulieucuatoi", "xoadulieu", "phananh", "tracuu"):
        assert name in d.COMMANDS and f"/{name}" in d.HELP


def test_a_complaint_asked_as_a_question_is_pointed_elsewhere(citizen):
    reply = citizen.say("tôi muốn khiếu nại hàng xóm lấn chiếm lối đi")
    assert reply.text in (texts.OUT_OF_SCOPE["khieu_nai"],) or "Mã thủ tục" in reply.text


# ---- the conversation never breaks: typed answers to the offer, typed button labels, the texts ----------------


def waiting_item(fapp, c: Citizen) -> str:
    """An item of `c`'s that staff asked more information about."""
    code = file_item(fapp.factory, citizen=me(c), now=utcnow()).code
    fs.ask_info(fapp.factory, code, STAFF, "Bạn cho biết số giấy hẹn.")
    return code


def thread(fapp, code: str) -> list[str]:
    with fapp.factory() as s:
        return list(s.scalars(select(messages.c.body).join(items).where(items.c.code == code)))


@pytest.mark.parametrize("yes", ["có", "ừ gửi đi", "có, gửi giúp tôi", "Vâng."])
def test_a_typed_yes_sends_the_offered_message_as_the_reply(fapp, citizen, yes):
    citizen.say("/start")
    code = waiting_item(fapp, citizen)
    assert citizen.say("Giấy hẹn số 123/GH").text == pakn.OFFER.format(codes=code)
    assert citizen.say(yes).text == pakn.INFO_SENT.format(code=code)
    assert row(fapp.factory, code).state == "received" and "Giấy hẹn số 123/GH" in thread(fapp, code)
    assert citizen.state.form is None


def test_a_typed_no_answers_the_offered_message_as_a_question(fapp, citizen):
    citizen.say("/start")
    code = waiting_item(fapp, citizen)
    citizen.say("đăng ký khai tử lệ phí bao nhiêu")
    citizen.say("không")
    assert citizen.state.form is None and citizen.state.code == "1.000656"  # answered: the procedure in context
    assert row(fapp.factory, code).state == "needs_info" and len(thread(fapp, code)) == 1


def test_anything_else_typed_while_the_offer_waits_is_a_new_message(fapp, citizen):
    citizen.say("/start")
    code = waiting_item(fapp, citizen)
    citizen.say("Giấy hẹn số 123/GH")
    again = citizen.say("À không, giấy hẹn số 456/GH ngày 5/10")  # offered in turn, the earlier one forgotten
    assert again.text == pakn.OFFER.format(codes=code)
    assert citizen.state.form["text"] == "À không, giấy hẹn số 456/GH ngày 5/10"
    assert "Tình trạng: Cần bổ sung thông tin" in citizen.say(f"/tracuu {code}").text  # a command leaves the offer
    assert citizen.state.form is None
    # the item stops waiting meanwhile (answered from another chat): "có" says so, a question is a question
    citizen.say("Giấy hẹn số 789/GH")
    fs.reply_info(fapp.factory, code, me(citizen), "Đã gửi qua bưu điện.")
    assert "không chờ bổ sung" in citizen.say("có").text and citizen.state.form is None
    citizen.say("Giấy hẹn số 789/GH")
    assert citizen.state.form is None  # nothing waits: no offer


def test_with_several_items_waiting_a_typed_yes_asks_which(fapp, citizen):
    citizen.say("/start")
    first, second = waiting_item(fapp, citizen), waiting_item(fapp, citizen)
    assert citizen.say("Giấy hẹn số 123/GH").text == pakn.OFFER.format(codes=f"{first}, {second}")
    which = citizen.say("có, gửi giúp tôi")
    assert which.text == pakn.OFFER_WHICH
    assert labels(which) == [f"Gửi bổ sung cho {first}", f"Gửi bổ sung cho {second}", "Không, tôi hỏi thủ tục"]
    assert citizen.say(f"gửi bổ sung cho {second.lower()}").text == pakn.INFO_SENT.format(code=second)  # typed label
    assert row(fapp.factory, second).state == "received" and row(fapp.factory, first).state == "needs_info"


def test_typed_button_labels_act_as_the_buttons_at_every_step(fapp, citizen):
    c = citizen
    c.say("/phananh")
    c.say("Phản ánh")
    c.say(CONTENT)
    assert step(c) == "procedure" and "Bỏ qua" in labels(c.replies[-1])
    c.say("Bỏ qua")  # was searched as the name of a procedure, again and again
    assert step(c) == "agency" and c.state.form["draft"]["procedure_code"] is None
    c.say("bo qua.")
    assert step(c) == "consent" and c.state.form["draft"]["agency"] is None
    c.say("Không đồng ý")
    assert c.replies[-1].text == pakn.CONSENT_REFUSED
    c.say("Đồng ý")
    assert step(c) == "files"
    c.say("Bỏ qua")
    c.say(NAME)
    c.say(ADDRESS)
    c.say(PHONE)
    assert step(c) == "confirm"
    assert c.say("Sửa").text == pakn.EDIT_WHICH
    c.say("họ tên")
    assert step(c) == "name"
    c.say("Quay lại bản tóm tắt")
    assert step(c) == "confirm"
    assert "đã được gửi" in c.say("GỬI").text and c.state.form is None
    assert len(fs.my_items(fapp.factory, me(c))) == 1


def test_typed_hủy_and_the_hủy_button_end_as_huy_does(fapp, citizen):
    fill_to(citizen, "content")
    by_command = citizen.say("/huy")
    fill_to(citizen, "agency")
    by_button = citizen.press("Hủy")
    fill_to(citizen, "name")
    typed = citizen.say("hủy")
    assert by_command.text == by_button.text == typed.text == d.CANCELLED
    assert labels(by_command) == labels(by_button) == labels(typed) == labels(Reply("", d.menu(1)))
    assert citizen.state.form is None and fs.my_items(fapp.factory, me(citizen)) == []


def test_typed_rating_labels_under_an_answer(citizen):
    card = citizen.say("đăng ký khai tử")
    assert {"Hữu ích", "Chưa hữu ích"} <= set(labels(card))
    assert citizen.say("Chưa hữu ích").text == d.ASK_MISSING
    assert citizen.say("Bỏ qua").text == d.CANCELLED and citizen.state.form is None
    citizen.say("đăng ký khai tử")
    assert citizen.say("hữu ích").text == d.RATED


def test_only_the_exact_label_of_the_last_reply_counts(citizen):
    citizen.say("/start")  # the menu offers "Tra cứu phản ánh"
    citizen.say("tra cứu phản ánh thế nào")  # not the label: a question
    assert citizen.state.form is None
    citizen.say("/start")
    citizen.say("đăng ký khai tử")  # the last reply is now an answer card
    citizen.say("Tra cứu phản ánh")  # the menu's label, from an older reply: a question
    assert citizen.state.form is None
    citizen.say("/menu")
    assert pakn.TRACK_PROMPT in citizen.say("tra cuu phan anh").text and citizen.state.form["kind"] == "track"


def test_the_content_prompt_states_the_minimum_it_enforces(citizen):
    citizen.say("/phananh")
    prompt = citizen.press("Kiến nghị")
    assert f"ít nhất {MIN_CONTENT_CHARS} ký tự, khoảng {MIN_CONTENT_WORDS} từ trở lên" in prompt.text
    assert "quá ngắn" in citizen.say("Phường chậm trả giấy tờ").text  # 5 words, 23 characters
    citizen.say("Phường chậm trả giấy khai sinh")  # 6 words, 30 characters: what the prompt asks
    assert step(citizen) == "procedure"


def test_the_consent_step_does_not_repeat_the_intro(citizen):
    fill_to(citizen, "consent")
    consent = citizen.replies[-1]
    assert texts.CONSENT_TEXT in consent.text  # verbatim: its version is recorded
    assert texts.ANONYMOUS_NOT_ACCEPTED not in consent.text and texts.ANONYMOUS_NOT_ACCEPTED in pakn.INTRO
    assert len(consent.text) < len(texts.CONSENT_TEXT) + 100
