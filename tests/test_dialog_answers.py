"""A citizen talking to the dialog the way citizens write (examples written for these tests): the right
procedure from everyday words, life events as a guided list, honest scope, asking well, small talk."""

import pytest
from citizen import Citizen, labels

from handlers import texts as d
from knowledge.choices import distinguish
from knowledge.text import fold


@pytest.fixture
def citizen(app):
    return Citizen(app.conversations, channel="test")


def code_of(reply) -> str:
    return reply.text.split("Mã thủ tục: ")[1].split()[0]


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("làm hộ chiếu lần đầu hết bao nhiêu tiền", "1.001456"),  # story words do not sink a clear match
        ("chuyển đất vườn lên thổ cư", "1.013949"),
        ("tôi muốn thôi làm hòa giải viên", "2.000930"),  # 'thôi' is a word that carries meaning
        ("xin giấy phép xây nhà", "1.013225"),  # the house permit, not the railway crossing permit
        ("lam lai gks cho be bi rach", "2.000635"),  # a copy, not a real-estate licence
    ],
)
def test_everyday_questions_get_their_procedure(citizen, q, code):
    assert code_of(citizen.say(q)) == code


def test_a_lost_original_asks_copy_or_new_registration(citizen):
    reply = citizen.say("mất giấy khai sinh bản gốc giờ xin lại thế nào")
    if "Mã thủ tục" in reply.text:
        assert code_of(reply) == "2.000635"
    else:  # asked, in the citizen's words, with the copy first
        assert reply.text.startswith("Bạn cần bản sao") and citizen.state.offered[0] == "2.000635"


def test_a_life_event_gets_its_procedures_in_order(citizen):
    reply = citizen.say("bố tôi mới mất tuần trước, gia đình cần làm những gì")
    assert reply.text.startswith("Người thân qua đời")
    assert citizen.state.offered[:2] == ["1.000656", "1.003197"]  # khai tử first, then the residence record
    assert labels(reply)[0].startswith("1. Đăng ký khai tử")
    assert code_of(citizen.say("cái thứ hai")) == "1.003197"


def test_a_life_event_that_names_its_procedure_gets_the_card(citizen):
    reply = citizen.say("bố tôi mới mất, làm giấy chứng tử ở đâu")
    assert code_of(reply) == "1.000656" and "Cơ quan" in reply.text or "Nơi" in reply.text


def test_a_need_the_records_do_not_hold_is_said_so(citizen):
    reply = citizen.say("hai vợ chồng tôi muốn ly hôn thuận tình")
    assert "chưa có trong dữ liệu" in reply.text and "Tòa án" in reply.text
    assert "Mã thủ tục" not in reply.text and not any(b.group == "pick" for b in reply.buttons)


def test_small_talk_gets_proper_replies(citizen):
    assert citizen.say("bạn là ai").text == d.WHO
    assert citizen.say("cảm ơn nhé").text == d.THANKS_REPLY
    assert citizen.say("ad ơi chào nha").text == d.WELCOME
    assert citizen.say("tạm biệt").text == d.BYE
    assert "Mã thủ tục" in citizen.say("chào bạn, cho hỏi đăng ký khai tử").text  # a question, not a greeting


def test_an_aspect_follow_up_while_a_list_waits_asks_once_then_shows_that_aspect(citizen):
    offer = citizen.say("giấy phép xây dựng")
    assert any(b.group == "pick" for b in offer.buttons)
    which = citizen.say("thế còn lệ phí?")
    assert which.text == d.WHICH_OF_LIST.format(what="lệ phí", n=len(citizen.state.offered))
    assert "\n" not in which.text  # one short line, not the list again
    card = citizen.say("2")
    assert "Phí, lệ phí:" in card.text and code_of(card) == citizen.state.offered[1]


def test_choice_labels_show_where_names_differ_and_never_ask_the_level():
    long = "Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất lần đầu đối với "
    choice = distinguish([long + "tổ chức đang sử dụng đất", long + "hộ gia đình, cá nhân"])
    assert len(set(choice.labels)) == 2 and all(len(label) <= 60 for label in choice.labels)
    foreign = distinguish(["Thủ tục đăng ký khai sinh", "Thủ tục đăng ký khai sinh có yếu tố nước ngoài"])
    assert "nước ngoài" in foreign.question and foreign.labels[0] == "Đăng ký khai sinh (thông thường)"
    twins = distinguish(["Cấp đổi thẻ căn cước", "Cấp lại thẻ căn cước"])
    assert "bị mất" in twins.question


def test_a_list_never_offers_the_same_procedure_at_two_levels(citizen):
    for q in ("cấp thẻ bảo hiểm y tế", "cấp lại thẻ bảo hiểm y tế", "trình báo mất hộ chiếu"):
        citizen.say(q)
        shown = [fold(n) for n in citizen.state.offered]
        names = [fold(citizen.conversations.dialog.kb.get(c).name.split("(thực hiện")[0]) for c in shown]
        assert len(names) == len(set(names)), q
