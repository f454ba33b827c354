"""The state machine: every transition and every refused one, audit, citizen messages, concurrency,
lookup, rating, duplicates, publishing, data rights, overdue items."""

import threading
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from feedback_util import (
    ALICE,
    BOB,
    CONTENT,
    MONDAY,
    audit_rows,
    file_item,
    migrated,
    outbox_rows,
    row,
    upload,
)
from sqlalchemy import select

from feedback import records
from feedback import service as fs
from feedback.tables import attachments, messages
from feedback.tables import metadata as feedback_md
from feedback.tables import uploads as uploads_table
from feedback.validate import InvalidField

STAFF = "lan.tt"
LATER = MONDAY + timedelta(hours=1)


@pytest.fixture
def factory(any_url):
    """SQLite and PostgreSQL."""
    engine, factory = migrated(any_url)
    yield factory
    engine.dispose()


@pytest.fixture
def sqlite_factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


def test_migration_matches_the_tables(any_url):
    engine, _ = migrated(any_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), feedback_md)
    mine = set(feedback_md.tables)
    assert [x for x in diff if any(t in repr(x) for t in mine)] == []
    engine.dispose()


# Each staff action with the arguments it needs.
def do(factory, action, code, staff=STAFF, **kw):
    args = {
        "claim": {},
        "ask_info": {"question": "Bạn gửi giúp ảnh giấy hẹn trả kết quả."},
        "transfer": {"agency": "UBND quận Hà Đông"},
        "answer": {"text": "UBND phường đã trả kết quả ngày 20/10/2026 và nhắc nhở cán bộ liên quan."},
        "reject": {"reason": "khieu_nai_to_cao", "note": "Bạn gửi đơn đến Ban Tiếp công dân tỉnh."},
        "mark_duplicate": {"original": kw.pop("original", None)},
        "publish": {},
        "close": {},
    }[action]
    args.update(kw)
    return getattr(fs, action)(factory, code, staff, now=LATER, **args)


# The shortest path from received to each state.
PATHS = {
    "received": [],
    "in_processing": ["claim"],
    "needs_info": ["ask_info"],
    "answered": ["claim", "answer"],
    "published": ["claim", "answer", "publish"],
    "closed": ["claim", "answer", "publish", "close"],
    "transferred": ["transfer"],
    "rejected": ["reject"],
    "duplicate": ["mark_duplicate"],
}


def item_in(factory, state):
    original = file_item(factory, content=CONTENT + " Bản gốc.").code
    code = file_item(factory).code
    for action in PATHS[state]:
        do(factory, action, code, original=original)
    assert row(factory, code).state == state
    return code, original


ALLOWED = {(a, s) for a, (froms, _) in fs.TRANSITIONS.items() if a in fs.STAFF_ACTIONS for s in froms}
CASES = [(a, s) for a in fs.STAFF_ACTIONS for s in PATHS]


@pytest.mark.parametrize(("action", "state"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_every_staff_action_from_every_state(sqlite_factory, action, state):
    factory = sqlite_factory
    code, original = item_in(factory, state)
    before = row(factory, code)
    n_audit, n_out = len(audit_rows(factory, code)), len(outbox_rows(factory, code))
    if (action, state) not in ALLOWED:
        with pytest.raises(fs.IllegalTransition) as e:
            do(factory, action, code, original=original)
        assert action in str(e.value) and state in str(e.value)
        after = row(factory, code)
        assert (after.state, after.version) == (before.state, before.version)
        assert len(audit_rows(factory, code)) == n_audit and len(outbox_rows(factory, code)) == n_out
        return
    version = do(factory, action, code, original=original)
    after = row(factory, code)
    assert after.state == fs.TRANSITIONS[action][1]
    assert version == after.version == before.version + 1
    last = audit_rows(factory, code)[-1]
    assert (last.actor, last.action, last.from_state, last.to_state) == (STAFF, action, state, after.state)
    msgs = outbox_rows(factory, code)
    assert len(msgs) == n_out + 1 and msgs[-1].chat_id == "1001" and code in msgs[-1].text


def test_the_whole_path_with_what_the_citizen_is_told(factory):
    code = file_item(factory).code
    do(factory, "claim", code)
    do(factory, "ask_info", code)
    fs.reply_info(factory, code, ALICE, "Giấy hẹn ghi ngày 8/10/2026, tôi gửi kèm ảnh.", now=LATER)
    do(factory, "answer", code)
    do(factory, "publish", code)
    fs.rate(factory, code, ALICE, "5", now=LATER)
    do(factory, "close", code)
    trail = [(a.actor, a.from_state, a.to_state) for a in audit_rows(factory, code)]
    assert trail == [
        ("citizen", None, "received"),
        (STAFF, "received", "in_processing"),
        (STAFF, "in_processing", "needs_info"),
        ("citizen", "needs_info", "in_processing"),
        (STAFF, "in_processing", "answered"),
        (STAFF, "answered", "published"),
        ("citizen", "published", "published"),
        (STAFF, "published", "closed"),
    ]
    told = [m.text for m in outbox_rows(factory, code)]
    assert len(told) == 7 and len({m.idempotency_key for m in outbox_rows(factory, code)}) == 7
    assert "Mã tra cứu" in told[0]
    assert "đang được xử lý" in told[1]
    assert "ảnh giấy hẹn" in told[2] and "bổ sung" in told[2]
    assert "đã nhận thông tin bổ sung" in told[3]
    assert "20/10/2026" in told[4] and "từ 1" in told[4]
    assert "công khai" in told[5]
    assert "kết thúc" in told[6]
    it = row(factory, code)
    assert it.assigned_to == STAFF and it.rating == 5


def test_needs_info_goes_back_to_where_it_came_from(factory):
    code = file_item(factory).code
    do(factory, "ask_info", code)
    assert fs.awaiting_info(factory, ALICE) == [code] and fs.awaiting_info(factory, BOB) == []
    assert fs.reply_info(factory, code, ALICE, "Đây là thông tin bổ sung.", now=LATER) == "received"
    do(factory, "claim", code)
    do(factory, "ask_info", code)
    assert fs.reply_info(factory, code, ALICE, "Thêm nữa.", now=LATER) == "in_processing"
    with pytest.raises(fs.CitizenError):  # not waiting any more
        fs.reply_info(factory, code, ALICE, "Lần ba.", now=LATER)
    with pytest.raises(fs.NotFound):  # someone else cannot reply
        fs.reply_info(factory, code, BOB, "Tôi là người khác.", now=LATER)
    with factory() as s:
        bodies = [(m.author_kind, m.body[:10]) for m in s.execute(select(messages).order_by(messages.c.id))]
    assert [k for k, _ in bodies] == ["staff", "citizen", "staff", "citizen"]


def test_a_reply_with_an_attachment(factory, tmp_path):
    code = file_item(factory).code
    do(factory, "ask_info", code)
    photo = upload(factory, tmp_path, b"\xff\xd8\xff\xe0" + b"1" * 100, "giay-hen.jpg")
    fs.reply_info(factory, code, ALICE, "Ảnh giấy hẹn đây.", attached=[photo], data_dir=tmp_path, now=LATER)
    with factory() as s:
        a = s.execute(select(attachments)).one()
        assert s.execute(select(uploads_table)).all() == []
    assert a.message_id is not None and a.filename == "giay-hen.jpg"


def test_refusals_need_their_details(factory):
    code = file_item(factory).code
    with pytest.raises(fs.FeedbackError, match="unknown reject reason"):
        do(factory, "reject", code, reason="vì tôi thích")
    with pytest.raises(fs.FeedbackError, match="agency is required"):
        do(factory, "transfer", code, agency=" ")
    with pytest.raises(fs.FeedbackError, match="question is required"):
        do(factory, "ask_info", code, question="")
    with pytest.raises(fs.FeedbackError, match="cannot duplicate itself"):
        do(factory, "mark_duplicate", code, original=code)
    with pytest.raises(fs.UnknownItem):
        do(factory, "mark_duplicate", code, original="PA-00000000")
    with pytest.raises(fs.FeedbackError, match="staff"):
        do(factory, "claim", code, staff="citizen")
    with pytest.raises(fs.FeedbackError, match="staff"):
        do(factory, "claim", code, staff="")
    with pytest.raises(fs.UnknownItem):
        do(factory, "claim", "PA-ZZZZZZZZ")
    do(factory, "claim", code)
    with pytest.raises(fs.FeedbackError, match="answer is required"):
        do(factory, "answer", code, text="")
    assert row(factory, code).state == "in_processing"
    assert len(audit_rows(factory, code)) == 2


def test_reject_duplicate_and_transfer_record_their_details(factory):
    a, b, c, original = (file_item(factory, content=CONTENT + f" Số {n}.").code for n in range(4))
    do(factory, "reject", a)
    do(factory, "transfer", b)
    do(factory, "mark_duplicate", c, original=original)
    assert row(factory, a).reject_reason == "khieu_nai_to_cao"
    rejected = fs.lookup(factory, a, ALICE)
    assert "khiếu nại, tố cáo" in rejected.reject_reason and "Ban Tiếp công dân" in rejected.text()
    assert row(factory, b).transferred_to == "UBND quận Hà Đông"
    assert "UBND quận Hà Đông" in outbox_rows(factory, b)[-1].text
    assert fs.lookup(factory, c, ALICE).duplicate_of == original
    assert original in outbox_rows(factory, c)[-1].text
    with pytest.raises(fs.FeedbackError, match="itself a duplicate"):
        do(factory, "mark_duplicate", original, original=c)
    reasons = dict(fs.list_reject_reasons(factory))
    assert "noi_dung_khong_ro" in reasons and "khieu_nai_to_cao" in reasons


# --- concurrency -----------------------------------------------------------------------------------------


def test_two_staff_acting_on_one_item_at_once_exactly_one_wins(any_url):
    engine, factory = migrated(any_url)
    code = file_item(factory).code
    seen = row(factory, code).version  # both have the item open at this version
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def act(name, fn):
        barrier.wait()
        try:
            results[name] = fn()
        except fs.FeedbackError as e:
            results[name] = e

    threads = [
        threading.Thread(target=act, args=("a", lambda: fs.claim(factory, code, "staff.a", version=seen))),
        threading.Thread(
            target=act,
            args=("b", lambda: fs.reject(factory, code, "staff.b", "noi_dung_khong_ro", version=seen)),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [k for k, v in results.items() if isinstance(v, int)]
    losses = [v for v in results.values() if isinstance(v, fs.Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    it = row(factory, code)
    assert it.version == seen + 1 and it.state == ("in_processing" if wins == ["a"] else "rejected")
    assert len(audit_rows(factory, code)) == 2 and len(outbox_rows(factory, code)) == 2
    engine.dispose()


def test_a_stale_transaction_cannot_overwrite_a_committed_change(any_url):
    """Two transactions read the item; the first commits; the second's guarded update finds nothing."""
    engine, factory = migrated(any_url)
    code = file_item(factory).code
    with factory() as s1, factory() as s2:
        first, second = records.load_item(s1, code), records.load_item(s2, code)
        records.transition(s1, first, "claim", "staff.a", LATER, {"assigned_to": "staff.a"})
        s1.commit()
        with pytest.raises(fs.Conflict):
            records.transition(s2, second, "transfer", "staff.b", LATER, {"transferred_to": "Sở Xây dựng"})
        s2.rollback()
    it = row(factory, code)
    assert (it.state, it.assigned_to, it.transferred_to) == ("in_processing", "staff.a", None)
    engine.dispose()


def test_a_writer_waiting_for_an_uncommitted_change_then_finds_it_gone(any_url):
    """The second transaction's update waits for the first one's lock, then sees the new version."""
    engine, factory = migrated(any_url)
    code = file_item(factory).code
    outcome: list[object] = []
    with factory() as s1, factory() as s2:
        first, second = records.load_item(s1, code), records.load_item(s2, code)
        records.transition(s1, first, "claim", "staff.a", LATER, {"assigned_to": "staff.a"})

        def later_writer():
            try:
                records.transition(s2, second, "reject", "staff.b", LATER, {"reject_reason": "noi_dung_khong_ro"})
                outcome.append("won")
            except fs.Conflict as e:
                outcome.append(e)
            s2.rollback()

        t = threading.Thread(target=later_writer)
        t.start()
        s1.commit()
        t.join()
    assert len(outcome) == 1 and isinstance(outcome[0], fs.Conflict)
    assert row(factory, code).state == "in_processing"
    engine.dispose()


def test_acting_on_an_old_version_is_refused(factory):
    code = file_item(factory).code
    v = row(factory, code).version
    fs.claim(factory, code, "staff.a", version=v, now=LATER)
    with pytest.raises(fs.Conflict, match="reload"):
        fs.ask_info(factory, code, "staff.b", "Bạn bổ sung giấy hẹn.", version=v, now=LATER)


# --- lookup and rating -----------------------------------------------------------------------------------


def test_lookup_from_the_same_chat_needs_only_the_code(factory):
    code = file_item(factory).code
    st = fs.lookup(factory, code.lower().replace("-", " "), ALICE)
    assert st.code == code and st.state == "received" and st.queue == "Sở Tư pháp"
    text = st.text()
    assert code in text and "Đã tiếp nhận" in text and "Hạn trả lời" in text
    assert "Bình" not in text and "0912" not in text  # status carries no personal data
    assert [s.code for s in fs.my_items(factory, ALICE)] == [code] and fs.my_items(factory, BOB) == []


def test_lookup_from_another_chat_needs_the_last_4_phone_digits(factory):
    code = file_item(factory).code
    with pytest.raises(fs.PhoneDigitsRequired) as e:
        fs.lookup(factory, code, BOB)
    assert "4 số cuối" in str(e.value)
    for minutes, wrong in enumerate(("1234", "567", "56789", "abcd")):  # a few minutes apart: no waiting
        with pytest.raises(fs.NotFound):
            fs.lookup(factory, code, BOB, phone_last4=wrong, now=LATER + timedelta(minutes=minutes))
    assert fs.lookup(factory, code, BOB, phone_last4="5678", now=LATER + timedelta(minutes=9)).code == code
    assert fs.lookup(factory, code, fs.Citizen("web", "1001", "w"), phone_last4="5678").code == code
    # an unknown code looks exactly like wrong digits
    with pytest.raises(fs.PhoneDigitsRequired):
        fs.lookup(factory, "PA-00000000", BOB)
    with pytest.raises(fs.NotFound):
        fs.lookup(factory, "PA-00000000", BOB, phone_last4="5678", now=LATER + timedelta(minutes=20))
    with pytest.raises(fs.NotFound):
        fs.lookup(factory, "không phải mã", ALICE)


def test_an_email_only_item_cannot_be_looked_up_from_another_chat(factory):
    code = file_item(factory, phone=None, email="binh@gmail.com").code
    with pytest.raises(fs.NotFound):
        fs.lookup(factory, code, BOB, phone_last4="5678")
    assert fs.lookup(factory, code, ALICE).code == code


def test_rating_once_after_an_answer_by_the_sender_only(factory):
    code = file_item(factory).code
    with pytest.raises(fs.CitizenError, match="chưa có trả lời"):
        fs.rate(factory, code, ALICE, 4)
    do(factory, "claim", code)
    do(factory, "answer", code)
    for bad in (0, 6, "năm", "", None, 3.5):
        with pytest.raises(InvalidField):
            fs.rate(factory, code, ALICE, bad)
    with pytest.raises(fs.NotFound):
        fs.rate(factory, code, BOB, 4)
    assert fs.lookup(factory, code, ALICE).can_rate
    fs.rate(factory, code, ALICE, 4)
    with pytest.raises(fs.CitizenError, match="đã đánh giá"):
        fs.rate(factory, code, ALICE, 5)
    assert fs.satisfaction(factory) == {"count": 1, "average": 4.0, "by_stars": {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}}


# --- duplicates ------------------------------------------------------------------------------------------


def test_similar_open_items_on_the_same_procedure_are_candidate_duplicates(factory):
    first = file_item(factory).code
    near = (
        "Ngày 5/10/2026 tôi nộp hồ sơ đăng ký khai sinh cho con ở bộ phận một cửa UBND phường Hà Đông. Giấy hẹn "
        "ghi 3 ngày nhưng hơn 2 tuần vẫn chưa có kết quả, cán bộ bắt nộp thêm giấy xác nhận cư trú dù quy định "
        "không có giấy này."
    )
    r = file_item(factory, citizen=BOB, content=near, staff_chat="-1")
    assert r.duplicates == (first,)
    assert first in outbox_rows(factory, r.code)[-1].text  # the staff announcement names the candidate
    assert [c for c, _ in fs.candidate_duplicates(factory, first)] == [r.code]
    other_procedure = file_item(factory, content=near, procedure_code="1.000656")
    assert other_procedure.duplicates == ()
    unrelated = file_item(
        factory, content="Cán bộ bộ phận một cửa thu lệ phí chứng thực bản sao cao hơn mức quy định nhiều lần."
    )
    assert unrelated.duplicates == ()
    do(factory, "reject", first)  # only open items count
    assert fs.candidate_duplicates(factory, r.code) == []


# --- publishing ------------------------------------------------------------------------------------------


def test_publishing_removes_personal_data_and_staff_review_it_first(factory):
    content = (
        "Tôi là Nguyễn Văn Bình, nhà ở số 12 ngõ 45 phố Lê Lợi. Ngày 5/10/2026 tôi nộp hồ sơ đăng ký khai sinh, "
        "chị Trần Thị Lan ở bộ phận một cửa hẹn 3 ngày nhưng 2 tuần chưa trả. Gọi tôi: 0912 345 678, "
        "email binh.nv@gmail.com, CCCD 001085012345."
    )
    code = file_item(factory, content=content).code
    do(factory, "claim", code)
    do(factory, "answer", code, text="Kính gửi ông Nguyễn Văn Bình: UBND phường đã trả kết quả ngày 20/10/2026.")
    p = fs.preview_publication(factory, code)
    for personal in ("Bình", "Lê Lợi", "0912", "345 678", "binh.nv", "001085012345", "Trần Thị Lan"):
        assert personal not in p.content.text and personal not in p.answer.text
    assert "đăng ký khai sinh" in p.content.text and "20/10/2026" in p.answer.text
    assert {"name", "address", "phone", "email", "id_number"} <= p.content.kinds
    # staff cannot publish a text that still holds the sender's data
    with pytest.raises(fs.FeedbackError, match="personal data"):
        do(factory, "publish", code, content="Ông Nguyễn Văn Bình phản ánh việc chậm trả kết quả khai sinh.")
    with pytest.raises(fs.FeedbackError, match="personal data"):
        do(factory, "publish", code, answer_text="Đã gọi lại số 0912.345.678 để trả lời.")
    assert row(factory, code).state == "answered"
    do(factory, "publish", code, content=p.content.text + " (đã biên tập)")
    it = row(factory, code)
    assert it.state == "published" and it.public_content.endswith("(đã biên tập)")
    assert it.public_answer == p.answer.text
    shown = fs.published_answers(factory, "1.001193")
    assert len(shown) == 1 and "code" not in shown[0] and "0912" not in shown[0]["content"]
    assert fs.published_answers(factory, "9.999999") == []


# --- data rights -----------------------------------------------------------------------------------------


def test_my_data_and_erasure(factory, tmp_path):
    same = b"\xff\xd8\xff\xe0" + b"2" * 100
    content = CONTENT + " Tôi là Nguyễn Văn Bình, điện thoại 0912 345 678."
    photo = upload(factory, tmp_path, same, "cccd.jpg")
    code = file_item(factory, content=content, attachments=(photo,), data_dir=tmp_path).code
    bobs = upload(factory, tmp_path, same, "cccd.jpg", citizen=BOB)  # the same photo, sent by Bob
    other = file_item(factory, citizen=BOB, attachments=(bobs,), data_dir=tmp_path).code
    pending = upload(factory, tmp_path, same + b"3", "nhap.jpg")  # in Alice's next draft, not sent
    do(factory, "ask_info", code)
    fs.reply_info(factory, code, ALICE, "Nguyễn Văn Bình bổ sung: gọi 0912345678.", now=LATER)
    mine = fs.my_data(factory, ALICE)
    text = mine.text()
    for shown in (code, "Nguyễn Văn Bình", "0912345678", "số 12 ngõ 45 phố Lê Lợi", "pakn-", "1 tệp"):
        assert shown in text
    assert mine.uploads == 1
    assert other not in text and fs.my_data(factory, fs.Citizen("zalo", "9", "9")).items == []

    with pytest.raises(ValueError):
        fs.erase_my_data(factory, ALICE, confirmed=False)
    with factory() as s:
        alices = set(s.scalars(select(attachments.c.path).where(attachments.c.item_id == row(factory, code).id)))
        alices |= set(s.scalars(select(uploads_table.c.path).where(uploads_table.c.id == pending)))
    assert len(alices) == 2 and all((tmp_path / p).exists() for p in alices)
    assert fs.erase_my_data(factory, ALICE, confirmed=True, data_dir=tmp_path, now=LATER) == 1
    it = row(factory, code)
    assert (it.sender_name, it.sender_address, it.sender_phone, it.sender_email) == (None, None, None, None)
    assert it.channel_user_id is None and it.chat_id is None and it.erased_at is not None
    assert "Bình" not in it.content and "0912" not in it.content and "đăng ký khai sinh" in it.content
    with factory() as s:
        replies = list(s.scalars(select(messages.c.body).where(messages.c.author_kind == "citizen")))
        kept = s.execute(select(attachments)).all()
        assert s.execute(select(uploads_table)).all() == []  # the unsent draft file went too
    assert replies and all("Bình" not in r and "0912" not in r for r in replies)
    assert not any((tmp_path / p).exists() for p in alices)  # Alice's files are gone from the disk
    assert len(kept) == 1 and (tmp_path / kept[0].path).exists()  # Bob's copy of the same photo stays
    assert outbox_rows(factory, code) == []  # nothing left addressed to the erased chat
    assert audit_rows(factory, code)[-1].action == "erase"
    after = fs.my_data(factory, ALICE)
    assert after.items == [] and after.uploads == 0 and after.consents[0]["withdrawn_on"] is not None
    # the item is still in the register, anonymised, and staff can still work on it
    do(factory, "ask_info", code, question="Còn cần thêm thông tin?")
    assert row(factory, code).state == "needs_info"
    fs.erase_my_data(factory, BOB, confirmed=True, data_dir=tmp_path, now=LATER)
    assert not (tmp_path / kept[0].path).exists()


# --- overdue ---------------------------------------------------------------------------------------------


def test_overdue_items_are_flagged_and_announced_once(factory):
    fs.update_queue(factory, "Sở Tư pháp", deadline_days=3)
    late = file_item(factory).code  # Monday 2/11: due Thursday 5/11
    done = file_item(factory, content=CONTENT + " Khác.").code
    do(factory, "claim", done)
    do(factory, "answer", done)
    assert row(factory, late).deadline == date(2026, 11, 5)
    thursday = MONDAY + timedelta(days=3)
    assert fs.check_overdue(factory, now=thursday, staff_chat="-1") == []
    friday = MONDAY + timedelta(days=4)
    assert fs.check_overdue(factory, now=friday, staff_chat="-1") == [late]
    assert fs.check_overdue(factory, now=friday + timedelta(days=1), staff_chat="-1") == []
    staff = [m for m in outbox_rows(factory, late) if m.chat_id == "-1"]
    assert len(staff) == 1 and "quá hạn" in staff[0].text and late in staff[0].text and "05/11/2026" in staff[0].text
    assert "Bình" not in staff[0].text
    listed = fs.list_items(factory, overdue=True, today=date(2026, 11, 6))
    assert [r["code"] for r in listed] == [late] and listed[0]["overdue"]
    assert {r["code"] for r in fs.list_items(factory, today=date(2026, 11, 6))} == {late, done}
    assert [r["code"] for r in fs.list_items(factory, state="answered")] == [done]
    with pytest.raises(fs.FeedbackError):
        fs.list_items(factory, state="lost")
