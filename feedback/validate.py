"""Intake validation: every field a citizen gives, cleaned or refused with a reason in Vietnamese.

The dialog calls `clean(field, value)` for each answer and asks again with `InvalidField.reason` when it
is refused; `submit` checks the whole draft once more. Text is kept as text: markup such as a script tag
is stored verbatim and never interpreted here (renderers escape it).
"""

from __future__ import annotations

import re
import unicodedata

from knowledge.text import safe_text

KINDS = {"phan_anh": "phản ánh", "kien_nghi": "kiến nghị"}
MIN_CONTENT_CHARS = 30
MIN_CONTENT_WORDS = 6
MAX_CONTENT_CHARS = 4000
MAX_NAME_CHARS = 100
MIN_ADDRESS_CHARS = 5
MAX_ADDRESS_CHARS = 300
MAX_AGENCY_CHARS = 300
MAX_EMAIL_CHARS = 254
MAX_REPLY_CHARS = 4000

# Vietnamese numbers: mobiles 0[35789]x xxx xxxx (10 digits), landlines 02x… (11 digits since 2017).
_MOBILE = re.compile(r"0[35789][0-9]{8}")
_LANDLINE = re.compile(r"02[0-9]{9}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PROCEDURE_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-_]{0,31}")


class InvalidField(ValueError):
    """A field the citizen must give again; `reason` is Vietnamese and says what is expected."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def num(n: int) -> str:
    """A whole number the Vietnamese way: 4.000."""
    return f"{n:,}".replace(",", ".")


def _text(value: object, multiline: bool = False) -> str:
    s = safe_text("" if value is None else str(value))
    if multiline:
        s = "\n".join(" ".join(line.split()) for line in s.split("\n"))
        s = re.sub(r"\n{3,}", "\n\n", s)
        return s.strip()
    return " ".join(s.split())


def clean_kind(value: object) -> str:
    s = _text(value).lower().replace(" ", "_")
    folded = {"phản_ánh": "phan_anh", "kiến_nghị": "kien_nghi"}.get(s, s)
    if folded not in KINDS:
        raise InvalidField("kind", "Hãy chọn “phản ánh” hoặc “kiến nghị”.")
    return folded


def clean_content(value: object) -> str:
    s = _text(value, multiline=True)
    if not s:
        raise InvalidField("content", "Nội dung không được để trống. Hãy mô tả sự việc: ở đâu, khi nào, việc gì.")
    if len(s) > MAX_CONTENT_CHARS:
        raise InvalidField(
            "content", f"Nội dung dài {num(len(s))} ký tự, vượt quá {num(MAX_CONTENT_CHARS)} ký tự. Hãy rút gọn."
        )
    letters = [c for c in s if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if len(letters) >= 10 and latin < 0.8 * len(letters):
        raise InvalidField("content", "Phản ánh, kiến nghị phải được viết bằng tiếng Việt.")
    if len(s) < MIN_CONTENT_CHARS or len(s.split()) < MIN_CONTENT_WORDS or len(letters) < MIN_CONTENT_CHARS // 2:
        raise InvalidField(
            "content",
            f"Nội dung quá ngắn (cần ít nhất {MIN_CONTENT_WORDS} từ, {MIN_CONTENT_CHARS} ký tự). "
            "Hãy mô tả rõ sự việc: ở đâu, khi nào, việc gì, bạn đề nghị gì.",
        )
    return s


def clean_reply(value: object) -> str:
    s = _text(value, multiline=True)
    if not s:
        raise InvalidField("reply", "Nội dung bổ sung không được để trống.")
    if len(s) > MAX_REPLY_CHARS:
        raise InvalidField("reply", f"Nội dung bổ sung vượt quá {num(MAX_REPLY_CHARS)} ký tự. Hãy rút gọn.")
    return s


def clean_name(value: object) -> str:
    s = _text(value)
    if not s:
        raise InvalidField(
            "name",
            "Cần họ tên người gửi: phản ánh, kiến nghị không rõ họ tên, địa chỉ người gửi thì không được tiếp nhận.",
        )
    if len(s) > MAX_NAME_CHARS:
        raise InvalidField("name", f"Họ tên dài quá {MAX_NAME_CHARS} ký tự.")
    if not all(c.isalpha() or c in " .'-" for c in s) or sum(c.isalpha() for c in s) < 2:
        raise InvalidField("name", "Họ tên chỉ gồm chữ cái, ví dụ: Nguyễn Văn An.")
    return s


def clean_address(value: object) -> str:
    s = _text(value)
    if not s:
        raise InvalidField(
            "address",
            "Cần địa chỉ người gửi: phản ánh, kiến nghị không rõ họ tên, địa chỉ người gửi thì không được tiếp nhận.",
        )
    if len(s) > MAX_ADDRESS_CHARS:
        raise InvalidField("address", f"Địa chỉ dài quá {MAX_ADDRESS_CHARS} ký tự.")
    if len(s) < MIN_ADDRESS_CHARS or sum(c.isalpha() for c in s) < 3 or any(c in "<>{}" for c in s):
        raise InvalidField("address", "Địa chỉ chưa rõ. Ví dụ: số 12 ngõ 5 phố Huế, phường Hai Bà Trưng, Hà Nội.")
    return s


def ascii_digits(text: str) -> str:
    """Full-width and other compatibility forms folded (NFKC), then every decimal digit of any script
    (Arabic-Indic, Devanagari …) written as its ASCII digit: what is stored and compared is ASCII."""
    s = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in s)


def clean_phone(value: object) -> str:
    """A Vietnamese number as 0xxxxxxxxx (ASCII digits); +84 and 84 forms, spaces, dots and dashes are
    accepted, and digits typed in another script or full width."""
    s = ascii_digits(_text(value))
    if not s:
        raise InvalidField("phone", "Số điện thoại không được để trống.")
    compact = re.sub(r"[\s.\-()]", "", s)
    if compact.startswith("+84"):
        compact = "0" + compact[3:]
    elif compact.startswith("84") and len(compact) in (11, 12):
        compact = "0" + compact[2:]
    if compact.startswith("00"):
        compact = compact[1:]
    if not (_MOBILE.fullmatch(compact) or _LANDLINE.fullmatch(compact)):
        raise InvalidField(
            "phone",
            "Số điện thoại không hợp lệ. Số di động gồm 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09 "
            "(ví dụ 0912 345 678 hoặc +84 912 345 678); số cố định gồm 11 chữ số, bắt đầu bằng 02.",
        )
    return compact


def clean_email(value: object) -> str:
    s = _text(value)
    if not s:
        raise InvalidField("email", "Thư điện tử không được để trống.")
    if len(s) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(s) or ".." in s:
        raise InvalidField("email", "Địa chỉ thư điện tử không hợp lệ, ví dụ: ten@gmail.com.")
    local, domain = s.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def clean_agency(value: object) -> str | None:
    s = _text(value)
    if not s:
        return None
    if len(s) > MAX_AGENCY_CHARS:
        raise InvalidField("agency", f"Tên cơ quan, địa điểm dài quá {MAX_AGENCY_CHARS} ký tự.")
    return s


def clean_procedure_code(value: object) -> str | None:
    s = _text(value)
    if not s:
        return None
    if not _PROCEDURE_CODE.fullmatch(s):
        raise InvalidField("procedure_code", "Mã thủ tục không hợp lệ, ví dụ: 1.001193.")
    return s


def clean_field(value: object) -> str | None:
    s = _text(value)
    return s[:200] or None


CLEANERS = {
    "kind": clean_kind,
    "content": clean_content,
    "name": clean_name,
    "address": clean_address,
    "phone": clean_phone,
    "email": clean_email,
    "agency": clean_agency,
    "procedure_code": clean_procedure_code,
    "field": clean_field,
}


def clean(field: str, value: object):
    """Clean one intake field or raise InvalidField with a Vietnamese reason."""
    return CLEANERS[field](value)
