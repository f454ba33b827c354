"""Staff actions on an item: claim, assign, ask for information, transfer, answer, reject, mark duplicate, publish
(after redaction), close. Each is one audited transaction; all but `assign` tell the citizen."""

from __future__ import annotations

import logging

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from bot import users
from feedback import texts
from feedback.model import END_STATES, Conflict, FeedbackError, IllegalTransition, Publication, UnknownItem
from feedback.outbox import utcnow
from feedback.records import add_audit, check_staff, load_item, note_text, staff_action
from feedback.redact import leaks, redact
from feedback.tables import (
    items,
    messages,
    reject_reasons,
)

log = logging.getLogger(__name__)
LEAK_LABELS = {  # what `_leaks` finds, as the refusal names it
    "name": "họ tên người gửi",
    "address": "địa chỉ",
    "phone": "số điện thoại",
    "email": "thư điện tử",
    "id_number": "số giấy tờ tùy thân",
}


def claim(factory: sessionmaker, code: str, staff: str, version: int | None = None, now=None) -> int:
    """Take an item into processing (it is assigned to the staff member)."""
    return staff_action(
        factory, code, staff, "claim", version, now,
        lambda s, it: ({"assigned_to": check_staff(staff)}, None, texts.claimed(it.code)),
    )  # fmt: skip


class InvalidAssignee(FeedbackError):
    """The account to assign to does not exist, is disabled, or does not work on the item's queue."""


def assign(factory: sessionmaker, code: str, staff: str, assignee: str, version: int | None = None, now=None) -> int:
    """Give an item that is not finished to a staff member: only `assigned_to` changes (no state change, nothing
    sent to the citizen), with an audit entry. `assignee` must be an active account that works on the item's
    queue. Returns the new version (the same one when it already was theirs)."""
    staff = check_staff(staff)
    now = now or utcnow()
    account = users.by_name(factory, (assignee or "").strip())
    with factory.begin() as s:
        it = load_item(s, code)
        if version is not None and version != it.version:
            raise Conflict(f"{it.code} changed since you opened it (version {version}, now {it.version}); reload")
        if it.state in END_STATES:
            raise IllegalTransition(f"{it.code}: cannot assign an item that is {it.state}")
        if account is None or not account.active or not account.may_see_queue(it.queue_id):
            raise InvalidAssignee(
                f"{assignee!r} is not an active account working on the queue of {it.code}",
                "Tài khoản được chọn không tồn tại, đã bị khóa hoặc không xử lý hàng đợi của hồ sơ này.",
            )
        if it.assigned_to == account.username:
            return it.version
        n = s.execute(
            update(items)
            .where(items.c.id == it.id, items.c.version == it.version)
            .values(assigned_to=account.username, version=it.version + 1, updated_at=now)
        ).rowcount
        if n != 1:
            raise Conflict(f"{it.code} was changed by someone else meanwhile; reload it and try again")
        add_audit(s, it.id, now, staff, "assign", it.state, it.state, f"{it.assigned_to or '-'} -> {account.username}")
    log.info("feedback %s: assigned by staff", it.code)
    return it.version + 1


def ask_info(factory: sessionmaker, code: str, staff: str, question: str, version: int | None = None, now=None) -> int:
    """Ask the citizen for more information; the question is sent to them and the clock pauses."""
    q = note_text(question, "the question", required=True, vi="nội dung đề nghị bổ sung")
    when = now or utcnow()

    def build(s: Session, it: Row):
        s.execute(
            insert(messages).values(item_id=it.id, at=when, author_kind="staff", author=check_staff(staff), body=q)
        )
        return {}, q, texts.info_requested(it.code, q)

    return staff_action(factory, code, staff, "ask_info", version, when, build)


def transfer(
    factory: sessionmaker, code: str, staff: str, agency: str, note: str | None = None, version=None, now=None
) -> int:
    """Transfer to the competent agency (named); an end state here."""
    name = note_text(agency, "the agency", required=True, vi="tên cơ quan có thẩm quyền")
    if len(name) > 300:
        raise FeedbackError("the agency: at most 300 characters", "Tên cơ quan dài quá 300 ký tự.")
    extra = note_text(note, "the note", vi="ghi chú")
    return staff_action(
        factory, code, staff, "transfer", version, now,
        lambda s, it: ({"transferred_to": name}, extra, texts.transferred(it.code, name)),
    )  # fmt: skip


def answer(factory: sessionmaker, code: str, staff: str, text: str, version: int | None = None, now=None) -> int:
    """Answer the citizen (sent to them, with the request to rate it and the 1–5 buttons)."""
    body = note_text(text, "the answer", required=True, vi="nội dung trả lời")
    when = now or utcnow()
    return staff_action(
        factory, code, staff, "answer", version, when,
        lambda s, it: ({"answer": body, "answered_at": when}, None, texts.answered(it.code, body)),
        buttons=lambda it: texts.rating_buttons(it.code),
    )  # fmt: skip


def reject(
    factory: sessionmaker, code: str, staff: str, reason: str, note: str | None = None, version=None, now=None
) -> int:
    """Refuse to handle it, with a reason from the list (`list_reject_reasons`) and an optional text."""
    extra = note_text(note, "the note", vi="ghi chú")

    def build(s: Session, it: Row):
        label = s.scalar(
            select(reject_reasons.c.label).where(reject_reasons.c.code == reason, reject_reasons.c.active.is_(True))
        )
        if label is None:
            known = ", ".join(s.scalars(select(reject_reasons.c.code).where(reject_reasons.c.active.is_(True))))
            raise FeedbackError(f"unknown reject reason {reason!r}; one of: {known}", "Hãy chọn lý do từ chối.")
        return (
            {"reject_reason": reason, "reject_note": extra},
            f"{reason}: {extra or ''}".strip(),
            texts.rejected(it.code, label, extra),
        )

    return staff_action(factory, code, staff, "reject", version, now, build)


def mark_duplicate(
    factory: sessionmaker, code: str, staff: str, original: str, note: str | None = None, version=None, now=None
) -> int:
    """Close as a duplicate of another item (which must not itself be a duplicate)."""
    extra = note_text(note, "the note", vi="ghi chú")

    def build(s: Session, it: Row):
        try:
            orig = load_item(s, original)
        except UnknownItem as e:
            raise UnknownItem(str(e), "Không có hồ sơ nào với mã hồ sơ gốc đã nhập.") from None
        if orig.id == it.id:
            raise FeedbackError("an item cannot duplicate itself", "Không thể đánh dấu hồ sơ trùng với chính nó.")
        if orig.state == "duplicate":
            raise FeedbackError(
                f"{orig.code} is itself a duplicate; link to its original instead",
                f"{orig.code} cũng là hồ sơ trùng; hãy chọn hồ sơ gốc của nó.",
            )
        return (
            {"duplicate_of": orig.id},
            f"trùng với {orig.code}" + (f": {extra}" if extra else ""),
            (texts.duplicate(it.code, orig.code)),
        )

    return staff_action(factory, code, staff, "mark_duplicate", version, now, build)


def preview_publication(factory: sessionmaker, code: str) -> Publication:
    """The content and the answer with personal data replaced, for staff to review before `publish`."""
    with factory() as s:
        it = load_item(s, code)
    return Publication(
        redact(it.content, it.sender_name, it.sender_address),
        redact(it.answer or "", it.sender_name, it.sender_address),
    )


def _leaks(text: str, it: Row) -> list[str]:
    """Personal data that must never be published, found in a text staff chose to publish: any phone, e-mail,
    ID number or short address, and the sender's name or address, through full-width digits, separators,
    spelled-out e-mails and missing diacritics. The sender's phone and e-mail are refused as any phone or
    e-mail is; a looser test (their digits anywhere) would refuse texts `preview_publication` produces."""
    return sorted(leaks(text, it.sender_name, it.sender_address))


def publish(
    factory: sessionmaker,
    code: str,
    staff: str,
    content: str | None = None,
    answer_text: str | None = None,
    version: int | None = None,
    now=None,
) -> int:
    """Publish the answer. The texts are the ones staff reviewed (default: `preview_publication`'s); a text
    still holding the sender's name, address, phone, e-mail or an ID number is refused."""
    when = now or utcnow()

    def build(s: Session, it: Row):
        c = content if content is not None else redact(it.content, it.sender_name, it.sender_address).text
        a = answer_text if answer_text is not None else redact(it.answer or "", it.sender_name, it.sender_address).text
        c = note_text(c, "the published content", required=True, vi="nội dung phản ánh công khai")
        a = note_text(a, "the published answer", required=True, vi="nội dung trả lời công khai")
        leaks = sorted(set(_leaks(c, it)) | set(_leaks(a, it)))
        if leaks:
            raise FeedbackError(
                f"{it.code}: the text to publish still holds personal data ({', '.join(leaks)})",
                "Chưa công khai: văn bản vẫn còn thông tin cá nhân ("
                + ", ".join(LEAK_LABELS.get(k, k) for k in leaks)
                + "). Hãy sửa rồi bấm “Công khai” lại.",
            )
        return {"public_content": c, "public_answer": a, "published_at": when}, None, texts.published(it.code)

    return staff_action(factory, code, staff, "publish", version, when, build)


def close(factory: sessionmaker, code: str, staff: str, note: str | None = None, version=None, now=None) -> int:
    """Archive a published item."""
    extra = note_text(note, "the note", vi="ghi chú")
    return staff_action(factory, code, staff, "close", version, now, lambda s, it: ({}, extra, texts.closed(it.code)))
