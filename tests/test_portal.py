"""Tests for the national public-service portal parser (knowledge/portal.py).

Fixtures are real records from the portal crawl, trimmed (tests/fixtures/portal/records.jsonl), and whole
records with their page text (tests/fixtures/portal/pages.jsonl).
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from pathlib import Path

import pytest

from knowledge.model import Channel, Document, Fee, LegalBasis, Procedure
from knowledge.portal import RecordError, is_portal_record, page_gaps, page_sections, page_states, parse_portal_record

FIXTURES = Path(__file__).parent / "fixtures" / "portal"
RECORDS = {
    r["ma_thu_tuc"]: r
    for name in ("records.jsonl", "pages.jsonl")  # a whole record replaces its trimmed copy
    for r in map(json.loads, (FIXTURES / name).read_text(encoding="utf-8").splitlines())
}

CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"


def parse(code: str) -> Procedure:
    return parse_portal_record(RECORDS[code])


def record(**fields: str) -> dict:
    return {"ma_thu_tuc": "1.000001", "ten_thu_tuc": "Thủ tục thử", **fields}


def channels(body: str) -> list[Channel]:
    return parse_portal_record(record(cach_thuc_thuc_hien=CHANNEL_HEADER + body)).channels


def documents(body: str) -> list[Document]:
    return parse_portal_record(record(thanh_phan_ho_so=body)).documents


def legal(body: str) -> list[LegalBasis]:
    return parse_portal_record(record(can_cu_phap_ly=LEGAL_HEADER + body)).legal_basis


def amounts(ch: Channel) -> list[tuple[str, str]]:
    return [(f.amount, f.unit) for f in ch.fees]


# ------------------------------------------------------------------------------------- the record


def test_is_portal_record():
    assert is_portal_record(RECORDS["1.000178"])
    assert is_portal_record({"ma_thu_tuc": "1.1", "ten_thu_tuc": "x"})
    assert not is_portal_record({"code": "1.000178", "name": "x"})
    assert not is_portal_record({"ma_thu_tuc": "1.000178"})
    assert not is_portal_record(["ma_thu_tuc", "ten_thu_tuc"])  # type: ignore[arg-type]


def test_scalar_fields_mapped():
    p = parse("1.000178")
    assert p.code == "1.000178"
    assert p.name.startswith("Giải quyết khiếu nại về quyết định hành chính")
    assert p.url == "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/019d2bf7-4fc1-768b-9ba3-94be4bca58ee"
    assert p.decision == "QĐ/0001-BCA"
    assert p.kind == "TTHC được giao luật quy định chi tiết"
    assert p.levels == ["Cấp bộ"]
    assert p.domain == "Khiếu nại, tố cáo"
    assert p.audience == "Tổ chức (không bao gồm doanh nghiệp, HTX), Công dân Việt Nam"
    assert p.agency == "Thanh tra Bộ"
    assert p.authority == "Bộ Công an"
    assert p.ministry == "bo-cong-an"
    assert p.conditions.startswith("Đảm bảo đúng quy định tại Điều 2, Điều 8 và Điều 11 Luật khiếu nại")
    assert "\n+ Người khiếu nại" in p.conditions  # line structure kept


def test_levels_split_on_commas():
    p = parse_portal_record(record(cap_thuc_hien="Cấp bộ,  Cấp tỉnh, Cấp xã"))
    assert p.levels == ["Cấp bộ", "Cấp tỉnh", "Cấp xã"]


def test_placeholders_become_empty():
    p = parse_portal_record(
        record(
            thu_tuc_lien_quan="Không có thông tin",
            co_quan_thuc_hien="  Không có thông tin ",
            co_quan_phoi_hop="--",
            dia_chi_tiep_nhan="",
            co_quan_duoc_uy_quyen="Không",
            yeu_cau_dieu_kien="Không.",
            can_cu_phap_ly="Không có thông tin",
            thanh_phan_ho_so="--",
        )
    )
    assert (p.related, p.agency, p.coordinating_agency, p.address, p.delegated_agency) == ("",) * 5
    assert p.conditions == ""  # "Không" (no special condition) is stored as empty
    assert p.legal_basis == [] and p.documents == [] and p.channels == [] and p.steps == []
    assert parse("1.002755").related == ""  # real record: "Không có thông tin"


def test_conditions_page_furniture_dropped():
    assert parse("1.000916").conditions == ""  # "Không có thông tinTừ khóaKhông có thông tinMô tả..."
    assert parse_portal_record(record(yeu_cau_dieu_kien="Là công dân Việt Nam.\nTừ khóa:")).conditions == (
        "Là công dân Việt Nam."
    )


def test_unknown_keys_are_ignored():
    raw = dict(RECORDS["1.009063"], raw_text="Trang chủ ...", formality_id="abc", something_new=[1, 2])
    assert parse_portal_record(raw).code == "1.009063"


def test_whitespace_collapsed_and_trimmed():
    p = parse_portal_record(
        record(ten_thu_tuc="  Đăng ký\t khai   sinh \n", co_quan_thuc_hien=" Ủy ban  nhân dân\n\n cấp xã ")
    )
    assert p.name == "Đăng ký khai sinh"
    assert p.agency == "Ủy ban nhân dân\ncấp xã"


def test_nfc_normalisation():
    raw = RECORDS["1.009063"]
    assert raw["ten_thu_tuc"] != unicodedata.normalize("NFC", raw["ten_thu_tuc"])  # the source is decomposed
    p = parse("1.009063")
    assert p.name == unicodedata.normalize("NFC", raw["ten_thu_tuc"])
    assert (
        p.name
        == "Thủ tục bán hàng miễn thuế cho đối tượng mua là thuyền viên làm việc trên tàu biển chạy tuyến quốc tế"
    )
    decomposed = unicodedata.normalize("NFD", "Lệ phí hộ tịch")
    assert parse_portal_record(record(linh_vuc=decomposed)).domain == "Lệ phí hộ tịch"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("code", sorted(RECORDS))
def test_every_output_string_is_clean(code):
    for s in filter(None, _strings(parse(code))):
        assert s == unicodedata.normalize("NFC", s)
        for line in s.split("\n"):
            assert line == line.strip() and "  " not in line and "\t" not in line
            assert line  # no blank lines
        assert s.casefold() != "không có thông tin"


@pytest.mark.parametrize("code", sorted(RECORDS))
def test_round_trip_project_format(code):
    p = parse(code)
    assert Procedure.from_dict(json.loads(json.dumps(p.to_dict(), ensure_ascii=False))) == p


# ----------------------------------------------------------------------------------------- result


def test_result_codes_and_furniture_dropped():
    assert parse("1.000178").result == "Quyết định giải quyết khiếu nại lần 1, lần 2"
    assert parse("1.009063").result == "Phản hồi từ hệ thống xử lý dữ liệu điện tử"
    result = parse("1.002755").result
    assert result.split("; ") == [
        "Cập nhật thông tin trong Cơ sở dữ liệu quốc gia về dân cư",
        "Thông báo kết quả giải quyết thủ tục về cư trú, hủy bỏ thủ tục về cư trú",
        "Phiếu từ chối tiếp nhận, giải quyết hồ sơ (lĩnh vực cư trú)",
        "Cập nhật thông tin trong Cơ sở dữ liệu về cư trú",
    ]
    for code in RECORDS:
        r = parse(code).result
        assert "Mã:" not in r and "KQ.G" not in r and "Từ khóa" not in r and "Chọn cơ quan" not in r


def test_result_other_code_shapes():
    raw = "Giấy phép thành lập Trung tâm trọng tàiMã: KQ.G15.000146Điều lệ trung tâm trọng tài được phê duyệtMã: 1231"
    assert parse_portal_record(record(ket_qua_xu_ly=raw)).result == (
        "Giấy phép thành lập Trung tâm trọng tài; Điều lệ trung tâm trọng tài được phê duyệt"
    )
    raw = "Văn bản tố tụng của Tòa án theo tiến trình giải quyếtMã: VBTT"
    assert (
        parse_portal_record(record(ket_qua_xu_ly=raw)).result == "Văn bản tố tụng của Tòa án theo tiến trình giải quyết"
    )


# ------------------------------------------------------------------------------------------ steps


def test_steps_split_on_markers():
    raw = (
        "Bước 1: Thụ lý giải quyết khiếu nại\n\nNếu khiếu nại thuộc thẩm quyền...\n"
        "Bước 2: Kiểm tra lại quyết định.\nBước 3. Xác minh"
    )
    assert parse_portal_record(record(trinh_tu_thuc_hien=raw)).steps == [
        "Thụ lý giải quyết khiếu nại\nNếu khiếu nại thuộc thẩm quyền...",
        "Kiểm tra lại quyết định.",
        "Xác minh",
    ]
    raw = "a) Bước 1: Nộp hồ sơ\nTổ chức nộp 01 bộ hồ sơ.\nb) Bước 2: Tiếp nhận hồ sơ"
    assert parse_portal_record(record(trinh_tu_thuc_hien=raw)).steps == [
        "Nộp hồ sơ\nTổ chức nộp 01 bộ hồ sơ.",
        "Tiếp nhận hồ sơ",
    ]


def test_steps_without_markers():
    raw = "Nộp hồ sơ tại Sở Tư pháp.\n\nSở Tư pháp xem xét,\ncấp giấy đăng ký."
    assert parse_portal_record(record(trinh_tu_thuc_hien=raw)).steps == [
        "Nộp hồ sơ tại Sở Tư pháp.",
        "Sở Tư pháp xem xét,\ncấp giấy đăng ký.",
    ]
    raw = "Luật sư đăng ký hành nghề tại Sở Tư pháp.\nTrong thời hạn 05 ngày làm việc, Sở Tư pháp cấp Giấy đăng ký."
    assert len(parse_portal_record(record(trinh_tu_thuc_hien=raw)).steps) == 2


def test_steps_from_real_record():
    steps = parse("1.002755").steps
    assert steps[0] == "Cá nhân, tổ chức chuẩn bị hồ sơ theo quy định của pháp luật."
    assert all(not s.startswith("Bước") for s in steps)


# --------------------------------------------------------------------------------------- channels


def test_channel_time_with_unit_and_missing_fee():
    ch = parse("1.000178").channels
    assert [c.name for c in ch] == ["Dịch vụ bưu chính", "Trực tiếp"]
    assert (ch[0].time, ch[0].time_value, ch[0].time_unit) == ("60 Ngày làm việc", "60", "Ngày làm việc")
    assert ch[0].fee == "" and ch[0].fees == ()
    assert ch[0].description.startswith("Thời hạn giải quyết khiếu nại lần đầu không quá 30 ngày")


def test_channel_lost_unit():
    ch = channels("Trực tuyến1Miễn phíDịch vụ bưu chính1Miễn phíTrực tiếp1Miễn phí")
    assert [c.name for c in ch] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert all((c.time, c.time_value, c.time_unit, c.fee) == ("1", "1", "", "Miễn phí") for c in ch)
    ch = channels("Trực tuyến0,5 NgàyMiễn phí")
    assert (ch[0].time, ch[0].time_value, ch[0].time_unit) == ("0,5 Ngày", "0,5", "Ngày")


def test_channel_lost_unit_glued_to_amount():
    ch = parse("1.000014").channels  # Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)
    assert (ch[0].time, ch[0].time_unit) == ("1", "")
    assert ch[0].fee == "20 VNĐ(20.000 vnđ /tờ khai)"
    assert amounts(ch[0]) == [("20", "VNĐ"), ("20.000", "vnđ")]
    ch = parse("1.000005").channels  # Trực tuyến120,000 VNĐ(Theo khoản 1 ...)
    assert ch[0].time == "1" and amounts(ch[0]) == [("20,000", "VNĐ")]
    ch = parse("1.007857").channels  # Trực tuyến220 VNĐ(...) then Trực tiếp2 GiờMiễn phí
    assert (ch[0].time, amounts(ch[0])[0]) == ("2", ("20", "VNĐ"))
    assert (ch[1].time, ch[1].fee, ch[1].fees) == ("2 Giờ", "Miễn phí", ())


def test_channel_no_time_then_amount():
    ch = parse("2.001263").channels  # Trực tuyếnKhông có thông tin400,000 Việt Nam Đồng(Lệ phí : 400.000 Đồng ...
    assert ch[0].time_value == "" and ch[0].time_unit == ""
    assert "Thời gian kiểm tra hồ sơ và lấy ý kiến: 10 ngày, kể từ ngày nhận đủ hồ sơ hợp lệ;" in ch[0].time.split("\n")
    assert amounts(ch[0]) == [("400,000", "Việt Nam Đồng"), ("400.000", "Đồng"), ("400.000", "đ")]
    assert "Lệ phí : 400.000 Đồng (Mức thu lệ phí: 400.000đ/trường hợp." in ch[0].fees[1].text
    assert ch[0].description.startswith("Cách thức thực hiện")


def test_channel_free_text_time():
    ch = parse("1.007689").channels
    assert ch[0].time == "Không phải trả kết quả cho người nộp thuế" and ch[0].time_value == ""
    assert ch[0].fee == "Miễn phí"
    assert ch[0].description.startswith("Bằng phương thức điện tử qua Cổng dịch vụ công Quốc gia")
    for code in ("1.009825", "1.014976"):  # "Trực tiếpKhôngKhông có thông tin...", "Trực tiếpKhông Không có..."
        ch = parse(code).channels
        assert len(ch) == 3
        assert all(c.time == "" and c.fee == "" for c in ch)
        assert {c.name: c.description for c in ch}["Trực tiếp"] == "Tại Trung tâm phục vụ hành chính công cấp tỉnh, xã"
    ch = parse("1.009824").channels
    assert ch[0].time.startswith("Hệ thống giải quyết thủ tục hành chính ngành Thuế")


def test_channel_fee_with_note_and_description():
    ch = parse("1.002613").channels
    assert ch[0].fee.startswith("2,500,000 Việt Nam Đồng(Phí : Đồng (Từ ngày 01/7/2025")
    assert ch[0].fee.endswith("người dân))")
    assert amounts(ch[0]) == [("2,500,000", "Việt Nam Đồng")]  # dates and circular numbers are not fees
    assert ch[0].description == "20 ngày làm việc kể từ khi nhận đủ hồ sơ hợp lệ."


def test_fee_written_in_the_description():
    ch = parse("1.003135").channels  # fee column "Không có thông tin", the fees written in the description
    assert [c.name for c in ch] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    for c in ch:
        assert c.fee.split("\n") == [
            "Lệ phí : 20.000 Đồng (Lệ phí Cấp mới, cấp lại chứng chỉ chuyên môn: 20.000 đồng/giấy.);",
            "Lệ phí : 50.000 Đồng (Lệ phí Cấp mới, cấp lại chứng nhận khả năng chuyên môn thuyền trưởng, "
            "máy trưởng: 50.000 đồng/giấy;)",
        ]
        assert {(f.amount, f.unit) for f in c.fees} == {
            ("20.000", "Đồng"),
            ("20.000", "đồng"),
            ("50.000", "Đồng"),
            ("50.000", "đồng"),
        }
        assert c.time == "5 Ngày làm việc"  # the description's "05 ngày làm việc" does not replace the cell
    # A fee word without an amount in its clause is no fee.
    ch = channels("Trực tiếp5 NgàyKhông có thông tinPhí : Đồng Không thu lệ phí; phạt 100.000 đồng nếu nộp muộn")
    assert ch[0].fee == "" and ch[0].fees == ()


def test_multiple_fees_in_one_channel():
    ch = parse("1.004306").channels[0]
    assert ch.fee.startswith("Miễn phí(15000000/lần Đồng (Đối với nhà khai thác tàu bay nước ngoài")
    assert amounts(ch) == [
        ("15000000", "Đồng"),
        ("15000000", "Đồng"),
        ("18000000", "Đồng"),
        ("6000000", "Đồng"),
        ("15000000", "Đồng"),
    ]
    assert ch.fees[2].text.startswith("Phí: 18000000/loại Đồng (Đối với nhà khai thác tàu bay Việt Nam->Gia hạn")
    assert ch.description == "18 ngày, kể từ ngày nhận đủ hồ sơ hợp lệ"


def test_labelled_amount_without_unit_and_no_cross_channel_move():
    online, post, direct = parse("1.003708").channels
    assert amounts(online) == [("4,500,000", "VNĐ"), ("1,500,000", "")]
    assert amounts(post) == [("1,500,000", "VNĐ"), ("1,500,000", "")]
    assert amounts(direct) == amounts(post)
    assert "4,500,000" not in post.fee + direct.fee


def test_usd_fees():
    ch = parse("1.003358").channels
    assert amounts(ch[0]) == [("145", "USD")]
    assert ch[0].fees[0].text == "145 USD(Thẻ tạm trú có thời hạn không quá 02 năm: 145 USD/thẻ.)"
    assert [amounts(c) for c in ch[3:]] == [[("155", "USD")], [("165", "USD")]]


def test_fee_shapes_inline():
    ch = channels("Trực tiếp5 Ngày làm việc70,000 VNĐ(70.000 đồng/Giấy chứng nhận)")[0]
    assert amounts(ch) == [("70,000", "VNĐ"), ("70.000", "đồng")]
    ch = channels(
        "Trực tuyến12 NgàyMiễn phí(Cho một loại hình sản phẩm: 8.000.000/lần; thêm một loại: 2.000.000/lần.)"
    )[0]
    assert amounts(ch) == [("8.000.000", ""), ("2.000.000", "")]
    assert ch.fees[1].text == "thêm một loại: 2.000.000/lần.)"
    ch = channels("Trực tiếp3 Ngày200,000 VNĐ(200.000đ/lần cấp.)Nộp tại 02 cơ sở; phí 100.000 đồng")[0]
    assert amounts(ch) == [("200,000", "VNĐ"), ("200.000", "đ")]
    assert ch.description == "Nộp tại 02 cơ sở; phí 100.000 đồng"
    ch = channels("Trực tiếp5 Ngày10,000,000 VNĐ(* Theo Thông tư số 25/2022/TT-BTC: + Dưới 50 tỷ: 10 triệu đồng)")[0]
    assert amounts(ch) == [("10,000,000", "VNĐ"), ("10", "triệu đồng")]


def test_unbalanced_note_keeps_description():
    ch = parse("1.003406").channels[0]
    assert ch.fee.startswith("1,500,000 VNĐ(đồng/lần(Lệ phí đăng ký các quyền tàu bay")
    assert ch.fee.endswith("theo quy định tại Thông tư 40/2026/TT-BTC)")
    assert ch.description.startswith("- Nộp hồ sơ trực tiếp; hoặc\n- Qua hệ thống bưu chính")
    assert amounts(ch) == [("1,500,000", "VNĐ")]


def test_channel_names_inside_descriptions_do_not_start_rows():
    ch = parse("1.003358").channels
    assert ch[0].description.startswith("Trực tuyến: nộp hồ sơ trực tuyến qua Cổng dịch vụ công quốc gia")
    ch = parse("3.000382").channels  # the description holds a pasted "Dịch vụ bưu chính\t02 Ngày làm việc\t..." line
    assert [(c.name, c.time) for c in ch] == [
        ("Trực tuyến", "2 Ngày làm việc"),
        ("Dịch vụ bưu chính", "2 Ngày làm việc"),
    ]
    assert "Dịch vụ bưu chính 02 Ngày làm việc Phí : Đồng Không thu lệ phí" in ch[0].description


# -------------------------------------------------------------------------------------- documents


def test_documents_simple_table():
    docs = parse("1.000178").documents
    assert len(docs) == 8
    assert docs[0] == Document(name="Tài liệu, chứng cứ do các bên cung cấp", quantity="1 bản chính")
    assert docs[-1].name == "Đơn khiếu nại hoặc bản ghi nội dung khiếu nại"
    assert all(d.group == "" for d in docs)  # the "--" heading is a placeholder


def test_documents_number_leading_name_and_generic_form():
    first, second = parse("2.000769").documents
    assert first == Document(name="03 ảnh màu kích thước 2x3 cm chụp không quá 06 tháng", quantity="1 bản chính")
    assert second.name.endswith("kiến thức pháp luật về giao thông đường bộ")
    assert second.form == "văn bản đề nghị.docx"


def test_documents_form_glued_after_punctuation():
    docs = parse("1.000823").documents
    assert docs[0].name.endswith("Nghị định số 121/2021/NĐ-CP ngày 27/12/2021;")
    assert docs[0].form == "Mus08.docx" and docs[0].quantity == "1 bản chính"
    assert docs[1].name.endswith("ngày 27/12/2021.") and docs[1].form == "Mus09.docx"
    docs = parse("1.001010").documents
    assert docs[1] == Document(name="Bản sao hộ chiếu có chứng thực;", quantity="0 bản chính,1 bản sao")
    assert docs[2].name == "Đơn xin thường trú;"
    assert docs[2].form == "Mẫu-NA12,-Đơn-xin-thường-trú-cho-người-nước-ngoài.-doc.doc"
    assert docs[3].form == "NA11.doc"


def test_documents_several_forms():
    doc = parse("1.014771").documents[0]
    assert doc.form == "Phụ lục I - TT54.docx; Phụ lục II -TT54.docx; Phụ lục IV - TT54.docx; Phụ lục V - T54.docx"
    assert doc.name.endswith("danh sách các chức danh quản trị, điều hành, kiểm soát dự kiến.")


def test_documents_grouped_tables():
    docs = parse("1.000807").documents
    assert docs[0].group == "Giấy tờ chứng minh thuộc diện cấp giấy miễn thị thực:"
    assert docs[0].quantity == "0 bản chính"
    assert [d.group for d in docs[2:]] == [""] * (len(docs) - 2)  # the second table's heading is "--"
    assert docs[4] == Document(
        name="01 Tờ khai đề nghị cấp Giấy miễn thị thực (Mẫu NA9).", form="10-Mẫu NA9.doc", quantity="1 bản chính"
    )
    docs = parse("1.004993").documents
    assert [d.group for d in docs[:2]] == ["* Trường hợp bị mất, bị hỏng:"] * 2
    assert docs[2].group.startswith("* Trường hợp có sự thay đổi về nội dung")
    assert docs[2].form == "văn bản đề nghị (thay đổi về nội dung).docx"
    assert docs[-1].quantity == "0 bản chính,1 bản sao"


def test_documents_quantity_glued_to_digits():
    body = (
        DOC_HEADER
        + "Văn bản đề nghị theo Phụ lục IX ban hành kèm theo Nghị định số 56/2023/NĐ-CP ngày 24/7/20231 bản chính"
        "Đơn đăng ký biến động đất đai theo Mẫu số 181 bản chính,1 bản sao"
        "+ Văn bản đề nghị xin tái xuất (01 bản chính)0 bản chính"
        "+ Hóa đơn thương mại: 01 bản chính1 bản chính"
    )
    assert documents(body) == [
        Document(
            name="Văn bản đề nghị theo Phụ lục IX ban hành kèm theo Nghị định số 56/2023/NĐ-CP ngày 24/7/2023",
            quantity="1 bản chính",
        ),
        Document(name="Đơn đăng ký biến động đất đai theo Mẫu số 18", quantity="1 bản chính,1 bản sao"),
        Document(name="+ Văn bản đề nghị xin tái xuất (01 bản chính)", quantity="0 bản chính"),
        Document(name="+ Hóa đơn thương mại: 01 bản chính", quantity="1 bản chính"),
    ]


def test_documents_name_starting_with_quantity_words():
    body = DOC_HEADER + "Đơn đề nghị1 bản chính01 bản chính biên bản xác nhận giấy phép bị mất1 bản chính"
    assert [d.name for d in documents(body)] == ["Đơn đề nghị", "01 bản chính biên bản xác nhận giấy phép bị mất"]


def test_documents_without_table_header():
    assert documents("phải được kê khai và ký chữ ký số trên các biểu mẫu điện tử ... 01 ngày làm việc") == []


# ------------------------------------------------------------------------------------ legal basis


def test_legal_basis_title_ending_with_number():
    assert parse("1.000178").legal_basis == [
        LegalBasis(
            "Hướng dẫn xử lý khiếu nại, kiến nghị, phản ánh; giải quyết khiếu nại và quản lý công tác giải quyết "
            "khiếu nại trong công an nhân dân",
            "68/2013/TT-BCA",
        ),
        LegalBasis("Luật Khiếu nại năm 2011", "02/2011/QH13"),
        LegalBasis("Quy định quy trình giải quyết khiếu nại trong công an nhân dân", "11/2015/TT-BCA"),
        LegalBasis("Nghị định 05/2012/NĐ-CP", "05/2012/NĐ-CP"),
    ]


def test_legal_basis_glued_numbers():
    basis = parse("1.007887").legal_basis
    assert LegalBasis("Luật 54/2014/QH13", "54/2014/QH13") in basis  # "Luật 54/2014/QH1354/2014/QH13"
    assert LegalBasis("Quyết định 601/QĐ-BTC", "601/QĐ-BTC") in basis
    assert LegalBasis("Quyết định 10/2018/QĐ-TTg", "10/2018/QĐ-TTg") in basis
    assert basis[5].number == "73-CP" and basis[5].title.startswith("Nghị định 73/NĐ-CP ngày 30/7/1994")
    assert basis[7].number == "53/2013/QĐ-TTg"
    assert [b.number for b in basis].count("") == 0


def test_legal_basis_lowercase_title_and_glued_next_title():
    basis = parse("1.008333").legal_basis
    assert basis[0].title.startswith("sửa đổi một số điều của Thông tư 19/2021/TT-BTC ngày 18/3/2021")
    assert basis[0].number == "46/2024/TT-BTC"
    assert basis[1].title.startswith("Nghị định số 91/2022/NĐ-CP sửa đổi bổ sung")  # "...TT-BTCNghị định số 91/..."
    assert [b.number for b in basis] == [
        "46/2024/TT-BTC",
        "91/2022/NĐ-CP",
        "38/2019/QH14",
        "126/2020/NĐ-CP",
        "19/2021/TT-BTC",
        "80/2021/TT-BTC",
        "373/2025/NĐ-CP",
    ]


def test_legal_basis_odd_numbers():
    assert parse("3.000146").legal_basis[1:] == [
        LegalBasis("Nghị định số 46/2020/NĐ-CP", "46/2020"),
        LegalBasis("Luật Hải quan 2014", "54"),  # "...Luật Hải quan 201454" at the end
    ]
    assert legal(
        "Luật Thú yLuật 79/2015/QH13Thông tư số 03/2023/TT-BTP ngày 02/8/2023 của Bộ Tư phápThông tư số 03/2023/TT-BTP"
    ) == [
        LegalBasis("Luật Thú y", "79/2015/QH13"),
        LegalBasis("Thông tư số 03/2023/TT-BTP ngày 02/8/2023 của Bộ Tư pháp", "03/2023/TT-BTP"),
    ]
    assert legal("Nghị định 101/2024/NĐ-CPNghị định 101/2024/NĐ-CP") == [
        LegalBasis("Nghị định 101/2024/NĐ-CP", "101/2024/NĐ-CP")
    ]
    assert legal("Luật Doanh nghiệp59/2020/QH14Luật sửa đổi Luật Doanh nghiệp 202076/2025/QH15") == [
        LegalBasis("Luật Doanh nghiệp", "59/2020/QH14"),
        LegalBasis("Luật sửa đổi Luật Doanh nghiệp 2020", "76/2025/QH15"),
    ]


def test_legal_basis_number_not_recognised_is_kept_as_title():
    assert legal("Luật Hóa chất") == [LegalBasis("Luật Hóa chất", "")]
    assert legal("Quyết định 01/2012/QĐ- TTg01/2012/QĐ- TTg")[0].number == "01/2012/QĐ- TTg"


def test_legal_basis_without_header():
    assert parse_portal_record(record(can_cu_phap_ly=": Thông tư 269/2016/TT-BTC ngày 14/11/2016")).legal_basis == []


# -------------------------------------------------------------------------------------- page text

PAGE = (
    "Đăng ký thửTên thủ tụcĐăng ký thửMã thủ tục1.000001Số quyết định1/QĐThủ tục hành chính liên quanKhông có"
    " thông tinTrình Tự Thực HiệnBước 1. Lập hồ sơ theo mục 3 (Thành phần hồ sơ).\nBước 2. Nhận kết quả."
    "Cách Thức Thực Hiện" + CHANNEL_HEADER + "Trực tiếpKhông có thông tinKhông có thông tin"
    "- Trong thời hạn 05 ngày làm việc, kể từ ngày nhận đủ hồ sơ.\n- Lệ phí : 20.000 Đồng (mỗi giấy)"
    "Thành phần hồ sơ--" + DOC_HEADER + "Tờ khai1 bản chínhCăn cứ pháp lý" + LEGAL_HEADER + "Luật Thử01/2020/QH14"
    "Cơ quan thực hiệnỦy ban nhân dân cấp xãYêu cầu, điều kiện thực hiệnKhông có thông tin"
    "Kết quả xử lýGiấy chứng nhậnMã: KQ.G01.000001Từ khóaKhông có thông tin"
)


def test_page_sections_find_each_heading_after_the_previous():
    sections = page_sections(PAGE)
    assert sections["trinh_tu_thuc_hien"].endswith("(Thành phần hồ sơ).\nBước 2. Nhận kết quả.")
    assert sections["thanh_phan_ho_so"] == "--" + DOC_HEADER + "Tờ khai1 bản chính"
    assert sections["ket_qua_xu_ly"] == "Giấy chứng nhậnMã: KQ.G01.000001Từ khóaKhông có thông tin"
    assert page_sections("Trang chủ ...") == {}


def test_fields_cut_by_the_crawl_are_read_from_the_page():
    # As crawled: the steps cut at "Thành phần hồ sơ" inside them, the documents field holding the rest.
    sections = page_sections(PAGE)
    raw = record(
        raw_text=PAGE,
        trinh_tu_thuc_hien="Bước 1. Lập hồ sơ theo mục 3 (",
        thanh_phan_ho_so=").\nBước 2. Nhận kết quả.",
        cach_thuc_thuc_hien=CHANNEL_HEADER + sections["cach_thuc_thuc_hien"].split(CHANNEL_HEADER)[1],
    )
    p = parse_portal_record(raw)
    assert p.steps == ["Lập hồ sơ theo mục 3 (Thành phần hồ sơ).", "Nhận kết quả."]
    assert p.documents == [Document(name="Tờ khai", quantity="1 bản chính")]
    assert p.legal_basis == [LegalBasis("Luật Thử", "01/2020/QH14")]
    assert p.result == "Giấy chứng nhận" and p.agency == "Ủy ban nhân dân cấp xã"
    assert (p.page_code, p.page_gaps) == ("1.000001", [])


def test_documents_from_the_page_when_the_crawl_holds_step_text():
    raw = RECORDS["2.000809"]
    assert raw["thanh_phan_ho_so"].startswith("); nộp cho cơ quan BHXH")  # the crawl's field: the steps' end
    p = parse("2.000809")
    assert [s.split(" ", 2)[:2] for s in p.steps] == [["Lập,", "nộp"], ["Cơ", "quan"], ["Nhận", "kết"]]
    assert p.steps[0].endswith(
        "mục 12.3 (Thành phần hồ sơ); nộp cho cơ quan BHXH nơi chi trả lương hưu, trợ cấp "
        "BHXH hàng tháng trước khi đi tù hoặc xuất cảnh hoặc mất tích."
    )
    assert [d.name[:2] for d in p.documents] == ["1.", "2.", "4.", "3."]
    assert p.documents[0] == Document(name="1. Bản chính Đơn đề nghị", quantity="1 bản chính")
    assert all(d.quantity == "0 bản chính,1 bản sao" for d in p.documents[1:])
    assert p.page_gaps == []


def test_time_written_in_the_description():
    direct = {c.name: c for c in parse("1.004417").channels}["Trực tiếp"]  # time cell "Không có thông tin"
    assert (direct.time_value, direct.time_unit) == ("", "")
    assert direct.time.split("\n") == [
        "trong thời hạn 07 ngày làm việc, kể từ ngày tiếp nhận hồ sơ, Cục HKVN xem xét nội dung hồ sơ, thống nhất "
        "và thông báo chính thức kế hoạch kiểm tra.",
        "Trong thời hạn 20 ngày Cục HKVN sẽ cấp Giấy chứng nhận tổ chức chế tạo cho người làm đơn đề nghị nếu kết "
        "quả kiểm tra đáp ứng các yêu cầu quy định tại Phần này.",
    ]
    assert direct.fee.startswith("20,000,000 VNĐ(")  # the fee cell is untouched
    # Lines about the handling time are preferred; dates are not times.
    ch = channels(
        "Trực tiếpKhông có thông tinMiễn phíNghị định ngày 15 tháng 01 năm 2022.\nẢnh chụp trong 06 tháng.\n"
        "- Thời hạn giải quyết: 10 ngày làm việc."
    )
    assert ch[0].time == "Thời hạn giải quyết: 10 ngày làm việc."
    assert channels("Trực tiếpKhông có thông tinMiễn phíNghị định ngày 15 tháng 01 năm 2022")[0].time == ""


def test_time_written_in_the_fee_note():
    # 1.003198: the whole description sits in the fee cell's note.
    ch = channels(
        "Trực tuyếnKhông có thông tinMiễn phí(Cách thức thực hiện : Gửi hồ sơ đến Sở Tư pháp. Thời hạn giải quyết :"
        " Trong thời hạn 15 ngày, kể từ ngày nhận được đủ hồ sơ hợp lệ. Trường hợp cần xác minh thì thời hạn có thể"
        " kéo dài nhưng không quá 30 ngày.)"
    )
    assert ch[0].time.split("\n") == [
        "Thời hạn giải quyết : Trong thời hạn 15 ngày, kể từ ngày nhận được đủ hồ sơ hợp lệ.",
        "Trường hợp cần xác minh thì thời hạn có thể kéo dài nhưng không quá 30 ngày.",
    ]
    assert ch[0].fee.startswith("Miễn phí(Cách thức thực hiện")


def test_page_code():
    assert parse("3.000224").page_code == "1.014023"  # a damaged record: the page is another procedure's
    assert parse("1.002359").page_code == "1.002359"
    assert parse("1.000178").page_code == ""  # no page text


def test_page_gaps_name_what_the_page_states_and_the_record_lacks():
    # A dossier listed on the page without the table the parser reads.
    page = PAGE.replace("--" + DOC_HEADER + "Tờ khai1 bản chính", "Tờ khai theo mẫu; bản sao giấy tờ tùy thân")
    p = parse_portal_record(record(raw_text=page))
    assert p.documents == [] and "documents" in page_gaps(page_sections(page), p)
    assert page_states(page_sections(page)) >= {"documents", "fee", "time", "steps", "legal", "result", "place"}
    assert "conditions" not in page_states(page_sections(page))  # "Không có thông tin"
    assert page_states(page_sections(PAGE.replace("Giấy chứng nhậnMã", "...Mã"))) >= {"documents"}
    assert "result" not in page_states(page_sections(PAGE.replace("Giấy chứng nhậnMã", "...Mã")))


@pytest.mark.parametrize("code", ["2.000809", "1.004417", "1.003135", "3.000224", "1.002544", "1.002359", "2.000281"])
def test_whole_fixture_pages_leave_no_gaps(code):
    assert parse(code).page_gaps == []


# ------------------------------------------------------------------------------------ bad records


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"ten_thu_tuc": "Đăng ký khai sinh"}, "?", "ma_thu_tuc"),
        ({"ma_thu_tuc": "  ", "ten_thu_tuc": "Đăng ký khai sinh"}, "?", "ma_thu_tuc"),
        ({"ma_thu_tuc": "khai-sinh", "ten_thu_tuc": "Đăng ký khai sinh"}, "khai-sinh", "ma_thu_tuc"),
        ({"ma_thu_tuc": 1.001193, "ten_thu_tuc": "Đăng ký khai sinh"}, "?", "ma_thu_tuc"),
        ({"ma_thu_tuc": "1.001193"}, "1.001193", "ten_thu_tuc"),
        ({"ma_thu_tuc": "1.001193", "ten_thu_tuc": " "}, "1.001193", "ten_thu_tuc"),
        (
            {"ma_thu_tuc": "1.001193", "ten_thu_tuc": "Đăng ký khai sinh", "thanh_phan_ho_so": ["Tờ khai"]},
            "1.001193",
            "thanh_phan_ho_so",
        ),
        ({"ma_thu_tuc": "1.001193", "ten_thu_tuc": "Đăng ký khai sinh", "linh_vuc": {"x": 1}}, "1.001193", "linh_vuc"),
        ({"ma_thu_tuc": "1.001193", "ten_thu_tuc": 5}, "1.001193", "ten_thu_tuc"),
    ],
)
def test_bad_records_raise_record_error(raw, code, field):
    with pytest.raises(RecordError) as info:
        parse_portal_record(raw)
    err = info.value
    assert (err.code, err.field) == (code, field)
    assert code in str(err) and field in str(err)
    assert isinstance(err, ValueError)


def test_not_a_dict():
    with pytest.raises(RecordError) as info:
        parse_portal_record(["1.001193"])  # type: ignore[arg-type]
    assert "?" in str(info.value)


def test_none_and_missing_optional_fields_are_empty():
    p = parse_portal_record({"ma_thu_tuc": "2.000001", "ten_thu_tuc": "Thủ tục", "linh_vuc": None})
    assert p.domain == "" and p.channels == [] and p.documents == [] and p.legal_basis == []


# ---------------------------------------------------------------------- property: no invented number

DIGITS = re.compile(r"\d+")


def _flat(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).split())


def _source(raw: dict, key: str) -> str:
    """The text the parser reads for a field: the field, or the page's own section when they differ."""
    field = unicodedata.normalize("NFC", raw.get(key, ""))
    own = page_sections(raw.get("raw_text", "")).get(key)
    return own if own is not None and "".join(own.split()) != "".join(field.split()) else field


@pytest.mark.parametrize("code", sorted(RECORDS))
def test_every_parsed_number_occurs_in_its_source_field(code):
    raw = RECORDS[code]
    p = parse(code)
    channel_src = _source(raw, "cach_thuc_thuc_hien")
    legal_src = _source(raw, "can_cu_phap_ly")
    for ch in p.channels:
        for d in DIGITS.findall(ch.time_value):
            assert d in channel_src and d in ch.time
        for line in ch.time.split("\n") + ch.fee.split("\n"):  # a time or fee taken from the description: by line
            assert _flat(line) in _flat(channel_src)
        for fee in ch.fees:
            assert isinstance(fee, Fee)
            assert fee.amount and fee.amount in ch.fee and fee.amount in fee.text  # never from another channel
            for d in DIGITS.findall(fee.amount):
                assert d in channel_src
    for basis in p.legal_basis:
        for d in DIGITS.findall(basis.number):
            assert d in legal_src
        assert _flat(basis.number) in _flat(legal_src)
    doc_src = _flat(_source(raw, "thanh_phan_ho_so"))
    for doc in p.documents:
        assert doc.quantity in doc_src
