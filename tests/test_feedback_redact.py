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


# Sender data written to slip past filters: full-width digits, grouped ID numbers, spelled-out e-mails,
# short addresses. (text, the part that must go, its label)
DISGUISED = [
    ("gọi ０９１２ ３４５ ６７８ nhé", "０９１２ ３４５ ６７８", "[số điện thoại]"),
    ("gọi 0912.345.678 nhé", "0912.345.678", "[số điện thoại]"),
    ("gọi (+84) 912-345-678 nhé", "912-345-678", "[số điện thoại]"),
    ("gọi 0912 - 345 - 678 nhé", "345", "[số điện thoại]"),
    ("gọi 0912345678,0987654321 nhé", "0987654321", "[số điện thoại]"),
    ("CCCD 001.099.012.345 cấp năm 2021", "001.099.012.345", "[số giấy tờ]"),
    ("CCCD 001 099 012 345 cấp năm 2021", "001 099 012 345", "[số giấy tờ]"),
    ("CCCD 001-099-012-345 cấp năm 2021", "001-099-012-345", "[số giấy tờ]"),
    ("CMND 012.345.678 cấp năm 2010", "012.345.678", "[số giấy tờ]"),
    ("CCCD ００１０９９０１２３４５ cấp năm 2021", "００１", "[số giấy tờ]"),
    ("thư gửi binh.nv [at] gmail.com nhé", "binh.nv", "[email]"),
    ("thư gửi binh.nv(at)gmail.com nhé", "binh.nv", "[email]"),
    ("thư gửi binh.nv at gmail dot com nhé", "binh.nv", "[email]"),
    ("thư gửi binh.nv @ gmail . com nhé", "binh.nv", "[email]"),
    ("thư gửi binh.nv[@]gmail[.]com nhé", "binh.nv", "[email]"),
    ("thư gửi binh.nv a còng gmail chấm com nhé", "binh.nv", "[email]"),
    ("thư gửi ｂｉｎｈ＠ｙａｈｏｏ．ｃｏｍ nhé", "ｂｉｎｈ", "[email]"),
    ("thư gửi binh at so-tp dot gov dot vn nhé", "so-tp", "[email]"),
    ("nhà tôi ở 12 ngõ 5 Huế, gần chợ", "12 ngõ 5 Huế", "[địa chỉ]"),
    ("nhà tôi ở số 7 hẻm 3 Trần Phú, gần chợ", "Trần Phú", "[địa chỉ]"),
    ("nhà tôi ở 25 kiệt 4 Lê Lợi, gần chợ", "Lê Lợi", "[địa chỉ]"),
    ("tôi ở nhà 5 ngách 2, gần chợ", "ngách 2", "[địa chỉ]"),
    ("tôi ở 12/3 ngõ 5, gần chợ", "12/3", "[địa chỉ]"),
    ("toi o 12 ngo 5 Hue, gan cho", "ngo 5", "[địa chỉ]"),
]


@pytest.mark.parametrize(("text", "personal", "label"), DISGUISED, ids=[t for t, _, _ in DISGUISED])
def test_disguised_sender_data_is_redacted(text, personal, label):
    r = redact(text)
    assert personal not in r.text and label in r.text, r.text
    assert r.text.startswith(text.split()[0]) and r.text.split()[-1] == text.split()[-1]  # the rest stays


KEPT = [
    "Lệ phí 100.000.000 đồng",
    "đã nộp 10.000.000đ",
    "phí 1.500.000 VNĐ",
    "chi 2.000.000 vnd",
    "bồi thường 250.000.000 VNĐ",
    "khoản 150.000.000đ",
    "số tiền 100 000 000 đồng",
    "mức phạt là 120.000.000",
    "gặp nhau at home",
    "gặp nhau at home. Com ơn",
    "ngày 5 tháng 10",
    "điều 5 khoản 2",
    "hẹn 3 ngày",
    "theo Nghị định 20/2008/NĐ-CP",
    "lúc 9 giờ",
    "hồ sơ số 123/2026/HS",
]


@pytest.mark.parametrize("text", KEPT)
def test_money_laws_dates_and_prose_stay(text):
    assert redact(text).text == text


def test_spans_found_in_the_matching_copy_replace_the_original_characters():
    text = "Gọi ０９１２ ３４５ ６７８ hoặc ｂｉｎｈ＠ｇｍａｉｌ．ｃｏｍ, CMND ０１２．３４５．６７８."
    r = redact(text, use_ner=False)
    assert r.text == "Gọi [số điện thoại] hoặc [email], CMND [số giấy tờ]."
    assert r.found == [
        ("phone", "０９１２ ３４５ ６７８"),
        ("email", "ｂｉｎｈ＠ｇｍａｉｌ．ｃｏｍ"),
        ("id_number", "０１２．３４５．６７８"),
    ]


def test_the_senders_fields_match_through_full_width_letters_and_separators():
    r = redact(
        "Tôi là Ｎｇｕｙễｎ-Văn-Bình, ở số 12, ngõ 45, phố Le Loi.",
        "Nguyễn Văn Bình",
        "số 12 ngõ 45 phố Lê Lợi, phường Hà Đông, Hà Nội",
        use_ner=False,
    )
    assert r.text == "Tôi là [họ tên], ở [địa chỉ]."


def test_overlapping_detections_leave_nothing_behind():
    # "12 ngõ 5 Huế" (short address) and "ngõ 5 Huế, phường An Hòa" (the sender's address) overlap: both go
    r = redact("Nhà ở 12 ngõ 5 Huế, phường An Hòa bị ngập", address="ngõ 5 Huế, phường An Hòa, Cần Thơ", use_ner=False)
    assert r.text == "Nhà ở [địa chỉ] bị ngập"
    assert r.found == [("address", "12 ngõ 5 Huế, phường An Hòa")]
