"""What a citizen may do with their own feedback: follow it, reply to a request, rate the answer, see and
erase their data; and what anyone may read (published answers)."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, desc, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from feedback import attachments as files
from feedback import codes, guard, texts, uploads, workdays
from feedback.model import (
    RATABLE_STATES,
    Citizen,
    CitizenError,
    Conflict,
    MyData,
    NotFound,
    PhoneDigitsRequired,
    Status,
)
from feedback.outbox import FINISHED, utcnow
from feedback.records import add_audit, queue_name, reading, transition, utc
from feedback.redact import redact
from feedback.tables import (
    attachments,
    audit,
    consents,
    items,
    messages,
    outbox,
    reject_reasons,
)
from feedback.tables import uploads as uploads_table
from feedback.validate import InvalidField, ascii_digits, clean_reply

log = logging.getLogger(__name__)


def _owned(item: Row, citizen: Citizen) -> bool:
    return (
        item.channel_user_id is not None
        and item.channel == citizen.channel
        and item.channel_user_id == str(citizen.user_id)
    )


def _load_owned(s: Session, code: str, citizen: Citizen) -> Row:
    canonical = codes.normalize(code)
    item = s.execute(select(items).where(items.c.code == canonical)).first() if canonical else None
    if item is None or not _owned(item, citizen):
        raise NotFound()
    return item


def awaiting_info(factory: sessionmaker, citizen: Citizen) -> list[str]:
    """Codes of this user's items waiting for their reply (the dialog attaches the next message to it)."""
    with reading(factory) as s:
        return list(
            s.scalars(
                select(items.c.code)
                .where(
                    items.c.channel == citizen.channel,
                    items.c.channel_user_id == str(citizen.user_id),
                    items.c.state == "needs_info",
                )
                .order_by(items.c.id)
            )
        )


def reply_info(
    factory: sessionmaker,
    code: str,
    citizen: Citizen,
    text: str,
    attached: Collection[int] = (),
    data_dir=None,
    now: datetime | None = None,
) -> str:
    """The citizen's reply to a request for information, with `attached` uploads: kept in the thread, the
    item goes back to the state it was in, and the deadline moves by the working days spent waiting.
    Returns the new state."""
    body = clean_reply(text)
    attached = tuple(attached)
    if attached and data_dir is None:
        raise ValueError("data_dir is needed to check attachments")
    now = now or utcnow()
    with factory.begin() as s:
        item = _load_owned(s, code, citizen)
        if item.state != "needs_info":
            raise CitizenError(f"{item.code} hiện không chờ bổ sung thông tin.")
        # the request itself: a note or an assignment while waiting is audited in needs_info too
        asked = s.execute(
            select(audit.c.at, audit.c.from_state)
            .where(audit.c.item_id == item.id, audit.c.action == "ask_info")
            .order_by(desc(audit.c.id))
            .limit(1)
        ).one()
        paused = workdays.working_days_between(workdays.local_date(utc(asked.at)), workdays.local_date(now))
        deadline = workdays.add_working_days(item.deadline, paused)
        count = s.scalar(select(func.count()).select_from(attachments).where(attachments.c.item_id == item.id))
        if count + len(attached) > files.MAX_PER_ITEM * 2:
            raise InvalidField("attachment", "Đã đủ số tệp đính kèm cho phản ánh, kiến nghị này.")
        state = transition(
            s,
            item,
            "reply_info",
            "citizen",
            now,
            {"deadline": deadline, "overdue_at": None if deadline >= workdays.local_date(now) else item.overdue_at},
            note=f"hạn xử lý lùi {paused} ngày làm việc (thời gian chờ người gửi bổ sung)" if paused else None,
            notify=texts.info_received(item.code),
            target=asked.from_state,
        )
        msg_id = s.execute(
            insert(messages).values(item_id=item.id, at=now, author_kind="citizen", author=None, body=body)
        ).inserted_primary_key[0]
        if attached:
            uploads.attach(s, data_dir, citizen, attached, item.id, now, message_id=msg_id)
    log.info("feedback %s: citizen replied -> %s", item.code, state)
    return state


def rate(factory: sessionmaker, code: str, citizen: Citizen, stars, now: datetime | None = None) -> None:
    """Satisfaction with the answer, 1 to 5, once per item."""
    try:
        value = int(str(stars).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise InvalidField("rating", "Hãy chấm từ 1 (rất không hài lòng) đến 5 (rất hài lòng).")
    now = now or utcnow()
    with factory.begin() as s:
        item = _load_owned(s, code, citizen)
        if item.state not in RATABLE_STATES:
            raise CitizenError(f"{item.code} chưa có trả lời để đánh giá.")
        if item.rating is not None:
            raise CitizenError(f"Bạn đã đánh giá {item.code} ({item.rating}/5). Cảm ơn bạn.")
        n = s.execute(
            update(items)
            .where(items.c.id == item.id, items.c.version == item.version)
            .values(rating=value, rated_at=now, version=item.version + 1, updated_at=now)
        ).rowcount
        if n != 1:
            raise CitizenError("Hồ sơ vừa được cập nhật, bạn hãy đánh giá lại.")
        add_audit(s, item.id, now, "citizen", "rate", item.state, item.state, f"{value}/5")
    log.info("feedback %s rated", item.code)


def lookup(
    factory: sessionmaker,
    code: str,
    citizen: Citizen,
    phone_last4: str | None = None,
    now: datetime | None = None,
    staff_chat: str | None = None,
) -> Status:
    """Status and history. From the chat that filed it the code suffices, and the status is whole. From any
    other chat the code and the last 4 digits of the phone given are needed, within the guessing limits of
    `feedback.guard`, and the status shows only what may be public: the state, the dates, and texts with
    personal data removed. An unknown code and wrong digits get the same NotFound through the same steps."""
    canonical = codes.normalize(code)
    if canonical is None:
        raise NotFound()
    now = now or utcnow()
    digits = ascii_digits(re.sub(r"[\s.\-]", "", phone_last4 or ""))
    with factory.begin() as s:
        item = s.execute(select(items).where(items.c.code == canonical)).first()
        if item is not None and _owned(item, citizen):
            return _status(s, item)
        if not digits:
            raise PhoneDigitsRequired()
        guard.check(s, canonical, citizen, now)
        expected = ascii_digits(item.sender_phone or "")[-4:] if item is not None else ""
        same = hmac.compare_digest(expected.rjust(4, "-").encode(), digits.encode())
        ok = same and bool(re.fullmatch("[0-9]{4}", digits))
        guard.record(s, canonical, citizen, ok, now, staff_chat)
        status = _status(s, item, public=True) if ok else None
    if status is None:
        log.info("feedback lookup refused for a code from another chat")
        raise NotFound()
    return status


def _status(s: Session, item: Row, public: bool = False) -> Status:
    """The status of an item; `public` for another chat: texts with personal data removed, no rating."""

    def shown(value: str | None) -> str | None:
        return redact(value, item.sender_name, item.sender_address).text if public and value else value

    history = [
        (workdays.local_date(utc(r.at)), texts.STATE_LABELS[r.to_state])
        for r in s.execute(
            select(audit.c.at, audit.c.to_state, audit.c.from_state)
            .where(audit.c.item_id == item.id)
            .order_by(audit.c.id)
        )
        if r.from_state != r.to_state
    ]
    question = None
    if item.state == "needs_info":
        question = s.scalar(
            select(messages.c.body)
            .where(messages.c.item_id == item.id, messages.c.author_kind == "staff")
            .order_by(desc(messages.c.id))
            .limit(1)
        )
    reason = None
    if item.reject_reason:
        reason = s.scalar(select(reject_reasons.c.label).where(reject_reasons.c.code == item.reject_reason))
    original = s.scalar(select(items.c.code).where(items.c.id == item.duplicate_of)) if item.duplicate_of else None
    answer = item.answer if item.state in RATABLE_STATES else None
    return Status(
        code=item.code,
        kind=item.kind,
        state=item.state,
        queue=queue_name(s, item.queue_id),
        received_on=workdays.local_date(utc(item.created_at)),
        deadline=item.deadline,
        history=history,
        question=shown(question),
        answer=(item.public_answer or shown(answer)) if public else answer,
        transferred_to=item.transferred_to,
        reject_reason=reason,
        reject_note=shown(item.reject_note),
        duplicate_of=original,
        rating=None if public else item.rating,
        public=public,
    )


def my_items(factory: sessionmaker, citizen: Citizen) -> list[Status]:
    with factory() as s:
        rows = s.execute(
            select(items)
            .where(items.c.channel == citizen.channel, items.c.channel_user_id == str(citizen.user_id))
            .order_by(items.c.id)
        ).all()
        return [_status(s, r) for r in rows]


def published_answers(factory: sessionmaker, procedure_code: str, limit: int = 5) -> list[dict]:
    """Published results for a procedure, newest first: kind, the redacted question and answer, the date.
    Never the tracking code: with it, another chat could start guessing the sender's phone digits."""
    with reading(factory) as s:
        rows = s.execute(
            select(items.c.kind, items.c.public_content, items.c.public_answer, items.c.published_at)
            .where(items.c.procedure_code == procedure_code, items.c.state.in_(("published", "closed")))
            .where(items.c.public_answer.is_not(None))
            .order_by(desc(items.c.published_at))
            .limit(limit)
        ).all()
    return [
        {
            "kind": r.kind,
            "content": r.public_content,
            "answer": r.public_answer,
            "published_on": workdays.local_date(utc(r.published_at)),
        }
        for r in rows
    ]


def my_data(factory: sessionmaker, citizen: Citizen) -> MyData:
    """Everything stored about a channel user in the feedback tables."""
    out = MyData()
    with factory() as s:
        for it in s.execute(
            select(items)
            .where(items.c.channel == citizen.channel, items.c.channel_user_id == str(citizen.user_id))
            .order_by(items.c.id)
        ):
            n = s.scalar(select(func.count()).select_from(attachments).where(attachments.c.item_id == it.id))
            out.items.append(
                {
                    "code": it.code,
                    "kind": it.kind,
                    "state": it.state,
                    "name": it.sender_name,
                    "address": it.sender_address,
                    "phone": it.sender_phone,
                    "email": it.sender_email,
                    "content": it.content,
                    "attachments": n,
                    "erased": it.erased_at is not None,
                }
            )
        out.uploads = s.scalar(
            select(func.count())
            .select_from(uploads_table)
            .where(uploads_table.c.channel == citizen.channel, uploads_table.c.channel_user_id == str(citizen.user_id))
        )
        for c in s.execute(
            select(consents)
            .where(consents.c.channel == citizen.channel, consents.c.channel_user_id == str(citizen.user_id))
            .order_by(consents.c.id)
        ):
            out.consents.append(
                {
                    "version": c.text_version,
                    "given_on": workdays.local_date(utc(c.given_at)),
                    "withdrawn_on": workdays.local_date(utc(c.withdrawn_at)) if c.withdrawn_at else None,
                }
            )
    return out


def erase_my_data(
    factory: sessionmaker, citizen: Citizen, confirmed: bool, data_dir=None, now: datetime | None = None
) -> int:
    """Erase the personal fields of every item the user filed, after the user confirmed: name, address,
    phone, e-mail, chat ids and attachments go; the content and the citizen's replies stay with personal
    data replaced; consents are marked withdrawn; the chat's delivered dialog replies are deleted. Audited.
    Returns how many items were anonymised."""
    if not confirmed:
        raise ValueError("erase_my_data needs the user's explicit confirmation")
    now = now or utcnow()
    removed_files: list[str] = []
    with factory.begin() as s:
        rows = s.execute(
            select(items).where(items.c.channel == citizen.channel, items.c.channel_user_id == str(citizen.user_id))
        ).all()
        for it in rows:

            def clean(text, it=it):
                return redact(text, it.sender_name, it.sender_address).text if text else text

            n = s.execute(
                update(items)
                .where(items.c.id == it.id, items.c.version == it.version)
                .values(
                    content=clean(it.content),
                    answer=clean(it.answer),
                    agency=it.agency,
                    sender_name=None,
                    sender_address=None,
                    sender_phone=None,
                    sender_email=None,
                    channel_user_id=None,
                    chat_id=None,
                    erased_at=now,
                    version=it.version + 1,
                    updated_at=now,
                )
            ).rowcount
            if n != 1:
                raise Conflict(f"{it.code} was changed meanwhile; try again")
            for m in s.execute(
                select(messages.c.id, messages.c.body).where(
                    messages.c.item_id == it.id, messages.c.author_kind == "citizen"
                )
            ).all():
                s.execute(update(messages).where(messages.c.id == m.id).values(body=clean(m.body)))
            paths = list(s.scalars(select(attachments.c.path).where(attachments.c.item_id == it.id)))
            s.execute(delete(attachments).where(attachments.c.item_id == it.id))
            removed_files += paths
            if it.chat_id:
                s.execute(
                    delete(outbox).where(
                        outbox.c.item_id == it.id, outbox.c.chat_id == it.chat_id, outbox.c.channel == it.channel
                    )
                )
            add_audit(s, it.id, now, "citizen", "erase", it.state, it.state, "personal data erased on request")
        s.execute(
            update(consents)
            .where(
                consents.c.channel == citizen.channel,
                consents.c.channel_user_id == str(citizen.user_id),
                consents.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now)
        )
        # The chat's delivered replies (a form's summary quotes the name and phone typed); an item's messages went
        # with the item above, and what is still to be sent (this erasure's confirmation included) stays.
        s.execute(
            delete(outbox).where(
                outbox.c.item_id.is_(None),
                outbox.c.channel == citizen.channel,
                outbox.c.chat_id == str(citizen.chat_id),
                outbox.c.status.in_(FINISHED),
            )
        )
        drafts = uploads.discard(s, data_dir, citizen) if data_dir is not None else 0
        # Files stored before each upload had a name of its own could be shared by two items.
        still_used = set(s.scalars(select(attachments.c.path).where(attachments.c.path.in_(removed_files))))
    if data_dir is not None:
        for p in set(removed_files) - still_used:
            files.remove(data_dir, p)
    log.info("feedback: personal data of %d items and %d draft files erased", len(rows), drafts)
    return len(rows)
