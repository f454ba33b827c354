"""The feedback workflow: citizen actions, staff actions, routing, deadlines, duplicates, data rights.

Every function is one transaction. A state change, its audit entry and the outbox message that tells
the citizen are written together, so none is lost without the others. Two staff acting on one item at
once: each change is an UPDATE guarded by the item's version, so exactly one wins and the other gets
`Conflict` (on SQLite the second writer waits for the first and then finds the version gone; on
PostgreSQL the row lock does the same).

States: received → (needs_info ⇄ citizen replies) → in_processing → answered → published → closed, and
transferred, rejected, duplicate as end states. Logs carry ids, codes and counts only.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime

from rapidfuzz import fuzz
from sqlalchemy import delete, desc, exists, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from feedback import attachments as files
from feedback import codes, texts, workdays
from feedback.outbox import enqueue, has_key, utcnow
from feedback.redact import Redaction, redact
from feedback.tables import (
    attachments,
    audit,
    consents,
    items,
    messages,
    outbox,
    queues,
    reject_reasons,
    routing_rules,
)
from feedback.validate import (
    InvalidField,
    clean_address,
    clean_agency,
    clean_content,
    clean_email,
    clean_field,
    clean_kind,
    clean_name,
    clean_phone,
    clean_procedure_code,
    clean_reply,
)
from knowledge.text import fold_chars

log = logging.getLogger(__name__)

OPEN_STATES = ("received", "needs_info", "in_processing")
END_STATES = ("closed", "transferred", "rejected", "duplicate")
RATABLE_STATES = ("answered", "published", "closed")
# action: (states it may start from, the state it leads to; None = back where the request came from)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "claim": (("received",), "in_processing"),
    "ask_info": (("received", "in_processing"), "needs_info"),
    "reply_info": (("needs_info",), None),
    "transfer": (OPEN_STATES, "transferred"),
    "answer": (("in_processing",), "answered"),
    "reject": (OPEN_STATES, "rejected"),
    "mark_duplicate": (OPEN_STATES, "duplicate"),
    "publish": (("answered",), "published"),
    "close": (("published",), "closed"),
}
STAFF_ACTIONS = ("claim", "ask_info", "transfer", "answer", "reject", "mark_duplicate", "publish", "close")
DUPLICATE_THRESHOLD = 80.0
DUPLICATE_POOL = 500
MAX_NOTE_CHARS = 4000
_STAFF_NAME = re.compile(r"[a-z0-9._-]{3,64}")
_RESERVED_ACTORS = {"citizen", "system"}


class FeedbackError(Exception):
    """A refused operation; the message is English, for staff and operators."""


class UnknownItem(FeedbackError):
    pass


class IllegalTransition(FeedbackError):
    pass


class Conflict(FeedbackError):
    """Someone else changed the item first; reload and decide again."""


class CitizenError(FeedbackError):
    """A refused citizen operation; the message is Vietnamese and can be shown as it is."""


class NotFound(CitizenError):
    def __init__(self):
        super().__init__(
            "Không tìm thấy phản ánh, kiến nghị với mã này, hoặc 4 số cuối điện thoại không đúng. "
            "Hãy kiểm tra lại mã tra cứu (dạng PA-XXXXXXXX)."
        )


class PhoneDigitsRequired(CitizenError):
    def __init__(self):
        super().__init__(
            "Để tra cứu từ tài khoản khác với tài khoản đã gửi, hãy nhập kèm 4 số cuối của số điện thoại đã khai."
        )


class ConsentRequired(CitizenError):
    def __init__(self):
        super().__init__(texts.CONSENT_REQUIRED)


@dataclass(frozen=True)
class Citizen:
    """Who acts in a chat: the channel, the user's id there and the chat to notify."""

    channel: str
    user_id: str
    chat_id: str


@dataclass(frozen=True)
class Draft:
    kind: str
    content: str
    name: str
    address: str
    phone: str | None = None
    email: str | None = None
    procedure_code: str | None = None
    field: str | None = None  # lĩnh vực of the procedure, for routing
    agency: str | None = None
    attachments: tuple[files.StoredFile, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready, for a draft kept in the conversation state (it survives a restart)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "attachments"}
        d["attachments"] = [asdict(f) for f in self.attachments]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Draft:
        known = {k: d.get(k) for k in cls.__dataclass_fields__ if k != "attachments"}
        return cls(**known, attachments=tuple(files.StoredFile(**f) for f in d.get("attachments") or ()))

    def cleaned(self) -> Draft:
        """Every field cleaned, or InvalidField naming the first bad one (Vietnamese reason)."""
        phone = clean_phone(self.phone) if (self.phone or "").strip() else None
        email = clean_email(self.email) if (self.email or "").strip() else None
        if phone is None and email is None:
            raise InvalidField(
                "phone",
                "Cần số điện thoại hoặc thư điện tử để cơ quan liên hệ và trả lời. " + texts.ANONYMOUS_NOT_ACCEPTED,
            )
        if len(self.attachments) > files.MAX_PER_ITEM:
            raise InvalidField("attachment", f"Tối đa {files.MAX_PER_ITEM} tệp đính kèm cho một phản ánh, kiến nghị.")
        return replace(
            self,
            kind=clean_kind(self.kind),
            content=clean_content(self.content),
            name=clean_name(self.name),
            address=clean_address(self.address),
            phone=phone,
            email=email,
            procedure_code=clean_procedure_code(self.procedure_code),
            field=clean_field(self.field),
            agency=clean_agency(self.agency),
            attachments=tuple(self.attachments),
        )


@dataclass(frozen=True)
class Receipt:
    code: str
    deadline: date
    queue: str
    duplicates: tuple[str, ...] = ()


@dataclass
class Status:
    """What a citizen may see of an item (no staff notes, no other person's data)."""

    code: str
    kind: str
    state: str
    queue: str
    received_on: date
    deadline: date
    history: list[tuple[date, str]]
    question: str | None = None  # the pending request for information
    answer: str | None = None
    transferred_to: str | None = None
    reject_reason: str | None = None
    reject_note: str | None = None
    duplicate_of: str | None = None
    rating: int | None = None

    @property
    def can_rate(self) -> bool:
        return self.state in RATABLE_STATES and self.rating is None

    def text(self) -> str:
        lines = [
            f"{texts.kind_label(self.kind).capitalize()} {self.code}",
            f"Tình trạng: {texts.STATE_LABELS[self.state]}",
            f"Cơ quan tiếp nhận: {self.queue}",
            f"Ngày tiếp nhận: {texts.day(self.received_on)}",
        ]
        if self.state in OPEN_STATES:
            lines.append(f"Hạn trả lời: {texts.day(self.deadline)}")
        if self.question:
            lines.append(f"Cần bổ sung: {self.question}")
        if self.transferred_to:
            lines.append(f"Đã chuyển đến: {self.transferred_to}")
        if self.reject_reason:
            lines.append(f"Lý do: {self.reject_reason}" + (f". {self.reject_note}" if self.reject_note else ""))
        if self.duplicate_of:
            lines.append(f"Trùng với: {self.duplicate_of}")
        if self.answer:
            lines.append(f"Trả lời: {self.answer}")
        if self.rating:
            lines.append(f"Bạn đã đánh giá: {self.rating}/5")
        lines.append("Diễn biến:")
        lines += [f"  {texts.day(d)}: {label}" for d, label in self.history]
        return "\n".join(lines)


@dataclass
class Publication:
    """The texts staff review before publishing: personal data already replaced."""

    content: Redaction
    answer: Redaction


@dataclass
class ItemView:
    """The staff view of one item: every field, the thread, attachments, audit, duplicate candidates."""

    item: dict
    queue: str
    overdue: bool
    messages: list[dict]
    attachments: list[dict]
    audit: list[dict]
    duplicates: list[tuple[str, float]]


@dataclass
class MyData:
    items: list[dict] = field(default_factory=list)
    consents: list[dict] = field(default_factory=list)

    def text(self) -> str:
        if not self.items and not self.consents:
            return "Hệ thống không lưu thông tin cá nhân nào của bạn trong phần phản ánh, kiến nghị."
        lines = ["Thông tin hệ thống đang lưu về bạn (phần phản ánh, kiến nghị):"]
        for it in self.items:
            lines.append(f"• {it['code']} ({texts.kind_label(it['kind'])}, {texts.STATE_LABELS[it['state']]})")
            if it["erased"]:
                lines.append("  Thông tin cá nhân đã được xóa theo yêu cầu của bạn.")
                continue
            for label, key in (
                ("Họ tên", "name"),
                ("Địa chỉ", "address"),
                ("Điện thoại", "phone"),
                ("Thư điện tử", "email"),
            ):
                if it[key]:
                    lines.append(f"  {label}: {it[key]}")
            lines.append(f"  Nội dung: {it['content'][:200]}{'…' if len(it['content']) > 200 else ''}")
            if it["attachments"]:
                lines.append(f"  Tệp đính kèm: {it['attachments']}")
        for c in self.consents:
            state = f", rút lại ngày {texts.day(c['withdrawn_on'])}" if c["withdrawn_on"] else ""
            lines.append(f"• Đồng ý xử lý dữ liệu ngày {texts.day(c['given_on'])} (văn bản {c['version']}{state})")
        lines.append("Gõ /xoadulieu để yêu cầu xóa thông tin cá nhân (nội dung phản ánh được giữ lại ở dạng ẩn danh).")
        return "\n".join(lines)


# --- helpers ---------------------------------------------------------------------------------------------


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _staff_chat(value: str | None) -> str | None:
    """The staff group's chat id (bot.settings' STAFF_TELEGRAM_CHAT_ID); None or empty: no announcements."""
    return (value or "").strip() or None


def check_staff(staff: str) -> str:
    s = (staff or "").strip()
    if not _STAFF_NAME.fullmatch(s) or s in _RESERVED_ACTORS:
        raise FeedbackError("staff: give the acting staff member's username (3-64 characters of a-z, 0-9, . _ -)")
    return s


def _note(value: str | None, what: str, required: bool = False) -> str | None:
    s = (value or "").strip()
    if required and not s:
        raise FeedbackError(f"{what} is required")
    if len(s) > MAX_NOTE_CHARS:
        raise FeedbackError(f"{what}: at most {MAX_NOTE_CHARS} characters")
    return s or None


def _load(s: Session, code: str) -> Row:
    canonical = codes.normalize(code) or code
    row = s.execute(select(items).where(items.c.code == canonical)).first()
    if row is None:
        raise UnknownItem(f"no feedback item {code}")
    return row


def _queue_name(s: Session, queue_id: int) -> str:
    return s.scalar(select(queues.c.name).where(queues.c.id == queue_id))


def _audit(s: Session, item_id: int, at: datetime, actor: str, action: str, before, after: str, note=None) -> None:
    s.execute(
        insert(audit).values(
            item_id=item_id, at=at, actor=actor, action=action, from_state=before, to_state=after, note=note
        )
    )


def _notify(s: Session, item: Row, text: str, key: str, now: datetime) -> None:
    if item.chat_id:
        enqueue(
            s, channel=item.channel, chat_id=item.chat_id, text=text, key=f"{item.code}:{key}", now=now, item_id=item.id
        )


def _transition(
    s: Session,
    item: Row,
    action: str,
    actor: str,
    now: datetime,
    values: dict | None = None,
    note: str | None = None,
    notify: str | None = None,
    target: str | None = None,
) -> str:
    """Check and apply one state change with its audit entry and citizen message; returns the new state."""
    allowed, to_state = TRANSITIONS[action]
    if item.state not in allowed:
        raise IllegalTransition(
            f"{item.code}: cannot {action} an item that is {item.state} (allowed from: {', '.join(allowed)})"
        )
    to_state = target or to_state
    n = s.execute(
        update(items)
        .where(items.c.id == item.id, items.c.version == item.version)
        .values(state=to_state, version=item.version + 1, updated_at=now, **(values or {}))
    ).rowcount
    if n != 1:
        raise Conflict(f"{item.code} was changed by someone else meanwhile; reload it and try again")
    _audit(s, item.id, now, actor, action, item.state, to_state, note)
    if notify:
        _notify(s, item, notify, f"v{item.version + 1}", now)
    return to_state


def _staff_action(
    factory: sessionmaker,
    code: str,
    staff: str,
    action: str,
    version: int | None,
    now: datetime | None,
    build: Callable[[Session, Row], tuple[dict, str | None, str | None]],
) -> int:
    """Run one staff action: `build` returns (column values, audit note, citizen text). Returns the new version."""
    staff = check_staff(staff)
    now = now or utcnow()
    with factory.begin() as s:
        item = _load(s, code)
        if version is not None and version != item.version:
            raise Conflict(f"{item.code} changed since you opened it (version {version}, now {item.version}); reload")
        allowed, _ = TRANSITIONS[action]
        if item.state not in allowed:
            raise IllegalTransition(
                f"{item.code}: cannot {action} an item that is {item.state} (allowed from: {', '.join(allowed)})"
            )
        values, note, notify = build(s, item)
        state = _transition(s, item, action, staff, now, values, note, notify)
    log.info("feedback %s: %s by staff -> %s", item.code, action, state)
    return item.version + 1


# --- queues, routing, reject reasons ------------------------------------------------------------------


def route(s: Session, field: str | None, procedure_code: str | None, content: str) -> Row:
    """The queue for an item: the first matching active rule by priority, else the default queue."""
    folded = fold_chars(content)
    f_field = " ".join(fold_chars(field or "").split())
    rules = s.execute(
        select(routing_rules, queues.c.name, queues.c.deadline_days)
        .join(queues, queues.c.id == routing_rules.c.queue_id)
        .where(routing_rules.c.active.is_(True), queues.c.active.is_(True))
        .order_by(routing_rules.c.priority, routing_rules.c.id)
    ).all()
    for r in rules:
        if r.field and " ".join(fold_chars(r.field).split()) != f_field:
            continue
        if r.procedure_code and r.procedure_code != procedure_code:
            continue
        if r.keywords:
            words = [" ".join(fold_chars(k).split()) for k in r.keywords.split(",") if k.strip()]
            if not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded) for w in words):
                continue
        return s.execute(select(queues).where(queues.c.id == r.queue_id)).one()
    q = s.execute(
        select(queues).where(queues.c.active.is_(True)).order_by(desc(queues.c.is_default), queues.c.id)
    ).first()
    if q is None:
        raise FeedbackError("no active feedback queue; add one with `feedback queue add`")
    return q


def add_queue(factory: sessionmaker, name: str, deadline_days: int, default: bool = False) -> int:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise FeedbackError("queue name: 1-200 characters")
    _check_days(deadline_days)
    with factory.begin() as s:
        if s.scalar(select(exists().where(queues.c.name == name))):
            raise FeedbackError(f"queue {name!r} exists already")
        if default:
            s.execute(update(queues).values(is_default=False))
        return s.execute(
            insert(queues).values(name=name, deadline_days=deadline_days, is_default=default, active=True)
        ).inserted_primary_key[0]


def _check_days(days: int) -> None:
    if not isinstance(days, int) or not 1 <= days <= 60:
        raise FeedbackError("deadline: 1-60 working days")


def set_queue(factory: sessionmaker, name: str, deadline_days: int | None = None, default: bool = False) -> None:
    with factory.begin() as s:
        qid = s.scalar(select(queues.c.id).where(queues.c.name == name))
        if qid is None:
            raise FeedbackError(f"no queue {name!r}")
        if deadline_days is not None:
            _check_days(deadline_days)
            s.execute(update(queues).where(queues.c.id == qid).values(deadline_days=deadline_days))
        if default:
            s.execute(update(queues).values(is_default=False))
            s.execute(update(queues).where(queues.c.id == qid).values(is_default=True))


def list_queues(factory: sessionmaker) -> list[dict]:
    with factory() as s:
        return [dict(r._mapping) for r in s.execute(select(queues).order_by(queues.c.id))]


def add_rule(
    factory: sessionmaker,
    queue: str,
    field: str | None = None,
    procedure_code: str | None = None,
    keywords: Iterable[str] = (),
    priority: int = 100,
) -> int:
    words = [" ".join(k.split()) for k in keywords if k and k.strip()]
    if not (field or procedure_code or words):
        raise FeedbackError("a rule needs a field, a procedure code or keywords")
    with factory.begin() as s:
        qid = s.scalar(select(queues.c.id).where(queues.c.name == queue))
        if qid is None:
            raise FeedbackError(f"no queue {queue!r}")
        return s.execute(
            insert(routing_rules).values(
                queue_id=qid,
                priority=priority,
                field=(field or "").strip() or None,
                procedure_code=(procedure_code or "").strip() or None,
                keywords=", ".join(words) or None,
                active=True,
            )
        ).inserted_primary_key[0]


def list_rules(factory: sessionmaker) -> list[dict]:
    with factory() as s:
        return [
            dict(r._mapping)
            for r in s.execute(
                select(routing_rules, queues.c.name.label("queue"))
                .join(queues, queues.c.id == routing_rules.c.queue_id)
                .order_by(routing_rules.c.priority, routing_rules.c.id)
            )
        ]


def list_reject_reasons(factory: sessionmaker) -> list[tuple[str, str]]:
    with factory() as s:
        return [
            (r.code, r.label)
            for r in s.execute(
                select(reject_reasons.c.code, reject_reasons.c.label)
                .where(reject_reasons.c.active.is_(True))
                .order_by(reject_reasons.c.position)
            )
        ]


# --- citizen actions -------------------------------------------------------------------------------------


def record_consent(factory: sessionmaker, citizen: Citizen, now: datetime | None = None) -> int:
    """Record an explicit "Đồng ý" to `texts.CONSENT_TEXT` (its version and the time); returns its id."""
    with factory.begin() as s:
        return s.execute(
            insert(consents).values(
                channel=citizen.channel,
                channel_user_id=str(citizen.user_id),
                purpose=texts.CONSENT_PURPOSE,
                text=texts.CONSENT_TEXT,
                text_version=texts.CONSENT_VERSION,
                given_at=now or utcnow(),
            )
        ).inserted_primary_key[0]


def submit(
    factory: sessionmaker,
    draft: Draft,
    citizen: Citizen,
    consent_id: int,
    data_dir=None,
    now: datetime | None = None,
    staff_chat: str | None = None,
) -> Receipt:
    """File a PAKN: the record, its attachments, the first audit entry, the acknowledgement to the citizen and
    the staff-group announcement in one transaction. InvalidField or CitizenError when refused."""
    d = draft.cleaned()
    if d.attachments and data_dir is None:
        raise ValueError("data_dir is needed to check attachments")
    now = now or utcnow()
    staff_chat = _staff_chat(staff_chat)
    with factory.begin() as s:
        consent = s.execute(select(consents).where(consents.c.id == consent_id)).first()
        if (
            consent is None
            or consent.channel != citizen.channel
            or consent.channel_user_id != str(citizen.user_id)
            or consent.purpose != texts.CONSENT_PURPOSE
            or consent.withdrawn_at is not None
        ):
            raise ConsentRequired()
        queue = route(s, d.field, d.procedure_code, d.content)
        deadline = workdays.add_working_days(workdays.local_date(now), queue.deadline_days)
        code = codes.new_code(lambda c: bool(s.scalar(select(exists().where(items.c.code == c)))))
        item_id = s.execute(
            insert(items).values(
                code=code,
                kind=d.kind,
                content=d.content,
                procedure_code=d.procedure_code,
                field=d.field,
                agency=d.agency,
                sender_name=d.name,
                sender_address=d.address,
                sender_phone=d.phone,
                sender_email=d.email,
                channel=citizen.channel,
                channel_user_id=str(citizen.user_id),
                chat_id=str(citizen.chat_id),
                consent_id=consent_id,
                queue_id=queue.id,
                state="received",
                version=1,
                deadline=deadline,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        for f in d.attachments:
            files.verify(data_dir, f)
            s.execute(insert(attachments).values(item_id=item_id, created_at=now, **_file_values(f)))
        _audit(s, item_id, now, "citizen", "submit", None, "received")
        enqueue(
            s,
            channel=citizen.channel,
            chat_id=str(citizen.chat_id),
            text=texts.acknowledgement(code, d.kind, queue.name, deadline),
            key=f"{code}:ack",
            now=now,
            item_id=item_id,
        )
        item = s.execute(select(items).where(items.c.id == item_id)).one()
        dups = tuple(c for c, _ in _duplicate_candidates(s, item))
        if staff_chat:
            enqueue(
                s,
                channel="telegram",
                chat_id=staff_chat,
                text=texts.staff_new(code, queue.name, deadline, list(dups)),
                key=f"{code}:staff-new",
                now=now,
                item_id=item_id,
            )
    log.info("feedback %s received: item %d, queue %d, %d attachments", code, item_id, queue.id, len(d.attachments))
    return Receipt(code, deadline, queue.name, dups)


def _file_values(f: files.StoredFile) -> dict:
    return {
        "path": f.path,
        "filename": f.filename,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
    }


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
    with factory() as s:
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
    attached: Iterable[files.StoredFile] = (),
    data_dir=None,
    now: datetime | None = None,
) -> str:
    """The citizen's reply to a request for information: kept in the thread, the item goes back to the state
    it was in, and the deadline moves by the working days spent waiting. Returns the new state."""
    body = clean_reply(text)
    attached = tuple(attached)
    if attached and data_dir is None:
        raise ValueError("data_dir is needed to check attachments")
    now = now or utcnow()
    with factory.begin() as s:
        item = _load_owned(s, code, citizen)
        if item.state != "needs_info":
            raise CitizenError(f"{item.code} hiện không chờ bổ sung thông tin.")
        asked = s.execute(
            select(audit.c.at, audit.c.from_state)
            .where(audit.c.item_id == item.id, audit.c.to_state == "needs_info")
            .order_by(desc(audit.c.id))
            .limit(1)
        ).one()
        paused = workdays.working_days_between(workdays.local_date(_utc(asked.at)), workdays.local_date(now))
        deadline = workdays.add_working_days(item.deadline, paused)
        count = s.scalar(select(func.count()).select_from(attachments).where(attachments.c.item_id == item.id))
        if count + len(attached) > files.MAX_PER_ITEM * 2:
            raise InvalidField("attachment", "Đã đủ số tệp đính kèm cho phản ánh, kiến nghị này.")
        state = _transition(
            s,
            item,
            "reply_info",
            "citizen",
            now,
            {"deadline": deadline, "overdue_at": None if deadline >= workdays.local_date(now) else item.overdue_at},
            note=f"deadline moved by {paused} working days",
            notify=texts.info_received(item.code),
            target=asked.from_state,
        )
        msg_id = s.execute(
            insert(messages).values(item_id=item.id, at=now, author_kind="citizen", author=None, body=body)
        ).inserted_primary_key[0]
        for f in attached:
            files.verify(data_dir, f)
            s.execute(insert(attachments).values(item_id=item.id, message_id=msg_id, created_at=now, **_file_values(f)))
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
        _audit(s, item.id, now, "citizen", "rate", item.state, item.state, f"{value}/5")
    log.info("feedback %s rated", item.code)


def lookup(factory: sessionmaker, code: str, citizen: Citizen, phone_last4: str | None = None) -> Status:
    """Status and history. From the chat that filed it the code suffices; from any other, the code and the
    last 4 digits of the phone given are needed (NotFound does not tell which one was wrong)."""
    canonical = codes.normalize(code)
    if canonical is None:
        raise NotFound()
    with factory() as s:
        item = s.execute(select(items).where(items.c.code == canonical)).first()
        if item is None or not _owned(item, citizen):
            digits = re.sub(r"[\s.\-]", "", phone_last4 or "")
            if not digits:
                raise PhoneDigitsRequired()
            phone = (item.sender_phone or "") if item is not None else ""
            if not re.fullmatch(r"\d{4}", digits) or len(phone) < 4 or not hmac.compare_digest(phone[-4:], digits):
                log.info("feedback lookup refused for a code from another chat")
                raise NotFound()
        return _status(s, item)


def _status(s: Session, item: Row) -> Status:
    history = [
        (workdays.local_date(_utc(r.at)), texts.STATE_LABELS[r.to_state])
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
    return Status(
        code=item.code,
        kind=item.kind,
        state=item.state,
        queue=_queue_name(s, item.queue_id),
        received_on=workdays.local_date(_utc(item.created_at)),
        deadline=item.deadline,
        history=history,
        question=question,
        answer=item.answer if item.state in RATABLE_STATES else None,
        transferred_to=item.transferred_to,
        reject_reason=reason,
        reject_note=item.reject_note,
        duplicate_of=original,
        rating=item.rating,
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
    """Published results for a procedure, newest first: code, kind, the redacted question and answer."""
    with factory() as s:
        rows = s.execute(
            select(items.c.code, items.c.kind, items.c.public_content, items.c.public_answer, items.c.published_at)
            .where(items.c.procedure_code == procedure_code, items.c.state.in_(("published", "closed")))
            .where(items.c.public_answer.is_not(None))
            .order_by(desc(items.c.published_at))
            .limit(limit)
        ).all()
    return [
        {
            "code": r.code,
            "kind": r.kind,
            "content": r.public_content,
            "answer": r.public_answer,
            "published_on": workdays.local_date(_utc(r.published_at)),
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
        for c in s.execute(
            select(consents)
            .where(consents.c.channel == citizen.channel, consents.c.channel_user_id == str(citizen.user_id))
            .order_by(consents.c.id)
        ):
            out.consents.append(
                {
                    "version": c.text_version,
                    "given_on": workdays.local_date(_utc(c.given_at)),
                    "withdrawn_on": workdays.local_date(_utc(c.withdrawn_at)) if c.withdrawn_at else None,
                }
            )
    return out


def erase_my_data(
    factory: sessionmaker, citizen: Citizen, confirmed: bool, data_dir=None, now: datetime | None = None
) -> int:
    """Erase the personal fields of every item the user filed, after the user confirmed: name, address,
    phone, e-mail, chat ids and attachments go; the content and the citizen's replies stay with personal
    data replaced; consents are marked withdrawn. Audited. Returns how many items were anonymised."""
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
            _audit(s, it.id, now, "citizen", "erase", it.state, it.state, "personal data erased on request")
        s.execute(
            update(consents)
            .where(
                consents.c.channel == citizen.channel,
                consents.c.channel_user_id == str(citizen.user_id),
                consents.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now)
        )
        still_used = set(s.scalars(select(attachments.c.path).where(attachments.c.path.in_(removed_files))))
    if data_dir is not None:
        for p in set(removed_files) - still_used:
            files.remove(data_dir, p)
    log.info("feedback: personal data of %d items erased", len(rows))
    return len(rows)


# --- staff actions ---------------------------------------------------------------------------------------


def claim(factory: sessionmaker, code: str, staff: str, version: int | None = None, now=None) -> int:
    """Take an item into processing (it is assigned to the staff member)."""
    return _staff_action(
        factory, code, staff, "claim", version, now,
        lambda s, it: ({"assigned_to": check_staff(staff)}, None, texts.claimed(it.code)),
    )  # fmt: skip


def ask_info(factory: sessionmaker, code: str, staff: str, question: str, version: int | None = None, now=None) -> int:
    """Ask the citizen for more information; the question is sent to them and the clock pauses."""
    q = _note(question, "the question", required=True)
    when = now or utcnow()

    def build(s: Session, it: Row):
        s.execute(
            insert(messages).values(item_id=it.id, at=when, author_kind="staff", author=check_staff(staff), body=q)
        )
        return {}, q, texts.info_requested(it.code, q)

    return _staff_action(factory, code, staff, "ask_info", version, when, build)


def transfer(
    factory: sessionmaker, code: str, staff: str, agency: str, note: str | None = None, version=None, now=None
) -> int:
    """Transfer to the competent agency (named); an end state here."""
    name = _note(agency, "the agency", required=True)
    if len(name) > 300:
        raise FeedbackError("the agency: at most 300 characters")
    extra = _note(note, "the note")
    return _staff_action(
        factory, code, staff, "transfer", version, now,
        lambda s, it: ({"transferred_to": name}, extra, texts.transferred(it.code, name)),
    )  # fmt: skip


def answer(factory: sessionmaker, code: str, staff: str, text: str, version: int | None = None, now=None) -> int:
    """Answer the citizen (sent to them, with the request to rate it)."""
    body = _note(text, "the answer", required=True)
    when = now or utcnow()
    return _staff_action(
        factory, code, staff, "answer", version, when,
        lambda s, it: ({"answer": body, "answered_at": when}, None, texts.answered(it.code, body)),
    )  # fmt: skip


def reject(
    factory: sessionmaker, code: str, staff: str, reason: str, note: str | None = None, version=None, now=None
) -> int:
    """Refuse to handle it, with a reason from the list (`list_reject_reasons`) and an optional text."""
    extra = _note(note, "the note")

    def build(s: Session, it: Row):
        label = s.scalar(
            select(reject_reasons.c.label).where(reject_reasons.c.code == reason, reject_reasons.c.active.is_(True))
        )
        if label is None:
            known = ", ".join(s.scalars(select(reject_reasons.c.code).where(reject_reasons.c.active.is_(True))))
            raise FeedbackError(f"unknown reject reason {reason!r}; one of: {known}")
        return (
            {"reject_reason": reason, "reject_note": extra},
            f"{reason}: {extra or ''}".strip(),
            texts.rejected(it.code, label, extra),
        )

    return _staff_action(factory, code, staff, "reject", version, now, build)


def mark_duplicate(
    factory: sessionmaker, code: str, staff: str, original: str, note: str | None = None, version=None, now=None
) -> int:
    """Close as a duplicate of another item (which must not itself be a duplicate)."""
    extra = _note(note, "the note")

    def build(s: Session, it: Row):
        orig = _load(s, original)
        if orig.id == it.id:
            raise FeedbackError("an item cannot duplicate itself")
        if orig.state == "duplicate":
            raise FeedbackError(f"{orig.code} is itself a duplicate; link to its original instead")
        return (
            {"duplicate_of": orig.id},
            f"duplicate of {orig.code}" + (f": {extra}" if extra else ""),
            (texts.duplicate(it.code, orig.code)),
        )

    return _staff_action(factory, code, staff, "mark_duplicate", version, now, build)


def preview_publication(factory: sessionmaker, code: str) -> Publication:
    """The content and the answer with personal data replaced, for staff to review before `publish`."""
    with factory() as s:
        it = _load(s, code)
    return Publication(
        redact(it.content, it.sender_name, it.sender_address),
        redact(it.answer or "", it.sender_name, it.sender_address),
    )


def _leaks(text: str, it: Row) -> list[str]:
    """Personal data that must never be published, found in a text staff chose to publish."""
    r = redact(text, it.sender_name, it.sender_address, use_ner=False)
    kinds = {k for k, _ in r.found if k in ("phone", "email", "id_number")}
    folded = fold_chars(text)
    for value, kind in ((it.sender_name, "name"), (it.sender_address, "address")):
        if value and " ".join(fold_chars(value).split()) in " ".join(folded.split()):
            kinds.add(kind)
    for value, kind in ((it.sender_phone, "phone"), (it.sender_email, "email")):
        if value and value.lower() in re.sub(r"[\s.\-]", "", text.lower()):
            kinds.add(kind)
    return sorted(kinds)


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
        c, a = _note(c, "the published content", required=True), _note(a, "the published answer", required=True)
        leaks = sorted(set(_leaks(c, it)) | set(_leaks(a, it)))
        if leaks:
            raise FeedbackError(f"{it.code}: the text to publish still holds personal data ({', '.join(leaks)})")
        return {"public_content": c, "public_answer": a, "published_at": when}, None, texts.published(it.code)

    return _staff_action(factory, code, staff, "publish", version, when, build)


def close(factory: sessionmaker, code: str, staff: str, note: str | None = None, version=None, now=None) -> int:
    """Archive a published item."""
    extra = _note(note, "the note")
    return _staff_action(factory, code, staff, "close", version, now, lambda s, it: ({}, extra, texts.closed(it.code)))


# --- staff views -----------------------------------------------------------------------------------------


def _duplicate_candidates(s: Session, item: Row) -> list[tuple[str, float]]:
    q = select(items.c.code, items.c.content).where(items.c.state.in_(OPEN_STATES), items.c.id != item.id)
    if item.procedure_code:
        q = q.where(items.c.procedure_code == item.procedure_code)
    else:
        q = q.where(items.c.procedure_code.is_(None), items.c.queue_id == item.queue_id)
    mine = fold_chars(item.content)
    out = []
    for r in s.execute(q.order_by(desc(items.c.id)).limit(DUPLICATE_POOL)):
        score = fuzz.token_sort_ratio(mine, fold_chars(r.content))
        if score >= DUPLICATE_THRESHOLD:
            out.append((r.code, round(score, 1)))
    return sorted(out, key=lambda x: -x[1])


def candidate_duplicates(factory: sessionmaker, code: str) -> list[tuple[str, float]]:
    """Open items on the same procedure (or with none, in the same queue) with similar content."""
    with factory() as s:
        return _duplicate_candidates(s, _load(s, code))


def is_overdue(state: str, deadline: date, today: date) -> bool:
    return state in OPEN_STATES and today > deadline


def view(factory: sessionmaker, code: str, today: date | None = None) -> ItemView:
    today = today or workdays.local_date(utcnow())
    with factory() as s:
        it = _load(s, code)
        return ItemView(
            item=dict(it._mapping),
            queue=_queue_name(s, it.queue_id),
            overdue=is_overdue(it.state, it.deadline, today),
            messages=[
                dict(r._mapping)
                for r in s.execute(select(messages).where(messages.c.item_id == it.id).order_by(messages.c.id))
            ],
            attachments=[
                dict(r._mapping)
                for r in s.execute(select(attachments).where(attachments.c.item_id == it.id).order_by(attachments.c.id))
            ],
            audit=[
                dict(r._mapping) for r in s.execute(select(audit).where(audit.c.item_id == it.id).order_by(audit.c.id))
            ],
            duplicates=_duplicate_candidates(s, it),
        )


def list_items(
    factory: sessionmaker,
    state: str | None = None,
    overdue: bool = False,
    queue: str | None = None,
    today: date | None = None,
    limit: int = 200,
) -> list[dict]:
    """Items for the staff list (no personal data): code, kind, state, queue, deadline, assignee, overdue."""
    today = today or workdays.local_date(utcnow())
    q = (
        select(
            items.c.code,
            items.c.kind,
            items.c.state,
            items.c.version,
            items.c.deadline,
            items.c.assigned_to,
            items.c.procedure_code,
            items.c.created_at,
            queues.c.name.label("queue"),
        )
        .join(queues, queues.c.id == items.c.queue_id)
        .order_by(items.c.deadline, items.c.id)
        .limit(limit)
    )
    if state:
        if state not in texts.STATE_LABELS:
            raise FeedbackError(f"unknown state {state!r}; one of: {', '.join(texts.STATE_LABELS)}")
        q = q.where(items.c.state == state)
    if overdue:
        q = q.where(items.c.state.in_(OPEN_STATES), items.c.deadline < today)
    if queue:
        q = q.where(queues.c.name == queue)
    with factory() as s:
        rows = [dict(r._mapping) for r in s.execute(q)]
    for r in rows:
        r["overdue"] = is_overdue(r["state"], r["deadline"], today)
    return rows


def check_overdue(factory: sessionmaker, now: datetime | None = None, staff_chat: str | None = None) -> list[str]:
    """Flag open items past their deadline (once per deadline) and announce them in the staff group."""
    now = now or utcnow()
    today = workdays.local_date(now)
    staff_chat = _staff_chat(staff_chat)
    flagged = []
    with factory.begin() as s:
        rows = s.execute(
            select(items.c.id, items.c.code, items.c.state, items.c.deadline, queues.c.name.label("queue"))
            .join(queues, queues.c.id == items.c.queue_id)
            .where(items.c.state.in_(OPEN_STATES), items.c.deadline < today, items.c.overdue_at.is_(None))
        ).all()
        for r in rows:
            s.execute(update(items).where(items.c.id == r.id, items.c.overdue_at.is_(None)).values(overdue_at=now))
            key = f"{r.code}:overdue:{r.deadline.isoformat()}"
            if staff_chat and not has_key(s, key):
                enqueue(
                    s,
                    channel="telegram",
                    chat_id=staff_chat,
                    text=texts.staff_overdue(r.code, r.queue, r.deadline, r.state),
                    key=key,
                    now=now,
                    item_id=r.id,
                )
            flagged.append(r.code)
    if flagged:
        log.info("feedback: %d items newly overdue", len(flagged))
    return flagged


def satisfaction(factory: sessionmaker, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Ratings for reports: how many, the average and the count per star."""
    q = select(items.c.rating, func.count()).where(items.c.rating.is_not(None)).group_by(items.c.rating)
    if since:
        q = q.where(items.c.rated_at >= since)
    if until:
        q = q.where(items.c.rated_at < until)
    with factory() as s:
        by = {int(r): int(n) for r, n in s.execute(q)}
    total = sum(by.values())
    return {
        "count": total,
        "average": round(sum(k * v for k, v in by.items()) / total, 2) if total else None,
        "by_stars": {k: by.get(k, 0) for k in range(1, 6)},
    }
