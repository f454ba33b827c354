"""Every dialog of the core, through the stored conversation, and bad input."""

import pytest
from citizen import Citizen, labels
from sqlalchemy import select

from handlers import pakn
from handlers import texts as d
from handlers.ask import Answers, _web
from handlers.core import Attachment, Button, Reply, layout
from handlers.dialog import PAYLOAD, Dialog
from handlers.state import State
from handlers.store import answer_ratings, review_questions
from knowledge.answer import ASPECT_TITLES, NOTHING_MORE

MENU_LABELS = ["Hỏi thủ tục", "Tra cứu theo lĩnh vực", "Gửi phản ánh, kiến nghị", "Tra cứu phản ánh", "Hướng dẫn"]


@pytest.fixture
def citizen(app):
    return Citizen(app.conversations)


def reviews(app, reason=None):
    with app.engine.connect() as c:
        q = select(review_questions).order_by(review_questions.c.id)
        rows = c.execute(q).all()
    return [r for r in rows if reason is None or r.reason == reason]


def test_start_greets_with_the_main_menu(citizen):
    reply = citizen.say("/start")
    assert reply.text == d.WELCOME
    assert labels(reply) == MENU_LABELS
    assert citizen.say("Xin chào!").text == d.WELCOME
    assert citizen.say("/menu@tthc_bot").text == d.MENU_TEXT


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/help", d.HELP),
        ("/thutuc", d.ASK_PROMPT),
        ("/phananh", pakn.INTRO),
        ("/huy", d.NOTHING_TO_CANCEL),
        ("/lenhla", d.UNKNOWN_COMMAND),
    ],
)
def test_commands(citizen, command, expected):
    assert citizen.say(command).text == expected


def test_help_lists_every_command():
    for name in d.COMMANDS:
        assert name == "start" or f"/{name}" in d.HELP


def test_menu_buttons(citizen):
    citizen.say("/start")
    assert citizen.press("Hỏi thủ tục").text == d.ASK_PROMPT
    citizen.say("/menu")
    assert citizen.press("Hướng dẫn").text == d.HELP
    citizen.say("/menu")
    reply = citizen.press("Gửi phản ánh, kiến nghị")
    assert reply.text == pakn.INTRO
    citizen.say("/menu")
    assert pakn.NO_ITEMS in citizen.press("Tra cứu phản ánh").text
    citizen.say("/menu")
    assert citizen.press("Tra cứu theo lĩnh vực").text.startswith("Tra cứu theo lĩnh vực")


def test_thutuc_with_a_question_answers_it(citizen):
    reply = citizen.say("/thutuc đăng ký khai tử")
    assert "Mã thủ tục: 1.000656" in reply.text


def test_question_gets_an_answer_card_with_other_aspects_rating_and_link(citizen):
    reply = citizen.say("đăng ký khai tử lệ phí bao nhiêu")
    assert "khai tử" in reply.text.lower() and "Phí, lệ phí" in reply.text
    names = labels(reply)
    # the whole fee fits: no "Xem đủ"; the most useful other aspects, then rating and the portal link
    assert names == ["Hồ sơ", "Thời hạn", "Nơi nộp", "Hữu ích", "Chưa hữu ích", "Xem trên Cổng Dịch vụ công"]
    link = citizen.button("Xem trên Cổng Dịch vụ công")
    assert link.url.startswith("https://") and reply.links == (link.url,)


def test_overview_card_offers_the_aspects_it_does_not_show(citizen):
    reply = citizen.say("đăng ký khai tử")
    assert "Hồ sơ cần nộp" in reply.text and "Thời hạn giải quyết" in reply.text
    assert len(reply.text) <= 700
    assert labels(reply)[:3] == ["Xem đủ", "Hồ sơ", "Các bước"] and len(reply.buttons) <= 6


def test_aspect_button_answers_that_aspect(citizen):
    citizen.say("đăng ký khai tử")
    reply = citizen.press("Các bước")
    assert "Các bước thực hiện:" in reply.text and "Mã thủ tục: 1.000656" in reply.text
    assert "Các bước" not in labels(reply) and "Hồ sơ" in labels(reply)


def test_more_gives_the_rest_and_nothing_is_lost(app, citizen):
    """“đăng ký kết hôn cần giấy tờ gì”: the forms on one screen, the notes and cases behind “Xem đủ”."""
    card = citizen.say("đăng ký kết hôn cần giấy tờ gì")
    assert "Mã thủ tục: 1.000894" in card.text and len(card.text) <= 700
    assert card.text.split("• ", 1)[1].startswith("Tờ khai đăng ký kết hôn")
    assert labels(card)[0] == "Xem đủ" and len(card.buttons) <= 6
    more = citizen.send(citizen.incoming(payload=citizen.button("Xem đủ", card).payload))
    assert more and all(not r.buttons for r in more)  # the card above keeps its buttons
    assert all(len(r.text) <= 4096 for r in more)
    everything = card.text + "\n".join(r.text for r in more)
    for doc in app.kb.get("1.000894").documents:
        assert " ".join(doc.name.strip(" -+*").split())[:80] in " ".join(everything.split()), doc.name[:80]


def test_more_under_the_overview_gives_its_aspects_in_full(citizen):
    card = citizen.say("đăng ký khai tử")
    more = citizen.send(citizen.incoming(payload=citizen.button("Xem đủ", card).payload))
    text = "\n".join(r.text for r in more)
    for title in ("Hồ sơ cần nộp", "Phí, lệ phí", "Thời hạn giải quyết", "Nơi nộp, cơ quan thực hiện"):
        assert title in text


def test_more_from_an_old_card_still_answers_and_bad_ones_are_refused(citizen):
    card = citizen.say("đăng ký kết hôn cần giấy tờ gì")
    payload = citizen.button("Xem đủ", card).payload
    assert payload == f"v:{citizen.state.turn}:1.000894:documents"
    for q in ("chứng thực di chúc", "đăng ký khai tử", "khai sinh"):
        citizen.say(q)
    assert "Hồ sơ cần nộp, phần còn lại" in citizen.send(citizen.incoming(payload=payload))[0].text
    turn = citizen.state.turn
    assert citizen.tap(f"v:{turn}:1.000894:nope").text == d.INVALID
    assert citizen.tap(f"v:{turn}:1.000894:fee:time").text == d.INVALID
    assert citizen.tap(f"v:{turn}:9.999999").text == d.GONE
    assert citizen.tap(f"v:{turn}:1.000656:online").text == NOTHING_MORE  # nothing left out there


def test_every_card_has_at_most_six_buttons_with_valid_payloads(app):
    """Every fifth record × all aspects (and the overview), with published answers: at most 6 buttons,
    rating and the portal link kept, every payload one the dialog accepts (`bench/card_bench.py` counts
    the buttons of all cards)."""
    answers = Answers(app.kb, published=lambda code, journal: True)
    for p in app.kb._current().procs[::5]:
        for aspects in [(), *((a,) for a in ASPECT_TITLES)]:
            reply = answers.card(State(turn=123456789), p.code, aspects)
            names = labels(reply)
            assert len(names) <= 6 and {"Hữu ích", "Chưa hữu ích", "Phản ánh đã được trả lời"} <= set(names)
            assert any(b.url for b in reply.buttons) == _web(p.url)
            for b in reply.buttons:
                assert b.url or (len(b.payload.encode()) <= 64 and PAYLOAD.fullmatch(b.payload)), b.payload


def test_follow_up_uses_the_procedure_in_context(citizen):
    citizen.say("đăng ký khai tử")
    reply = citizen.say("thế còn phí?")
    assert "Mã thủ tục: 1.000656" in reply.text and "Phí, lệ phí:" in reply.text
    reply = citizen.say("vậy mất bao lâu")
    assert "Mã thủ tục: 1.000656" in reply.text and "Thời hạn giải quyết:" in reply.text
    # a new procedure starts afresh
    assert "Mã thủ tục: 2.001019" in citizen.say("chứng thực di chúc").text


def test_follow_up_after_a_procedure_picked_by_button(citizen):
    citizen.say("đăng ký khai tử")
    citizen.tap(f"p:{citizen.state.turn}:2.000528")  # e.g. from a list: khai sinh có yếu tố nước ngoài
    reply = citizen.say("thế còn lệ phí?")
    assert "Mã thủ tục: 2.000528" in reply.text and "Phí, lệ phí:" in reply.text


def test_aspect_without_any_procedure_asks_which(app, citizen):
    before = len(reviews(app))
    assert citizen.say("cần giấy tờ gì").text == d.WHICH
    assert len(reviews(app)) == before  # not a question the bot failed: it asked back


def clarify(citizen) -> Reply:
    for q in ("giấy phép", "gia hạn giấy phép", "cấp giấy phép lao động"):
        reply = citizen.say(q)
        if any(b.group == "pick" for b in reply.buttons):  # candidates to choose from
            return reply
    raise AssertionError("no question here gives a clarify")


def test_clarify_offers_candidates_and_a_button_picks_one(citizen):
    reply = clarify(citizen)
    offered = citizen.state.offered
    assert 2 <= len(offered) <= 4
    assert labels(reply)[0].startswith("1. ") and labels(reply)[-1] == "Không có thủ tục tôi cần"
    card = citizen.press("2. ")
    assert f"Mã thủ tục: {offered[1]}" in card.text


def test_ordinal_picks_from_the_candidates_offered(citizen):
    clarify(citizen)
    offered = citizen.state.offered
    assert f"Mã thủ tục: {offered[1]}" in citizen.say("cái thứ hai").text
    assert f"Mã thủ tục: {offered[0]}" in citizen.say("số 1 nhé").text
    assert f"Mã thủ tục: {offered[-1]}" in citizen.say("cái cuối").text


def test_none_of_the_candidates_is_kept_for_admins(app, citizen):
    reply = clarify(citizen)
    question = citizen.state.offered_q
    before = len(reviews(app, "not_listed"))
    reply = citizen.press("Không có thủ tục tôi cần", reply)
    assert reply.text == d.NOT_LISTED
    rows = reviews(app, "not_listed")
    assert len(rows) == before + 1 and rows[-1].question == question


def test_not_found_is_polite_offers_feedback_and_is_kept(app, citizen):
    before = len(reviews(app, "none"))
    reply = citizen.say("dự báo thời tiết ngày mai")
    assert reply.text.startswith(d.NOT_FOUND)
    assert {"Tra cứu theo lĩnh vực", "Gửi phản ánh, kiến nghị"} <= set(labels(reply))
    rows = reviews(app, "none")
    assert len(rows) == before + 1 and rows[-1].question == "dự báo thời tiết ngày mai"
    assert citizen.press("Gửi phản ánh, kiến nghị").text == pakn.INTRO


def test_phone_numbers_and_emails_are_not_kept(app, citizen):
    citizen.say("dự báo thời tiết, gọi tôi 0912 345 678 hoặc a.b@example.com")
    q = reviews(app, "none")[-1].question
    assert "0912" not in q and "example.com" not in q and "[số điện thoại]" in q


def test_helpful_rating_is_stored_once(app, citizen):
    citizen.say("đăng ký khai tử")
    rate = citizen.button("Hữu ích").payload
    with app.engine.connect() as c:
        before = len(c.execute(select(answer_ratings)).all())
    assert citizen.tap(rate).text == d.RATED
    assert citizen.tap(rate).text == d.ALREADY_RATED
    with app.engine.connect() as c:
        rows = c.execute(select(answer_ratings).order_by(answer_ratings.c.id)).all()
    assert len(rows) == before + 1 and rows[-1].code == "1.000656" and rows[-1].helpful is True


def test_unhelpful_rating_asks_what_was_missing_and_keeps_it(app, citizen):
    citizen.say("đăng ký khai tử cần giấy tờ gì")
    reply = citizen.press("Chưa hữu ích")
    assert reply.text == d.ASK_MISSING and labels(reply) == ["Bỏ qua"]
    row = reviews(app, "unhelpful")[-1]
    assert row.question == "đăng ký khai tử cần giấy tờ gì" and row.code == "1.000656" and row.missing is None
    # free text now fills the form instead of being searched
    assert citizen.say("thiếu mẫu tờ khai").text == d.MISSING_THANKS
    assert reviews(app, "unhelpful")[-1].missing == "thiếu mẫu tờ khai"
    assert citizen.state.form is None
    assert "Mã thủ tục: 1.000656" in citizen.say("thế còn lệ phí").text


def test_the_missing_form_can_be_skipped_or_cancelled(citizen):
    citizen.say("đăng ký khai tử")
    citizen.press("Chưa hữu ích")
    assert citizen.press("Bỏ qua").text == d.CANCELLED
    citizen.say("đăng ký kết hôn")
    citizen.press("Chưa hữu ích")
    assert citizen.say("/huy").text == d.CANCELLED
    assert citizen.say("/huy").text == d.NOTHING_TO_CANCEL


def test_browse_fields_levels_and_pages(citizen):
    reply = citizen.say("/linhvuc")
    assert "trang 1/" in reply.text
    reply = citizen.press("Cấp xã")
    assert "Cấp xã" in reply.text and labels(reply)[0] == "✓ Cấp xã" and reply.replace
    reply = citizen.press("Hộ tịch (")
    assert reply.text.startswith("Lĩnh vực Hộ tịch · Cấp xã:") and "(trang 1/" in reply.text
    first_page = citizen.state.offered
    assert len(first_page) == d.PAGE
    reply = citizen.press("Trang sau ▶")
    assert "(trang 2/" in reply.text and citizen.state.offered != first_page
    assert "◀ Trang trước" in labels(reply)
    second = citizen.state.offered[1]
    card = citizen.press("2. ")
    assert f"Mã thủ tục: {second}" in card.text and "Cấp xã" in card.text
    reply = citizen.press("Cấp tỉnh", reply)
    assert reply.text.startswith("Lĩnh vực Hộ tịch · Cấp tỉnh:") and labels(reply)[1] == "✓ Cấp tỉnh"
    reply = citizen.press("Tất cả các cấp", reply)
    assert reply.text.startswith("Lĩnh vực Hộ tịch: ")
    assert citizen.press("↩ Lĩnh vực khác", reply).text.startswith("Tra cứu theo lĩnh vực:")


def test_browse_province_level_shows_only_that_level(app, citizen):
    citizen.say("/linhvuc")
    reply = citizen.press("Cấp tỉnh")
    reply = citizen.tap(reply.buttons[3].payload)  # the first field
    for code in citizen.state.offered:
        assert "Cấp tỉnh" in app.kb.get(code).levels


def test_bad_input_gets_a_polite_reply(citizen):
    assert citizen.say("").text == d.EMPTY
    assert citizen.say("   ").text == d.EMPTY
    assert citizen.say("🙂🙂🙂").text == d.EMPTY
    assert citizen.say("a" * 10_000).text == d.TOO_LONG.format(n=d.MAX_TEXT)
    [reply] = citizen.send(citizen.incoming(attachments=[Attachment("sticker", "s1")]))
    assert reply.text == d.EMPTY
    [reply] = citizen.send(citizen.incoming(attachments=[Attachment("voice", "v1")]))
    assert reply.text == d.MEDIA_UNSUPPORTED
    assert citizen.say("cảm ơn").text == d.THANKS_REPLY


def test_html_and_markdown_are_plain_text(citizen):
    reply = citizen.say("<b>khai tử</b> <a href='http://evil.example'>bấm</a>")
    assert "Mã thủ tục: 1.000656" in reply.text and "evil" not in reply.text
    reply = citizen.say("**đăng ký** _khai tử_ [x](http://evil.example)")
    assert "Mã thủ tục: 1.000656" in reply.text


@pytest.mark.parametrize(
    "payload",
    ["<b>forged</b>", "zz:1:x", "a:1:1.000656:nope", "p:1:<script>", "r:1:1.000656:7", "m:1:nothing", "x" * 70, "c:1"],
)
def test_forged_or_unknown_buttons_are_refused(citizen, payload):
    citizen.say("/start")
    assert citizen.tap(payload).text == d.INVALID


def test_a_button_from_the_future_is_forged(citizen):
    citizen.say("/start")
    assert citizen.tap(f"p:{citizen.state.turn + 5}:1.000656").text == d.INVALID


def test_a_button_for_an_unknown_procedure(citizen):
    citizen.say("/start")
    assert citizen.tap("p:1:9.999999").text == d.GONE


def test_stale_buttons_from_old_cards(citizen):
    old = clarify(citizen)
    old_card = citizen.press("1. ")
    for q in ("đăng ký kết hôn", "chứng thực di chúc", "đăng ký khai tử", "xin bản sao giấy khai sinh", "khai sinh"):
        citizen.say(q)
    # a candidate from an old list: the list it pointed into is gone
    assert citizen.tap(citizen.button("2. ", old).payload).text == d.STALE_CHOICE
    assert citizen.tap(citizen.button("Không có thủ tục", old).payload).text == d.STALE_CHOICE
    # a rating on a card that is no longer among the recent ones
    assert citizen.tap(citizen.button("Hữu ích", old_card).payload).text == d.STALE_RATING
    # an aspect button names its procedure: it still answers about that one
    code = old_card.text.split("Mã thủ tục: ")[1].split()[0]
    aspect = next(b for b in old_card.buttons if b.group == "aspects")
    reply = citizen.tap(aspect.payload)
    title = ASPECT_TITLES[aspect.payload.rsplit(":", 1)[1]]
    assert f"Mã thủ tục: {code}" in reply.text and f"{title}:" in reply.text


def test_photo_outside_a_form_is_declined_politely(citizen):
    assert citizen.photo().text == d.FILE_NOT_HERE
    assert citizen.photo("khai sinh cần gì").text == d.FILE_NOT_HERE
    citizen.say("đăng ký khai tử")
    citizen.press("Chưa hữu ích")
    reply = citizen.photo()
    assert reply.text == d.FILE_NOT_IN_FORM and labels(reply) == ["Bỏ qua"]
    assert citizen.state.form is not None  # still waiting for the text


def test_state_survives_garbage():
    assert State.from_json(None) == State()
    assert State.from_json({"turn": "x", "turns": [1, "a"], "form": 3, "cards": "no"}) == State(turns=["a"])
    s = State(turn=3, turns=["a"], code="1.000656", form={"kind": "missing"})
    assert State.from_json(s.to_json()) == s


def test_dialog_without_a_database(app):
    state = State()
    from handlers.core import Incoming

    [reply] = Dialog(app.kb).respond(state, Incoming("test", "u", "c", "đăng ký khai tử"))
    assert "1.000656" in reply.text and state.code == "1.000656" and state.turn == 1


def test_layout_groups_rows():
    buttons = [Button(x, x, group="a") for x in ("Hồ sơ", "Lệ phí", "Thời hạn", "Nơi nộp")]
    buttons += [Button("Hữu ích", "r", group="r"), Button("Một nhãn rất dài vượt quá hai mươi bốn ký tự", "l")]
    assert [[b.label for b in row] for row in layout(buttons)] == [
        ["Hồ sơ", "Lệ phí", "Thời hạn"],
        ["Nơi nộp"],
        ["Hữu ích"],
        ["Một nhãn rất dài vượt quá hai mươi bốn ký tự"],
    ]
