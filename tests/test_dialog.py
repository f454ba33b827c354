from handlers.core import Incoming
from handlers.dialog import EMPTY, NOT_FOUND, WELCOME


def msg(text="", payload=""):
    return Incoming("test", "u1", "c1", text=text, payload=payload)


def test_greeting_shows_menu(app):
    [reply] = app.dialog.handle(msg("Xin chào"))
    assert reply.text == WELCOME
    assert "Gửi phản ánh, kiến nghị" in [b.label for b in reply.buttons]


def test_question_gets_an_answer_card_with_other_aspects(app):
    [reply] = app.dialog.handle(msg("đăng ký khai tử lệ phí bao nhiêu"))
    assert "khai tử" in reply.text.lower() and "Phí, lệ phí" in reply.text
    labels = [b.label for b in reply.buttons]
    assert "Hồ sơ cần nộp" in labels and "Phí, lệ phí" not in labels


def test_aspect_button_answers_that_aspect(app):
    [card] = app.dialog.handle(msg("đăng ký khai tử"))
    button = next(b for b in card.buttons if b.label == "Thời hạn giải quyết")
    [reply] = app.dialog.handle(msg(payload=button.payload))
    assert "Thời hạn giải quyết" in reply.text


def test_bad_input_gets_a_polite_reply(app):
    assert app.dialog.handle(msg(""))[0].text == EMPTY
    assert app.dialog.handle(msg("🙂🙂🙂"))[0].text == EMPTY
    assert "dài quá" in app.dialog.handle(msg("a" * 10_000))[0].text
    assert app.dialog.handle(msg("dự báo thời tiết ngày mai"))[0].text == NOT_FOUND
    assert "không hợp lệ" in app.dialog.handle(msg(payload="aspect:9.999999:nope"))[0].text
    assert "không còn" in app.dialog.handle(msg(payload="proc:9.999999"))[0].text
    assert "không hợp lệ" in app.dialog.handle(msg(payload="<b>forged</b>"))[0].text


def test_feedback_is_honestly_not_there_yet(app):
    assert "đang được xây dựng" in app.dialog.handle(msg(payload="menu:feedback"))[0].text
