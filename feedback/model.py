"""Feedback (PAKN) values: the states, the errors, and what the workflow takes and gives back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from feedback import attachments as files
from feedback import texts
from feedback.redact import Redaction
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
)

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
    """A refused operation; the message is English, for staff and operators (the CLI); `vi`, when given, says
    the same in Vietnamese for the dashboard."""

    def __init__(self, message: str = "", vi: str | None = None):
        super().__init__(message)
        self.vi = vi


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


def upload_ids(kept: Iterable) -> list[int]:
    """The upload ids among a draft's files, kept as `{"upload": id, "filename": …}` (entries of another
    shape, written by an older version, are skipped)."""
    return [f["upload"] for f in kept if isinstance(f, dict) and type(f.get("upload")) is int]


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
    attachments: tuple[int, ...] = ()  # ids of the citizen's uploads (feedback.uploads)

    @classmethod
    def from_dict(cls, d: dict) -> Draft:
        """From the draft the dialog keeps in the conversation state (files as `{"upload": id, …}`)."""
        known = {k: d.get(k) for k in cls.__dataclass_fields__ if k != "attachments"}
        return cls(**known, attachments=tuple(upload_ids(d.get("attachments") or ())))

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
    public: bool = False  # as another chat sees it: texts redacted, nothing to act on

    @property
    def can_rate(self) -> bool:
        return not self.public and self.state in RATABLE_STATES and self.rating is None

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
    uploads: int = 0  # files sent to a draft or a reply not yet submitted
    questions: int = 0  # recent questions the conversation keeps (the dialog fills this in)
    transcript: int = 0  # messages a channel keeps to show the chat again (the web chat; the dialog fills this in)

    @property
    def empty(self) -> bool:
        return not (self.items or self.consents or self.uploads or self.questions or self.transcript)

    @property
    def erasable(self) -> bool:
        """Anything left that an erasure would remove (an erased item and a withdrawn consent are kept as
        records without personal data)."""
        live = [it for it in self.items if not it["erased"]] + [c for c in self.consents if not c["withdrawn_on"]]
        return bool(live or self.uploads or self.questions or self.transcript)

    def text(self) -> str:
        if self.empty:
            return "Hệ thống không lưu thông tin cá nhân nào của bạn."
        lines = ["Thông tin hệ thống đang lưu về bạn:"]
        if self.questions:
            lines.append(
                f"• {self.questions} câu hỏi gần đây trong cuộc trò chuyện (để hiểu câu hỏi tiếp theo; "
                "tự xóa sau 24 giờ không nhắn tin)"
            )
        if self.transcript:
            lines.append(
                f"• {self.transcript} tin nhắn trong lịch sử trò chuyện trên trang (để hiện lại khi bạn mở lại trang; "
                "tự xóa sau 24 giờ)"
            )
        if self.uploads:
            lines.append(f"• {self.uploads} tệp đã gửi cho phản ánh, kiến nghị đang soạn (chưa gửi đi)")
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
        lines.append(
            "Gõ /xoadulieu để yêu cầu xóa thông tin cá nhân (nội dung phản ánh đã gửi được giữ lại ở dạng ẩn danh)."
        )
        return "\n".join(lines)
