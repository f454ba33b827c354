"""Redaction before publishing, on realistic Vietnamese feedback."""

import pytest

from feedback.redact import redact

LETTER = (
    "Kính gửi Sở Tư pháp. Tôi tên là Phạm Thị Hồng Nhung, sinh năm 1988, thường trú tại thôn Đông, xã Tân Lập, "
    "huyện Đan Phượng. Ngày 12/9/2026 tôi đến UBND xã xin chứng thực bản sao sổ hộ khẩu thì công chức tư pháp "
    'là ông Đỗ Văn Hải yêu cầu nộp 50.000 đồng tiền "phí dịch vụ" không có biên lai. Số CMND của tôi là '
    "017 123 456, CCCD 001188012345. Mọi liên hệ xin gọi 0978.123.456 hoặc nhungpth88@yahoo.com.vn."
)
CHAT = (
    "Em chào anh chị ạ, em là Hoàng Minh Tuấn ở 23/7 Nguyễn Văn Cừ, phường An Hòa, Ninh Kiều, Cần Thơ. Em đi làm "
    "lý lịch tư pháp từ 15/8 mà tới giờ chưa có, gọi 0292 3821 456 không ai nghe. Chị Thảo ở quầy số 3 bảo chờ "
    "thêm. Đề nghị Sở xem xét. SĐT em: +84 345 678 901"
)
PUBLIC = (
    "Đường Trần Hưng Đạo đoạn qua phường Bến Nghé ngập sâu mỗi khi mưa, UBND Quận 1 chưa xử lý. Hồ sơ số "
    "123/2026/HS nộp ngày 2/10/2026. Lệ phí đã nộp 1.200.000 đồng theo Quyết định 45/2024/QĐ-UBND của UBND "
    "Thành phố Hồ Chí Minh; bộ phận một cửa ở số 86 Lê Thánh Tôn hẹn 15 ngày."
)


def test_a_letter_with_every_kind_of_personal_data():
    r = redact(LETTER, "Phạm Thị Hồng Nhung", "thôn Đông, xã Tân Lập, huyện Đan Phượng, Hà Nội")
    for personal in ("Nhung", "thôn Đông", "Đỗ Văn Hải", "017 123 456", "001188012345", "0978", "nhungpth88"):
        assert personal not in r.text, personal
    assert "Tôi tên là [họ tên]" in r.text and "ông [họ tên]" in r.text and "[địa chỉ]" in r.text
    assert "[số giấy tờ]" in r.text and "[số điện thoại]" in r.text and "[email]" in r.text
    # what the complaint is about stays readable
    for kept in ("12/9/2026", "chứng thực bản sao", "50.000 đồng", "không có biên lai", "Sở Tư pháp"):
        assert kept in r.text
    assert {k for k, _ in r.found} == {"name", "address", "id_number", "phone", "email"}


def test_a_chat_message_with_a_street_address_and_first_names():
    r = redact(CHAT, "Hoàng Minh Tuấn", "23/7 Nguyễn Văn Cừ, phường An Hòa, quận Ninh Kiều, Cần Thơ")
    for personal in ("Tuấn", "23/7", "Nguyễn Văn Cừ", "0292", "345 678 901", "Thảo"):
        assert personal not in r.text, personal
    assert "Chị [họ tên] ở quầy số 3" in r.text
    assert "SĐT em: [số điện thoại]" in r.text  # the abbreviation stays
    assert "lý lịch tư pháp từ 15/8" in r.text


def test_public_places_laws_money_and_dossier_numbers_stay():
    r = redact(PUBLIC)
    for kept in (
        "Đường Trần Hưng Đạo",
        "UBND Quận 1",
        "123/2026/HS",
        "1.200.000 đồng",
        "45/2024/QĐ-UBND",
        "Thành phố Hồ Chí Minh",
        "15 ngày",
    ):
        assert kept in r.text, kept
    assert r.text.count("[") == 1 and "[địa chỉ]" in r.text  # only the house-number address "số 86 Lê Thánh Tôn"


def test_text_typed_without_diacritics_matches_the_senders_own_fields():
    r = redact(
        "toi la nguyen van binh, nha o so 12 ngo 45 pho le loi, sdt 0912345678. Ong Binh can ho tro gap",
        "Nguyễn Văn Bình",
        "số 12 ngõ 45 phố Lê Lợi, phường Hà Đông, Hà Nội",
    )
    assert r.text == "toi la [họ tên], nha o [địa chỉ], sdt [số điện thoại]. Ong [họ tên] can ho tro gap"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("gọi 0912 345 678 nhé", "phone"),
        ("gọi 0912-345-678 nhé", "phone"),
        ("gọi +84912345678 nhé", "phone"),
        ("máy bàn (024) 3825 1234", "phone"),
        ("thư gửi a.b-c@so.gov.vn nhé", "email"),
        ("CCCD số 079 188 012 345 cấp năm 2021", "id_number"),
        ("CMND 123456789 cấp năm 2010", "id_number"),
        ("nhà số 7, tổ 3, phường Quang Trung", "address"),
        ("ở 45 đường Trần Phú, Hà Đông", "address"),
    ],
)
def test_patterns(text, kind):
    assert kind in {k for k, _ in redact(text, use_ner=False).found}


def test_empty_text():
    assert redact("").text == ""
