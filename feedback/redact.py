"""Removing personal data before publication: names, phone numbers, e-mails, ID-card numbers, addresses.

Four sources of spans, merged: the sender's own fields (matched with or without diacritics), regular
expressions (e-mail, Vietnamese phone numbers, 9- and 12-digit ID numbers, house-number addresses),
person names after a form of address ("ông", "chị", "cán bộ" …) or opening with a common surname, and the
PER entities of `underthesea.ner`. Staff see the result and what was removed before publishing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from knowledge.text import fold_chars

log = logging.getLogger(__name__)

LABELS = {
    "name": "[họ tên]",
    "phone": "[số điện thoại]",
    "email": "[email]",
    "id_number": "[số giấy tờ]",
    "address": "[địa chỉ]",
}

_UP = "A-ZĐÀÁẢÃẠÂẦẤẨẪẬĂẰẮẲẴẶÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
CAP = rf"[{_UP}][^\W\d_]*"
_NAME = rf"{CAP}(?:[ \t]+{CAP}){{0,3}}"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\d.,])(?:\+\s?84|84|\(?0)(?:[\s.\-)]{0,2}\d){8,10}(?![\d.,]\d)")
ID_NUMBER = re.compile(r"(?<![\d.,/])(?:\d{12}|\d{9}|\d{3} \d{3} \d{3}(?: \d{3})?)(?![\d/]|[.,]\d)")

_HOUSE = r"(?i:số\s+nhà|nhà\s+số|số|nhà|SN)\s*\d+[A-Za-z]?(?:[/\-]\d+[A-Za-z]?)*"
_UNIT = r"(?i:ngõ|ngách|hẻm|kiệt|tổ\s+dân\s+phố|tổ|khu\s+phố|khóm|thôn|xóm|ấp)\s+(?:(?i:số)\s+)?\d+[A-Za-z]?(?:/\d+)*"
_STREET = rf"(?i:đường|phố)\s+(?:(?i:số)\s+\d+|{CAP}(?:\s+{CAP}){{0,4}})"
ADDRESS = re.compile(
    rf"{_HOUSE}(?:[\s,]+(?:{_UNIT}|{_STREET}))+"
    rf"|{_HOUSE}\s+{CAP}(?:\s+{CAP}){{0,4}}"
    rf"|(?<![\d/.,])\d+[A-Za-z]?/\d+[A-Za-z]?(?:/\d+)*\s+(?:(?i:đường|phố)\s+)?{CAP}(?:\s+{CAP}){{0,4}}"
    rf"|(?<![\d/.,])\d{{1,4}}[A-Za-z]?\s+(?i:đường|phố)\s+{CAP}(?:\s+{CAP}){{0,4}}"
)

_ADDRESS_FORMS = (
    r"ông|bà|anh|chị|cô|chú|bác|dì|cậu|mợ|thím|em|cháu|cụ|cán\s+bộ|chuyên\s+viên|công\s+chức|đồng\s+chí|đ/c"
    r"|tôi\s+là|tên\s+tôi\s+là|tôi\s+tên\s+là|tôi\s+tên|họ\s+tên|họ\s+và\s+tên|người\s+gửi"
)
HONORIFIC_NAME = re.compile(rf"(?<!\w)(?i:{_ADDRESS_FORMS})[ \t:]+(?P<name>{_NAME})")
SURNAMES = [
    *("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"),
    *("Dương", "Đinh", "Trịnh", "Lưu", "Đào", "Đoàn", "Lương", "Trương", "Tạ", "Quách", "Kiều", "Vương", "Mạc"),
    *("Triệu", "Lã", "Khúc", "Tăng", "Thân", "Nghiêm", "Phùng", "Hứa", "Diệp", "Tôn"),
]
SURNAME_NAME = re.compile(rf"(?<![\w])(?:{'|'.join(SURNAMES)})(?:[ \t]+{CAP}){{1,3}}")
# Words before a capitalised phrase that make it a place, a street or an institution, not a person.
_PLACE_BEFORE = re.compile(
    r"(?i:đường|phố|phường|quận|huyện|xã|thị\s+trấn|thị\s+xã|tỉnh|thành\s+phố|tp\.?|trường|bệnh\s+viện|cầu|chợ"
    r"|khu|ngõ|hẻm|kiệt|làng|thôn|xóm|ấp|công\s+viên|sông|hồ|núi|quảng\s+trường|đại\s+lộ|tư\s+tưởng|lăng"
    r"|chủ\s+tịch|bảo\s+tàng|nhà\s+văn\s+hóa)[\s.]*$"
)
_NOT_NAMES = {"hồ chí minh", "rịa", "bà rịa", "rịa vũng tàu"}
_PLACE_WORD = re.compile(
    r"(?i:đường|phố|phường|quận|huyện|xã|tỉnh|thành\s+phố|trường|bệnh\s+viện|cầu|chợ|khu|làng|thôn|xóm|ấp)(?:\s|$)"
)


@dataclass
class Redaction:
    text: str
    found: list[tuple[str, str]] = field(default_factory=list)  # (kind, original text); for staff only

    @property
    def kinds(self) -> set[str]:
        return {k for k, _ in self.found}


_FOLDED_FORMS = re.compile(rf"^(?:{fold_chars(_ADDRESS_FORMS)})(?:\s+|$)")


def _strip_forms(entity: str) -> str:
    """'Anh Tuấn' -> 'Tuấn', 'Ong' -> '': the form of address stays in the published text."""
    entity = entity.strip()
    while m := _FOLDED_FORMS.match(fold_chars(entity)):
        entity = entity[m.end() :]
    return entity


def _find_folded(folded: str, needle: str) -> list[tuple[int, int]]:
    words = re.findall(r"\w+", fold_chars(needle))
    if not words or len("".join(words)) < 3:
        return []
    pattern = r"(?<!\w)" + r"[\s,;.\-/]+".join(re.escape(w) for w in words) + r"(?!\w)"
    return [(m.start(), m.end()) for m in re.finditer(pattern, folded)]


def _known_spans(text: str, name: str | None, address: str | None) -> list[tuple[int, int, str]]:
    folded = fold_chars(text)
    spans: list[tuple[int, int, str]] = []
    if name:
        spans += [(a, b, "name") for a, b in _find_folded(folded, name)]
        given = name.split()[-1]
        if len(name.split()) > 1:
            given_folded = re.escape(fold_chars(given))
            forms = re.compile(rf"(?<!\w)(?:{fold_chars(_ADDRESS_FORMS)})[ \t:]+({given_folded})(?!\w)")
            spans += [(m.start(1), m.end(1), "name") for m in forms.finditer(folded)]
    if address:
        # The whole address, or its first parts (the text may leave out the province), or a part with a number.
        parts = [p.strip() for p in re.split(r"[,;]", address) if p.strip()]
        for n in range(len(parts), 1, -1):
            spans += [(a, b, "address") for a, b in _find_folded(folded, ", ".join(parts[:n]))]
        for part in parts:
            if re.search(r"\d", part) and len(part) >= 4:
                spans += [(a, b, "address") for a, b in _find_folded(folded, part)]
    return spans


def _phone_ok(s: str) -> bool:
    digits = re.sub(r"\D", "", s)
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    return (len(digits) == 10 and digits[1] in "35789") or (len(digits) == 11 and digits.startswith("02"))


def _regex_spans(text: str) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), "email") for m in EMAIL.finditer(text)]
    spans += [(m.start(), m.end(), "phone") for m in PHONE.finditer(text) if _phone_ok(m.group())]
    spans += [(m.start(), m.end(), "id_number") for m in ID_NUMBER.finditer(text)]
    spans += [(m.start(), m.end(), "address") for m in ADDRESS.finditer(text)]
    return spans


def _is_place(text: str, start: int, phrase: str) -> bool:
    return bool(_PLACE_BEFORE.search(text[max(0, start - 30) : start])) or phrase.lower() in _NOT_NAMES


def _name_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in HONORIFIC_NAME.finditer(text):
        if m.group("name").lower() not in _NOT_NAMES:
            spans.append((m.start("name"), m.end("name"), "name"))
    for m in SURNAME_NAME.finditer(text):
        if not _is_place(text, m.start(), m.group()):
            spans.append((m.start(), m.end(), "name"))
    return spans


def _ner_spans(text: str) -> list[tuple[int, int, str]]:
    try:
        from underthesea import ner

        tokens = ner(text)
    except Exception as e:  # the model is optional at run time; the other detectors still apply
        log.warning("underthesea NER unavailable: %s", type(e).__name__)
        return []
    entities: list[str] = []
    current: list[str] = []
    for tok in tokens:
        word, tag = tok[0], tok[-1]
        if tag == "B-PER" or (tag == "I-PER" and not current):
            if current:
                entities.append(" ".join(current))
            current = [word]
        elif tag == "I-PER":
            current.append(word)
        else:
            if current:
                entities.append(" ".join(current))
            current = []
    if current:
        entities.append(" ".join(current))
    spans = []
    for ent in set(entities):
        ent = _strip_forms(ent)
        if _PLACE_WORD.match(ent):
            continue
        # Abbreviations (SĐT, CCCD, QĐ-UBND) are often tagged PER: a name is words in title case.
        words = ent.split()
        if not words or not all(w[0].isupper() and w[1:].islower() and w.isalpha() for w in words):
            continue
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in ent.split()) + r"(?!\w)"
        for m in re.finditer(pattern, text):
            if not _is_place(text, m.start(), m.group()):
                spans.append((m.start(), m.end(), "name"))
    return spans


def redact(
    text: str,
    name: str | None = None,
    address: str | None = None,
    use_ner: bool = True,
) -> Redaction:
    """The text with personal data replaced by labels such as "[họ tên]", and what was replaced."""
    if not text:
        return Redaction(text or "")
    text = unicodedata.normalize("NFC", text)
    spans = _known_spans(text, name, address) + _regex_spans(text) + _name_spans(text)
    if use_ner:
        spans += _ner_spans(text)
    # Longest first; a span overlapping one already kept is dropped.
    spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    kept: list[tuple[int, int, str]] = []
    for a, b, kind in spans:
        if all(b <= ka or a >= kb for ka, kb, _ in kept):
            kept.append((a, b, kind))
    kept.sort()
    out, pos, found = [], 0, []
    for a, b, kind in kept:
        out.append(text[pos:a])
        out.append(LABELS[kind])
        found.append((kind, text[a:b]))
        pos = b
    out.append(text[pos:])
    return Redaction("".join(out), found)
