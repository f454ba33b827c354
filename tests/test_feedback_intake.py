"""Intake: every field with good and bad values, attachments, consent, atomic submit, tracking codes, routing."""

import re

import pytest
from feedback_util import (
    ALICE,
    BOB,
    CONTENT,
    MONDAY,
    counts,
    draft,
    file_item,
    migrated,
    outbox_rows,
    row,
    upload,
)
from sqlalchemy import select

from feedback import attachments as files
from feedback import codes, texts, uploads
from feedback import service as fs
from feedback.tables import attachments, consents
from feedback.tables import uploads as uploads_table
from feedback.validate import MAX_CONTENT_CHARS, InvalidField, clean

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"x" * 200
EXE = b"MZ\x90\x00" + b"\x00" * 200


@pytest.fixture
def factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


def reason(field, value) -> str:
    with pytest.raises(InvalidField) as e:
        clean(field, value)
    assert e.value.field == field
    return e.value.reason


# --- fields ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0387-654-321", "0387654321"),
        ("0561234567", "0561234567"),
        ("0701234567", "0701234567"),
        ("0812345678", "0812345678"),
        ("(024) 3825 1234", "02438251234"),
        ("0236 3822 123", "02363822123"),
    ],
)
def test_vietnamese_phone_numbers_are_accepted_and_normalised(typed, stored):
    assert clean("phone", typed) == stored


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "12345", "0123456789", "0412345678", "091234567", "09123456789", "+1 415 555 0100", "0912abc678",
     "0212345678", "<script>0912345678</script>"],
)  # fmt: skip
def test_wrong_phone_numbers_are_refused_with_a_reason(bad):
    r = reason("phone", bad)
    assert "Số điện thoại" in r


@pytest.mark.parametrize("good", ["binh.nv@gmail.com", "Tran.Thi+pakn@Sotuphap.HaNoi.gov.vn", "a_b@mail.vn"])
def test_emails_are_accepted(good):
    assert clean("email", good).split("@")[1] == good.split("@")[1].lower()


@pytest.mark.parametrize(
    "bad", ["", "binh", "binh@", "@gmail.com", "binh@gmail", "binh nv@gmail.com", "a..b@gmail.com", "x" * 250 + "@a.vn"]
)
def test_wrong_emails_are_refused(bad):
    assert "thư điện tử" in reason("email", bad).lower()


def test_content_limits():
    assert "trống" in reason("content", "")
    assert "trống" in reason("content", " \n\t ")
    assert "quá ngắn" in reason("content", "Chậm trả kết quả")
    assert "quá ngắn" in reason("content", "!!!!!!!!!! ?????????? .......... ,,,,,,,")
    too_long = ("Cán bộ một cửa yêu cầu nộp thêm giấy tờ không có trong quy định. " * 100)[: MAX_CONTENT_CHARS + 1]
    r = reason("content", too_long)
    assert "4.000" in r and "vượt quá" in r
    assert clean("content", too_long[:MAX_CONTENT_CHARS]) == too_long[:MAX_CONTENT_CHARS].strip()
    assert "tiếng Việt" in reason("content", "这是一个关于行政程序的投诉，办理时间太长了，工作人员态度很差。" * 2)


def test_content_keeps_markup_as_text_and_drops_control_characters():
    text = CONTENT + " <script>alert('x')</script> <b>đậm</b>\x00\x07"
    cleaned = clean("content", text)
    assert "<script>alert('x')</script>" in cleaned and "<b>đậm</b>" in cleaned
    assert "\x00" not in cleaned and "\x07" not in cleaned


def test_content_is_normalised_to_nfc():
    decomposed = "Thu tục đăng ký khai sinh bị chậm trả kết quả quá hạn".replace("ụ", "u\u0323")
    assert clean("content", decomposed) == "Thu tục đăng ký khai sinh bị chậm trả kết quả quá hạn"


def test_name_and_address_are_required_and_say_why():
    for field in ("name", "address"):
        r = reason(field, "")
        assert "không được tiếp nhận" in r
    assert "chữ cái" in reason("name", "Nguyen Van 123")
    assert "chữ cái" in reason("name", "<script>alert(1)</script>")
    assert "quá" in reason("name", "Nguyễn " * 20)
    assert clean("name", "  Nguyễn   Thị  Ánh  ") == "Nguyễn Thị Ánh"
    assert "chưa rõ" in reason("address", "12")
    assert "chưa rõ" in reason("address", "<script>x</script> Hà Nội")
    assert "quá" in reason("address", "số 12 phố Huế, " * 30)
    assert clean("address", "thôn 3, xã Tân Lập, huyện Đan Phượng") == "thôn 3, xã Tân Lập, huyện Đan Phượng"


def test_kind_procedure_code_and_agency():
    assert clean("kind", "phản ánh") == "phan_anh"
    assert clean("kind", "kien_nghi") == "kien_nghi"
    assert "phản ánh" in reason("kind", "khiếu nại")
    assert clean("procedure_code", "1.001193") == "1.001193"
    assert clean("procedure_code", "") is None
    assert "Mã thủ tục" in reason("procedure_code", "1.001193; DROP TABLE")
    assert clean("agency", "") is None
    assert "quá" in reason("agency", "UBND " * 100)


def test_a_draft_without_phone_or_email_is_anonymous_and_refused(factory):
    with pytest.raises(InvalidField) as e:
        file_item(factory, phone="", email="")
    assert "nặc danh" in e.value.reason
    assert counts(factory) == (0, 0, 0)
    # an e-mail alone is enough
    r = file_item(factory, phone=None, email="binh.nv@gmail.com")
    assert row(factory, r.code).sender_email == "binh.nv@gmail.com"


@pytest.mark.parametrize(
    ("field", "value"),
    [("content", ""), ("content", "x" * 4001), ("name", ""), ("address", ""), ("phone", "12345"),
     ("email", "not-an-email"), ("kind", "tố cáo")],
)  # fmt: skip
def test_submit_refuses_every_bad_field_and_writes_nothing(factory, field, value):
    with pytest.raises(InvalidField) as e:
        file_item(factory, **{field: value})
    assert e.value.field == field and e.value.reason
    assert counts(factory) == (0, 0, 0)


def test_script_tags_are_stored_verbatim(factory):
    evil = CONTENT + ' <script>document.location="http://x"</script>'
    r = file_item(factory, content=evil, agency="<img src=x onerror=alert(1)>")
    it = row(factory, r.code)
    assert it.content == evil and it.agency == "<img src=x onerror=alert(1)>"


# --- consent ---------------------------------------------------------------------------------------------


def test_consent_is_required_and_recorded_with_text_version_and_time(factory):
    with pytest.raises(fs.ConsentRequired) as e:
        fs.submit(factory, draft(), ALICE, consent_id=999, now=MONDAY, staff_chat=None)
    assert "Im lặng không được coi là đồng ý" in str(e.value)
    other = fs.record_consent(factory, BOB, now=MONDAY)
    with pytest.raises(fs.ConsentRequired):  # someone else's consent
        fs.submit(factory, draft(), ALICE, consent_id=other, now=MONDAY, staff_chat=None)
    assert counts(factory) == (0, 0, 0)
    r = file_item(factory)
    with factory() as s:
        c = s.execute(select(consents).where(consents.c.id == row(factory, r.code).consent_id)).one()
    assert c.text == texts.CONSENT_TEXT and c.text_version == texts.CONSENT_VERSION
    assert c.channel == "telegram" and c.channel_user_id == "1001" and c.given_at is not None
    assert "Nghị định 20/2008/NĐ-CP" in texts.CONSENT_TEXT and "/xoadulieu" in texts.CONSENT_TEXT


# --- attachments -----------------------------------------------------------------------------------------


def test_photos_and_pdf_are_stored_with_checksum(factory, tmp_path):
    ids = [upload(factory, tmp_path, JPEG, "giay-hen.jpg"), upload(factory, tmp_path, PNG),
           upload(factory, tmp_path, PDF, "a.pdf")]  # fmt: skip
    with factory() as s:
        pending = s.execute(select(uploads_table).order_by(uploads_table.c.id)).all()
    assert [u.content_type for u in pending] == ["image/jpeg", "image/png", "application/pdf"]
    r = file_item(factory, attachments=tuple(ids), data_dir=tmp_path)
    with factory() as s:
        rows = s.execute(select(attachments).where(attachments.c.item_id == row(factory, r.code).id)).all()
        assert s.execute(select(uploads_table)).all() == []  # moved to the item
    assert len(rows) == 3
    for u, a in zip(pending, rows, strict=True):
        assert (a.sha256, a.size, a.path) == (u.sha256, u.size, u.path) and a.path.startswith("feedback/")
        assert (tmp_path / a.path).read_bytes()[:4] in (JPEG[:4], PNG[:4], PDF[:4])


def test_the_same_file_is_never_shared(factory, tmp_path):
    first = uploads.store(factory, tmp_path, ALICE, JPEG, "a.jpg")
    with pytest.raises(InvalidField) as e:  # twice in one draft
        uploads.store(factory, tmp_path, ALICE, JPEG, "b.jpg", held=[first.id])
    assert e.value.reason == uploads.DUPLICATE
    other = uploads.store(factory, tmp_path, BOB, JPEG, "a.jpg")
    with factory() as s:
        paths = dict(s.execute(select(uploads_table.c.id, uploads_table.c.path)).all())
    assert len(paths) == 2 and paths[first.id] != paths[other.id]  # same bytes, a file each


def test_a_50_mb_photo_is_refused_before_and_after_download(tmp_path):
    with pytest.raises(InvalidField) as e:
        files.check("anh.jpg", 50 * 1024 * 1024)
    assert "quá lớn" in e.value.reason and "50,0 MB" in e.value.reason and "10 MB" in e.value.reason
    big = JPEG + b"\x00" * (50 * 1024 * 1024)
    with pytest.raises(InvalidField) as e:
        files.save(tmp_path, big, "anh.jpg")
    assert "quá lớn" in e.value.reason
    assert not (tmp_path / "feedback").exists()


def test_executables_and_other_types_are_refused(tmp_path):
    with pytest.raises(InvalidField) as e:
        files.check("setup.exe", 1000)
    assert "setup.exe" in e.value.reason and "ảnh" in e.value.reason and "PDF" in e.value.reason
    with pytest.raises(InvalidField):
        files.save(tmp_path, EXE, "setup.exe")
    with pytest.raises(InvalidField) as e:  # an executable renamed to .jpg: its bytes give it away
        files.save(tmp_path, EXE, "anh.jpg")
    assert "không phải ảnh hoặc PDF" in e.value.reason
    with pytest.raises(InvalidField):
        files.save(tmp_path, b"<html><script>x</script></html>", "trang.html")
    with pytest.raises(InvalidField) as e:
        files.save(tmp_path, b"", "anh.png")
    assert "rỗng" in e.value.reason
    assert not (tmp_path / "feedback").exists()


def test_too_many_attachments(factory, tmp_path):
    ids = tuple(upload(factory, tmp_path, JPEG + bytes([n]), "a.jpg") for n in range(files.MAX_PER_ITEM + 1))
    with pytest.raises(InvalidField) as e:
        file_item(factory, attachments=ids, data_dir=tmp_path)
    assert e.value.field == "attachment"


def test_submit_is_atomic_a_damaged_attachment_leaves_nothing(factory, tmp_path):
    up = upload(factory, tmp_path, JPEG, "a.jpg")
    with factory() as s:
        path = s.scalar(select(uploads_table.c.path))
    (tmp_path / path).write_bytes(JPEG + b"tampered")
    with pytest.raises(InvalidField) as e:
        file_item(factory, attachments=(up,), data_dir=tmp_path)
    assert "hỏng" in e.value.reason
    assert counts(factory) == (0, 0, 0)  # no item, no audit entry, no acknowledgement


def test_another_citizens_upload_cannot_be_attached(factory, tmp_path):
    bobs = upload(factory, tmp_path, JPEG, "a.jpg", citizen=BOB)
    with pytest.raises(InvalidField):
        file_item(factory, attachments=(bobs,), data_dir=tmp_path)  # Alice names Bob's upload id
    assert counts(factory) == (0, 0, 0)


# --- submit, codes ---------------------------------------------------------------------------------------


def test_submit_writes_record_audit_and_acknowledgement_together(factory):
    r = file_item(factory, staff_chat="-1009876")
    assert re.fullmatch(r"PA-[0-9A-HJKMNP-TV-Z]{8}", r.code)
    it = row(factory, r.code)
    assert it.state == "received" and it.version == 1 and it.queue_id and it.sender_phone == "0912345678"
    assert counts(factory) == (1, 1, 2)
    ack, staff = outbox_rows(factory, r.code)
    assert ack.chat_id == "1001" and ack.idempotency_key == f"{r.code}:ack" and ack.status == "pending"
    assert r.code in ack.text and f"{r.deadline:%d/%m/%Y}" in ack.text and "Sở Tư pháp" in ack.text
    # the staff group gets code, queue and deadline, and no personal data
    assert staff.chat_id == "-1009876" and r.code in staff.text and "Sở Tư pháp" in staff.text
    for personal in ("Bình", "0912", "345 678", "Lê Lợi", "khai sinh"):
        assert personal not in staff.text


def test_the_staff_chat_is_passed_in_and_optional(factory):
    consent = fs.record_consent(factory, ALICE)
    r = fs.submit(factory, draft(), ALICE, consent, staff_chat="-42")
    assert [m.chat_id for m in outbox_rows(factory, r.code)] == ["1001", "-42"]
    r2 = fs.submit(factory, draft(content=CONTENT + " Lần hai."), ALICE, consent)
    assert [m.chat_id for m in outbox_rows(factory, r2.code)] == ["1001"]


def test_codes_are_random_and_typing_is_forgiving():
    drawn = {codes.random_code() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(not set(c[3:]) & set("ILOU") for c in drawn)
    assert codes.normalize("pa-7k3m9q2x") == "PA-7K3M9Q2X"
    assert codes.normalize("PA 7K3M 9Q2X") == "PA-7K3M9Q2X"
    assert codes.normalize("7K3M9Q2X") == "PA-7K3M9Q2X"
    assert codes.normalize("PA-7K3M9QZO") == "PA-7K3M9QZ0"  # O typed for 0
    assert codes.normalize("PA-1234") is None and codes.normalize("") is None
    assert codes.find_in_text("tra cứu giúp mã pa-7k3m9q2x với") == "PA-7K3M9Q2X"


def test_a_taken_code_is_drawn_again():
    taken = {"PA-AAAAAAAA", "PA-BBBBBBBB"}
    draws = iter(["PA-AAAAAAAA", "PA-BBBBBBBB", "PA-CCCCCCCC"])
    assert codes.new_code(taken.__contains__, lambda: next(draws)) == "PA-CCCCCCCC"
    with pytest.raises(RuntimeError):
        codes.new_code(lambda c: True)


# --- routing ---------------------------------------------------------------------------------------------


def test_routing_by_procedure_field_and_keywords_with_default(factory):
    fs.add_queue(factory, "Văn phòng UBND tỉnh", 5)
    fs.add_queue(factory, "Sở Xây dựng", 7)
    fs.add_queue(factory, "Công an tỉnh", 3)
    fs.add_rule(factory, "Công an tỉnh", field="Cư trú", priority=10)
    fs.add_rule(factory, "Sở Xây dựng", keywords=["giấy phép xây dựng", "xây nhà"], priority=20)
    fs.add_rule(factory, "Văn phòng UBND tỉnh", procedure_code="2.000001", priority=5)
    cases = [
        ({"field": "cu tru"}, "Công an tỉnh"),
        ({"field": "Hộ tịch", "content": CONTENT + " Tôi xin GIAY PHEP XAY DUNG đã lâu."}, "Sở Xây dựng"),
        ({"procedure_code": "2.000001", "field": "Cư trú"}, "Văn phòng UBND tỉnh"),
        ({"field": "Hộ tịch"}, "Sở Tư pháp"),
    ]
    for over, queue in cases:
        r = file_item(factory, **over)
        assert r.queue == queue, over
    with pytest.raises(fs.FeedbackError):
        fs.add_rule(factory, "Sở Xây dựng")
    with pytest.raises(fs.FeedbackError):
        fs.add_rule(factory, "Không có", field="x")


def test_the_default_queue_is_configurable(factory):
    fs.add_queue(factory, "Văn phòng UBND tỉnh", 5, default=True)
    assert file_item(factory).queue == "Văn phòng UBND tỉnh"
    fs.update_queue(factory, "Sở Tư pháp", default=True)
    assert file_item(factory).queue == "Sở Tư pháp"
    with pytest.raises(fs.FeedbackError):
        fs.add_queue(factory, "Sở Tư pháp", 5)
    with pytest.raises(fs.FeedbackError):
        fs.update_queue(factory, "Sở Tư pháp", deadline_days=0)


def test_a_draft_is_read_from_the_dialogs_json():
    kept = {**draft().__dict__, "attachments": [{"upload": 7, "filename": "a.jpg", "size": 9}, {"path": "old"}]}
    assert fs.Draft.from_dict(kept) == draft(attachments=(7,))  # an entry of an older shape is skipped
    with pytest.raises(InvalidField):  # a half-filled draft is not submittable
        fs.Draft.from_dict({"kind": "phan_anh"}).cleaned()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Tôi muốn khiếu nại quyết định xử phạt của UBND xã", "khieu_nai"),
        ("toi muon to cao can bo xa nhan hoi lo", "to_cao"),
        ("Xin tư vấn pháp luật về chia thừa kế nhà đất", "tu_van"),
        (CONTENT, None),
    ],
)
def test_complaints_denunciations_and_legal_advice_are_recognised(text, key):
    from feedback.scope import out_of_scope

    assert out_of_scope(text) == key
    if key:
        assert texts.OUT_OF_SCOPE[key]


def test_logs_carry_no_personal_data(factory, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    code = file_item(factory, staff_chat="-1").code
    fs.claim(factory, code, "lan.tt")
    fs.answer(factory, code, "lan.tt", "Kính gửi ông Nguyễn Văn Bình, đã xử lý.")
    with pytest.raises(fs.NotFound):
        fs.lookup(factory, code, BOB, phone_last4="0000")
    fs.erase_my_data(factory, ALICE, confirmed=True)
    logged = caplog.text
    assert code in logged
    for personal in ("Bình", "0912", "345", "Lê Lợi", "khai sinh", "1001", "0000"):
        assert personal not in logged, personal
