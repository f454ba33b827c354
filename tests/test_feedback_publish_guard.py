"""The publish guard on the real service (SQLite): a text still holding disguised personal data is refused,
and what `preview_publication` produces is always accepted."""

from datetime import timedelta

import pytest
from feedback_util import MONDAY, file_item, migrated, row

from feedback import service as fs

STAFF = "lan.tt"
LATER = MONDAY + timedelta(hours=1)
# The sender (feedback_util.draft): Nguyễn Văn Bình, số 12 ngõ 45 phố Lê Lợi, 0912 345 678; e-mail set below.
EMAIL = "binh.nv@gmail.com"
DISGUISED = [
    # the sender's own phone, e-mail, name and address
    "０９１２ ３４５ ６７８",
    "0912.345.678",
    "(+84) 912-345-678",
    "binh.nv [at] gmail.com",
    "binh.nv(at)gmail.com",
    "binh.nv at gmail dot com",
    "binh.nv @ gmail . com",
    "binh.nv[@]gmail[.]com",
    "binh.nv a còng gmail chấm com",
    "ｂｉｎｈ．ｎｖ＠ｇｍａｉｌ．ｃｏｍ",
    "nguyen van binh",
    "Nguyễn.Văn.Bình",
    "so 12 ngo 45 pho Le Loi",
    "12 ngõ 45 Lê Lợi",
    # anyone's
    "0987.654.321",
    "CCCD 001.099.012.345",
    "CCCD 001 099 012 345",
    "CCCD 001-099-012-345",
    "CMND 012.345.678",
    "12 ngõ 5 Huế",
    "số 7 hẻm 3 Trần Phú",
    "25 kiệt 4 Lê Lợi",
    "nhà 5 ngách 2",
    "12/3 ngõ 5",
]
BASE = "Tôi nộp hồ sơ khai sinh tại UBND phường Hà Đông đã 2 tuần chưa có kết quả, cán bộ hẹn 3 ngày."
ANSWER = "UBND phường đã trả kết quả ngày 20/10/2026."


@pytest.fixture
def factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


def answered_item(factory, content: str) -> str:
    code = file_item(factory, content=content, email=EMAIL).code
    fs.claim(factory, code, STAFF, now=LATER)
    fs.answer(factory, code, STAFF, ANSWER, now=LATER)
    return code


@pytest.mark.parametrize("disguised", DISGUISED)
def test_disguised_data_is_refused_and_the_preview_passes(factory, disguised):
    raw = f"{BASE} Liên hệ: {disguised}, xin cảm ơn."
    code = answered_item(factory, raw)
    for text in (raw, f"{ANSWER} Đã liên hệ {disguised}."):
        with pytest.raises(fs.FeedbackError, match="personal data"):
            fs.publish(factory, code, STAFF, content=text, now=LATER)
        with pytest.raises(fs.FeedbackError, match="personal data"):
            fs.publish(factory, code, STAFF, answer_text=text, now=LATER)
    assert row(factory, code).state == "answered"
    preview = fs.preview_publication(factory, code)
    assert preview.content.text.startswith(BASE) and preview.content.text.endswith(", xin cảm ơn.")
    assert disguised not in preview.content.text
    fs.publish(factory, code, STAFF, now=LATER)  # the default texts are the preview's
    it = row(factory, code)
    assert it.state == "published" and it.public_content == preview.content.text


def test_the_preview_passes_when_staff_publish_it_as_their_own_text(factory):
    raw = f"{BASE} Liên hệ: {', '.join(DISGUISED)}."
    code = answered_item(factory, raw)
    preview = fs.preview_publication(factory, code)
    fs.publish(factory, code, STAFF, content=preview.content.text, answer_text=preview.answer.text, now=LATER)
    assert row(factory, code).public_content == preview.content.text


def test_money_laws_dates_and_prose_are_not_refused(factory):
    code = answered_item(factory, BASE)
    content = (
        f"{BASE} Lệ phí 100.000.000 đồng, đã nộp 150.000.000đ, tiền 250.000.000 VNĐ theo Nghị định "
        "20/2008/NĐ-CP, điều 5 khoản 2; ngày 5 tháng 10 lúc 9 giờ. Hẹn gặp nhau at home."
    )
    fs.publish(factory, code, STAFF, content=content, now=LATER)
    assert row(factory, code).public_content == content
