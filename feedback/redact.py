"""Removing personal data before publication: names, phone numbers, e-mails, ID-card numbers, addresses.

Four sources of spans, merged: the sender's own fields (matched with or without diacritics), regular
expressions (e-mail, also spelled out as "name [at] gmail [dot] com"; Vietnamese phone numbers; 9- and
12-digit ID numbers, also in groups; house-number and alley addresses), person names after a form of
address ("ông", "chị", "cán bộ" …) or opening with a common surname, and the PER entities of
`underthesea.ner`. Every detector reads a same-length matching copy of the text (full-width and other
compatibility characters and digits of any script made ASCII), so disguised data is found and its span
still indexes the original. Staff see the result and what was removed before publishing; `leaks` is the
check run on the text they finally publish.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

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
# E-mails written to dodge filters: "name [at] gmail.com", "name at gmail dot com", "name a còng gmail chấm com".
# Ordinary prose ("gặp nhau at home") must stay, so the domain is a known provider or ends in a known TLD.
_AT = r"(?:\s*(?:@|[\[({]\s*(?:at|@)\s*[\])}])\s*|\s+(?:at|a\s*còng|a\s*cong|a\s*móc|a\s*moc)\s+)"
_DOT = r"(?:\.|\s+\.\s+|\s*[\[({]\s*(?:dot|\.)\s*[\])}]\s*|\s+(?:dot|chấm|cham)\s+)"
_PROVIDER = r"(?:gmail|googlemail|yahoo|ymail|outlook|hotmail|icloud|protonmail|proton|zoho)"
_TLD = r"(?:com|net|org|edu|gov|vn|info|biz|io|me|co|uk|us|xyz)"
DISGUISED_EMAIL = re.compile(
    rf"(?i)(?<![\w.%+-])[a-z0-9][a-z0-9._%+-]*{_AT}"
    rf"(?:{_PROVIDER}|[a-z0-9-]+(?:{_DOT}[a-z0-9-]+)*?{_DOT}{_TLD})(?:{_DOT}{_TLD})*(?!\w)"
)
# A mobile (0 + 9 digits) or landline (02 + 9 digits) number, after 0, 84 or +84; up to three of
# space . - ( ) between digits. Not inside a longer number, nor after "1." (an amount: 1.084.567.890.123).
_DIGIT = r"[\s.\-()]{0,3}\d"
PHONE = re.compile(
    rf"(?<!\d)(?<!\d\.)(?:\(?\+\s?84\)?|\(?84\)?|\(?0)[\s.\-()]{{0,3}}(?:[35789](?:{_DIGIT}){{8}}|2(?:{_DIGIT}){{9}})"
    r"(?!\d)"
)
# 9 digits (old ID card) or 12 (citizen ID), also in groups of three: 001.099.012.345, 017 123 456, 001-099-012-345.
ID_NUMBER = re.compile(
    r"(?<![\d.,/])(?:\d{12}|\d{9}|\d{3}(?P<sep>[.\- ])\d{3}(?P=sep)\d{3}(?:(?P=sep)\d{3})?)(?![\d/]|[.,\-]\d)"
)
# A 9-digit amount (hundreds of millions of đồng) is written just like a grouped old ID number: 100.000.000.
# In citizens' feedback an amount nearly always carries its currency ("đồng", "đ", "VNĐ") or follows "phí",
# "tiền", "nộp" …, while ID numbers come bare after "CMND"/"CCCD". So such a number is an ID number unless a
# money word is right next to it: a bare amount is then redacted too, which costs readability, not privacy.
_CURRENCY_AFTER = re.compile(r"\s*(?i:đồng(?!\s+thời)|đ|vnđ|vnd|dong|₫)(?!\w)")
_MONEY_BEFORE = re.compile(
    r"(?<!\w)(?i:phí|tiền|mức|giá|nộp|đóng|trả|phạt)"  # not "chi", "lương": also names (Kim Chi, ông Lương)
    r"(?:\s+(?i:là|khoảng|gần|hơn|tới|đến|lên|thêm|mất|hết))*[\s:]*$"
)

_NUMBER = r"\d+[A-Za-z]?(?:[/\-]\d+[A-Za-z]?)*"
_HOUSE = rf"(?<!\w)(?i:s[ốo]\s+nh[àa]|nh[àa]\s+s[ốo]|s[ốo]|nh[àa]|SN)\s*{_NUMBER}"
_UNIT = r"(?i:ngõ|ngách|hẻm|kiệt|tổ\s+dân\s+phố|tổ|khu\s+phố|khóm|thôn|xóm|ấp)\s+(?:(?i:số)\s+)?\d+[A-Za-z]?(?:/\d+)*"
_STREET = rf"(?i:đường|phố)\s+(?:(?i:số)\s+\d+|{CAP}(?:\s+{CAP}){{0,4}})"
_PLACE = rf"{CAP}(?:[ \t]+{CAP}){{0,4}}"
ADDRESS = re.compile(
    rf"{_HOUSE}(?:[\s,]+(?:{_UNIT}|{_STREET}))+"
    rf"|{_HOUSE}\s+{CAP}(?:\s+{CAP}){{0,4}}"
    rf"|(?<![\d/.,])\d+[A-Za-z]?/\d+[A-Za-z]?(?:/\d+)*\s+(?:(?i:đường|phố)\s+)?{CAP}(?:\s+{CAP}){{0,4}}"
    rf"|(?<![\d/.,])\d{{1,4}}[A-Za-z]?\s+(?i:đường|phố)\s+{CAP}(?:\s+{CAP}){{0,4}}"
)
# A short address: a house number, an alley and maybe a street ("12 ngõ 5 Huế", "số 7 hẻm 3 Trần Phú",
# "12/3 ngõ 5", "nhà 5 ngách 2"), with or without diacritics. The publish guard refuses it.
_ALLEY = r"(?i:ng[õo]|ng[áa]ch|h[ẻe]m|ki[ệe]t)\s+(?:(?i:s[ốo])\s+)?\d+[A-Za-z]?(?:/\d+)*"
SHORT_ADDRESS = re.compile(
    rf"(?:{_HOUSE}|(?<![\w/.,]){_NUMBER})[\s,]+{_ALLEY}(?:[\s,]+(?:{_ALLEY}|{_UNIT}|{_STREET}))*(?:[ \t]+{_PLACE})?"
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


def _is_money(text: str, start: int, end: int) -> bool:
    return bool(_CURRENCY_AFTER.match(text, end) or _MONEY_BEFORE.search(text, max(0, start - 40), start))


def _regex_spans(text: str) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), "email") for r in (EMAIL, DISGUISED_EMAIL) for m in r.finditer(text)]
    spans += [(m.start(), m.end(), "phone") for m in PHONE.finditer(text)]
    spans += [(m.start(), m.end(), "id_number") for m in ID_NUMBER.finditer(text) if not _is_money(text, *m.span())]
    spans += [(m.start(), m.end(), "address") for r in (ADDRESS, SHORT_ADDRESS) for m in r.finditer(text)]
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


@lru_cache(maxsize=4096)
def _ascii_char(c: str) -> str:
    if c.isdecimal():  # any script's digit: ０, ٣, ३ …
        return str(unicodedata.decimal(c))
    compat = unicodedata.normalize("NFKC", c)  # full-width letters, ＠, ．, no-break space …
    return compat if len(compat) == 1 else c


def _matching_copy(text: str) -> str:
    """`text` with each character replaced by its ASCII or compatibility form when that is one character, so
    the copy has the same length and a match in it is the same span of `text`."""
    return "".join(_ascii_char(c) for c in unicodedata.normalize("NFC", text))


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
    m = _matching_copy(text)  # what every detector reads; spans index both
    name, address = name and _matching_copy(name), address and _matching_copy(address)
    spans = _known_spans(m, name, address) + _regex_spans(m) + _name_spans(m)
    if use_ner:
        spans += _ner_spans(m)
    # Overlapping spans are joined, so no part of anything detected is left; the longer one names the union.
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for a, b, kind in spans:
        if kept and a < kept[-1][1]:
            ka, kb, kkind = kept[-1]
            kept[-1] = (ka, max(kb, b), kkind if kb - ka >= b - a else kind)
        else:
            kept.append((a, b, kind))
    out, pos, found = [], 0, []
    for a, b, kind in kept:
        out.append(text[pos:a])
        out.append(LABELS[kind])
        found.append((kind, text[a:b]))
        pos = b
    out.append(text[pos:])
    return Redaction("".join(out), found)


def leaks(text: str, name: str | None = None, address: str | None = None) -> set[str]:
    """What must not be published in `text`: any phone number, e-mail (plain or spelled out), ID number (plain
    or grouped) or short address ("12 ngõ 5 Huế"), and the sender's own name or address, seen through the same
    disguises as `redact`, whose detectors these are: a text `redact` produced has none of them."""
    m = _matching_copy(text or "")
    name, address = name and _matching_copy(name), address and _matching_copy(address)
    kinds = {kind for _, _, kind in _regex_spans(m) if kind != "address"}
    kinds |= {kind for _, _, kind in _known_spans(m, name, address)}
    if SHORT_ADDRESS.search(m):
        kinds.add("address")
    return kinds
