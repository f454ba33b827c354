"""Parse one record of the national public-service portal (dichvucong.gov.vn) into a `Procedure`.

The crawled records keep the portal's tables flattened into single strings with no separators
(`Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phí...`). The parsers below split them back
into rows using the shapes that occur in the data. They are deliberately conservative: every number in
the output (fee amounts, time values, legal document numbers) is a substring of the source field (or of
the page section read instead, see "Page text"), numbers never move from one channel to another, and text
that cannot be split with confidence is kept as written.

Decisions on ambiguous shapes (see also the tests):

* Placeholders (`Không có thông tin`, `Không`, `Không có`, `--`, ...) become "" in scalar fields. For
  `yeu_cau_dieu_kien` this means "Không" (no special condition) is stored as "" as well: the model has no
  way to say "explicitly none", and the bot treats "" as "no conditions listed".
* Channels: the time column is `<value>[ <unit>]`, `Không có thông tin`, or free text (`Không quy định`).
  When the unit was lost and the value is glued to a fee amount (`Trực tuyến120 VNĐ`), the shortest time
  prefix that leaves a well-formed amount is used (time "1", fee "20 VNĐ"); the fee text is kept as written.
  The fee column is `Miễn phí`, `Không có thông tin` or `<amount> <currency>`, optionally followed by a
  parenthesised note; the rest of the row is the description. `fees` lists every money amount found in the
  fee text (amount followed by a currency, or a grouped amount after a `Phí:` label or before `/lần`).
  When the time cell says nothing, the time is the lines (or sentences) of the description that state one
  (`trong thời hạn 07 ngày làm việc, kể từ ...`), else of the fee cell's note; when the fee cell says
  nothing, the fee is the description's lines naming a fee with its amount (`Lệ phí : 20.000 Đồng (...)`).
  Both are copied as written, list marks dropped.
* Documents: the quantity is `<digit> bản chính[,<digit> bản sao]` glued to the end of a row; a single digit
  is assumed (so `...ngày 24/7/20231 bản chính` keeps the year intact). A form file name (`...docx`) glued
  before the quantity is split off at the most plausible boundary; several forms are joined with "; ".
  Multiple tables in one record are preceded by a heading, stored in `Document.group` ("--" becomes "").
  A field without the table header (crawler misalignment) yields no documents.
* Legal basis: a row ends with its number; the number is recognised by its shape and by the fact that the
  next title starts right after it. When the title ends with the same number (`Luật 54/2014/QH1354/2014/QH13`)
  the repeated part is used. When no number can be recognised the text is kept as a title with number "".
* Page text: `raw_text` is the whole page. The crawl cut it into fields at the first occurrence of each
  section heading's words anywhere, so a heading quoted inside a section (`mục 12.3 (Thành phần hồ sơ)` in
  the steps) cut that section short and shifted the rest into the next field (a documents field holding
  step text). Where a field differs from the page's own section, found by looking for each heading only
  after the previous one, the section is read instead. `page_code` is the code the page shows, and
  `page_gaps` the answer aspects the page states but the record lacks (none in the current crawl).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from knowledge.model import Channel, Document, Fee, LegalBasis, Procedure

__all__ = [
    "RecordError",
    "is_portal_record",
    "page_code",
    "page_gaps",
    "page_sections",
    "page_states",
    "parse_portal_record",
]


class RecordError(ValueError):
    """A portal record that cannot be parsed; names the record's code and the offending field."""

    def __init__(self, code: str, field: str, message: str):
        self.code = code
        self.field = field
        self.message = message
        super().__init__(f"record {code}: field {field!r}: {message}")


# --------------------------------------------------------------------------------------------- text

_UPPER = "A-ZÀÁẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬĐÈÉẺẼẸÊẾỀỂỄỆÌÍỈĨỊÒÓỎÕỌÔỐỒỔỖỘƠỚỜỞỠỢÙÚỦŨỤƯỨỪỬỮỰỲÝỶỸỴ"
_LOWER = "a-zàáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ"

_HSPACE = re.compile(r"[^\S\n]+")
# Zero-width characters, soft hyphens and private-use glyphs (Word bullets such as U+F0FC) carry no text.
_DROP_CHARS = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\ue000-\uf8ff]")

_PLACEHOLDERS = frozenset(
    {"", "-", "--", "---", ".", "không", "không có", "không có thông tin", "chưa có thông tin", "khồng"}
)


def _nfc(s: str) -> str:
    return _DROP_CHARS.sub("", unicodedata.normalize("NFC", s))


def _text(s: str) -> str:
    """NFC, whitespace runs inside each line collapsed, lines trimmed, blank lines dropped."""
    s = _nfc(s).replace("\r\n", "\n").replace("\r", "\n")
    lines = (_HSPACE.sub(" ", line).strip() for line in s.split("\n"))
    return "\n".join(line for line in lines if line)


def _line(s: str) -> str:
    """NFC, all whitespace (newlines included) collapsed to single spaces, trimmed."""
    return " ".join(_nfc(s).split())


def _is_placeholder(s: str) -> bool:
    key = s.casefold().rstrip(".").strip()
    return key in _PLACEHOLDERS or not key.strip("-–—_*.,;: ")


def _scalar(s: str) -> str:
    s = _text(s)
    return "" if _is_placeholder(s) else s


# ------------------------------------------------------------------------------------- furniture

# The page furniture after the result: `Từ khóa...Mô tả...Chọn cơ quan thực hiện...Nộp hồ sơ`. ("Nộp hồ sơ" alone
# is not a marker: it starts real sentences in conditions.)
_FURNITURE = re.compile(r"Từ khóa|Từ khoá|Chọn cơ quan thực hiện")
_RESULT_CODE = re.compile(r"Mã\s*:\s*(?:[A-Za-z0-9.\-]*\d|[A-Z]{2,}(?![" + _LOWER + r"]))")


def _cut_furniture(s: str) -> str:
    m = _FURNITURE.search(s)
    return s[: m.start()] if m else s


def _parse_result(raw: str) -> str:
    s = _cut_furniture(_nfc(raw))
    parts = [_text(p).rstrip(";").rstrip() for p in _RESULT_CODE.split(s)]
    return "; ".join(p for p in parts if not _is_placeholder(p))


# ------------------------------------------------------------------------------------------ steps

# `Bước 1:` at the start of a line or a sentence, possibly after a list mark (`a) Bước 1:`, `- Bước 2.`).
_STEP_MARK = re.compile(
    r"(?:^|(?<=[.;:!?]))[ \t]*(?:[a-zđ]\)[ \t]*|[-+*•][ \t]*)?Bước[ \t]*\d+[ \t]*[:.\-–)]?", re.MULTILINE
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def _parse_steps(raw: str) -> list[str]:
    s = _nfc(raw).replace("\r\n", "\n").replace("\r", "\n")
    if _STEP_MARK.search(s):
        chunks = _STEP_MARK.split(s)
    elif _PARAGRAPH.search(s):
        chunks = _PARAGRAPH.split(s)
    else:
        chunks = s.split("\n")
    steps = (_text(c) for c in chunks)
    return [st for st in steps if not _is_placeholder(st)]


# --------------------------------------------------------------------------------------- channels

_CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_CHANNEL_NAMES = ("Dịch vụ bưu chính", "Trực tuyến", "Trực tiếp")
_CHANNEL_RE = re.compile("|".join(_CHANNEL_NAMES))
_NO_INFO = "Không có thông tin"
_TIME_UNITS = ("Ngày làm việc", "Ngày", "Giờ", "Tháng", "Năm", "Tuần", "Phút")
_TIME = re.compile(r"(?P<v>\d+(?:[.,]\d+)?)(?:[ \t]*(?P<u>" + "|".join(_TIME_UNITS) + r"))?")
_HEAD_CURRENCY = r"Việt Nam Đồng|VNĐ|VND|USD|Đồng|đồng"
_HEAD_AMOUNT = re.compile(r"(?P<a>\d[\d.,]*)[ \t]?(?P<c>" + _HEAD_CURRENCY + r")(?![" + _LOWER + r"])")
_WELL_FORMED_AMOUNT = re.compile(r"0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}(?:\.\d{3})+|[1-9]\d*")
_TIME_VALUE = re.compile(r"\d+(?:[.,]\d+)?")
_FEE_START = re.compile(r"Miễn phí|" + _NO_INFO + r"|\d[\d.,]*[ \t]?(?:" + _HEAD_CURRENCY + ")")

# Money amounts inside fee text.
_AMOUNT = r"(?<![\w.,/])(?P<a>\d+(?:[.,]\d+)*)(?![.,/]?\d)"
_CURRENCY = r"(?:triệu|tỷ|nghìn|ngàn)\s+(?:đồng|Đồng)|Việt Nam Đồng|Việt Nam đồng|VNĐ|VND|vnđ|vnd|USD|Đồng|đồng|đ|Đ"
_MONEY = re.compile(_AMOUNT + r"[ \t]*(?:/[^\W\d_]+[ \t]*)?(?P<u>" + _CURRENCY + r")(?![" + _LOWER + _UPPER + r"\w])")
_GROUPED = r"(?<![\w.,/])(?P<a>\d{1,3}(?:[.,]\d{3})+)(?![.,]?\d)"
_LABELLED_MONEY = re.compile(r"(?:[Pp]hí|[Mm]ức thu)\s*:\s*" + _GROUPED)
_PER_UNIT_MONEY = re.compile(_GROUPED + r"(?=/[^\W\d_])")
_CLAUSE_SPLIT = re.compile(r";|\n|(?<=[.)])\s+(?=[-+*•]|[" + _UPPER + r"])|\s+[-+•]\s+")


def _is_row_start(s: str, i: int, name: str) -> bool:
    j = i + len(name)
    if j >= len(s):
        return False
    nxt = s[j]
    if nxt.isdigit():
        return True
    if not nxt.isupper():
        return False
    if s.startswith(_NO_INFO, j):
        return True
    # Free-text time column ("Không quy định", "Hệ thống ... điện tử."): a fee must follow on the same line.
    window = s[j : j + 200].split("\n", 1)[0]
    m = _FEE_START.search(window)
    return m is not None and m.start() > 0 and "Trực" not in window[: m.start()]


def _split_channel_rows(body: str) -> list[tuple[str, str]]:
    starts = [(m.start(), m.group()) for m in _CHANNEL_RE.finditer(body) if _is_row_start(body, m.start(), m.group())]
    rows = []
    for k, (pos, name) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(body)
        rows.append((name, body[pos + len(name) : end]))
    return rows


def _split_time_amount(run: str) -> tuple[str, str] | None:
    """`120` glued before a currency: the shortest time prefix leaving a well-formed amount."""
    for k in range(1, len(run)):
        t, a = run[:k], run[k:]
        if _TIME_VALUE.fullmatch(t) and _WELL_FORMED_AMOUNT.fullmatch(a):
            return t, a
    return None


def _balanced_end(s: str, i: int) -> int:
    """Index just past the ')' closing the '(' at s[i]; -1 when it never closes."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def _note_end(s: str, i: int) -> int:
    end = _balanced_end(s, i)
    if end >= 0:
        return end
    # Unbalanced note: end at the first ')' glued to what looks like the start of the description.
    for m in re.finditer(r"\)(?=[" + _UPPER + r"\-+\d])", s[i:]):
        return i + m.end()
    last = s.rfind(")", i)
    return last + 1 if last >= 0 else len(s)


def _clauses(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSE_SPLIT.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _clause_text(text: str, pos: int, spans: list[tuple[int, int]]) -> str:
    for a, b in spans:
        if a <= pos < b:
            return _line(text[a:b]).lstrip("-+*• ").strip()
    return _line(text)


def _extract_fees(fee_text: str) -> tuple[Fee, ...]:
    found: list[tuple[int, str, str]] = []
    taken: list[tuple[int, int]] = []
    for rx, has_unit in ((_MONEY, True), (_LABELLED_MONEY, False), (_PER_UNIT_MONEY, False)):
        for m in rx.finditer(fee_text):
            span = m.span("a")
            if any(a <= span[0] < b for a, b in taken):
                continue
            taken.append(span)
            found.append((span[0], m.group("a"), m.group("u") if has_unit else ""))
    spans = _clauses(fee_text)
    fees: list[Fee] = []
    for pos, amount, unit in sorted(found):
        fee = Fee(amount=amount, unit=_line(unit), text=_clause_text(fee_text, pos, spans))
        if fee not in fees:
            fees.append(fee)
    return tuple(fees)


# A time written out in a description: a count and a unit, not part of a date (`ngày 15 tháng 01 năm 2022`).
_TIME_PHRASE = re.compile(
    r"(?<![\d/.,])(?<!ngày )(?<!tháng )\d{1,3}(?:[.,]\d+)?[ \t]*(?:ngày|giờ|tháng|năm|tuần|phút)(?![^\W\d_])",
    re.IGNORECASE,
)
# Of the lines stating a time, those about the handling time, when there are any.
_TIME_LABEL = re.compile(r"thời hạn|thời gian|kể từ|trong vòng|giải quyết|trả kết quả", re.IGNORECASE)
_FEE_WORD = re.compile(r"phí(?![^\W\d_])", re.IGNORECASE)


def _states_time(line: str) -> bool:
    return _TIME_PHRASE.search(line) is not None


def _states_fee(line: str) -> bool:
    """A fee named with its amount in the same clause: `Lệ phí : 20.000 Đồng (...)`, `Phí thẩm định: 1.500.000/lần`."""
    for m in _FEE_WORD.finditer(line):
        clause = line[m.start() :].split(";", 1)[0][:100]
        if _MONEY.search(clause) or _LABELLED_MONEY.search(clause) or _PER_UNIT_MONEY.search(clause):
            return True
    return False


_SENTENCE_SPLIT = re.compile(r"\n|(?<=[.!?])\s+(?=[" + _UPPER + r"])")


def _stated_lines(text: str, states, preferred: re.Pattern | None = None) -> str:
    """The lines or sentences of `text` for which `states` holds (list marks and a stray closing bracket
    dropped, each once), those matching `preferred` when there are any; "" when none. Copied as written,
    so every number is the record's."""
    lines: list[str] = []
    for piece in _SENTENCE_SPLIT.split(text):
        line = _line(piece).lstrip("-+*• ").strip()
        if line.endswith(")") and line.count(")") > line.count("("):
            line = line[:-1].rstrip()
        if line and states(line) and line not in lines:
            lines.append(line)
    if preferred is not None:
        lines = [x for x in lines if preferred.search(x)] or lines
    return "\n".join(lines)


def _parse_channel_row(name: str, row: str) -> Channel:
    s = row.lstrip(" \t")
    time = time_value = time_unit = ""
    i = 0
    glued = _HEAD_AMOUNT.match(s)
    tm = _TIME.match(s)
    if glued:
        # Digits straight before a currency: the time lost its unit and is glued to the amount
        # (`1` + `20 VNĐ`), or there is no time at all.
        split = _split_time_amount(glued.group("a"))
        if split:
            time = time_value = split[0]
            i = len(split[0])
    elif tm:
        time, time_value, time_unit = tm.group(), tm.group("v"), tm.group("u") or ""
        i = tm.end()
    elif s.startswith(_NO_INFO):
        i = len(_NO_INFO)
    else:
        m = _FEE_START.search(s)
        if m and m.start() > 0 and "\n" not in s[: m.start()]:
            time = _line(s[: m.start()])
            i = m.start()
    s = s[i:].lstrip(" \t")

    fee = fee_for_amounts = ""
    j = 0
    head = _HEAD_AMOUNT.match(s)
    if s.startswith("Miễn phí"):
        j = len("Miễn phí")
    elif head:
        j = head.end()
    elif s.startswith(_NO_INFO):
        j = len(_NO_INFO)
    if j and not s.startswith(_NO_INFO) and s[j : j + 1] == "(":
        j = _note_end(s, j)
    if j and not s.startswith(_NO_INFO):
        fee_for_amounts = s[:j]
        fee = _text(fee_for_amounts)
    description = _scalar(s[j:])
    if _is_placeholder(time):
        time = ""
    # A cell saying "Không có thông tin" while the row states it elsewhere: those lines, as written.
    if not time:  # in the description, else in the fee cell's note (1.003198)
        time = _stated_lines(description, _states_time, _TIME_LABEL) or _stated_lines(fee, _states_time, _TIME_LABEL)
    if not fee:
        fee = fee_for_amounts = _stated_lines(description, _states_fee)
    return Channel(
        name=name,
        time=time,
        time_value=time_value,
        time_unit=time_unit,
        fee=fee,
        fees=_extract_fees(_nfc(fee_for_amounts)) if fee_for_amounts else (),
        description=description,
    )


def _parse_channels(raw: str) -> list[Channel]:
    s = _nfc(raw).replace("\r\n", "\n")
    if s.startswith(_CHANNEL_HEADER):
        s = s[len(_CHANNEL_HEADER) :]
    elif _CHANNEL_HEADER in s:
        s = s.split(_CHANNEL_HEADER, 1)[1]
    return [_parse_channel_row(name, row) for name, row in _split_channel_rows(s)]


# -------------------------------------------------------------------------------------- documents

_DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
_QTY = re.compile(r"(?P<pre>\d*)(?P<q>\d bản chính(?:,\d bản sao(?! [^\W\d_]))?)(?! [^\W\d_])")


def _quantities(part: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each quantity, the one-digit count glued after the row's text.

    Digits before the count belong to the name (`...ngày 24/7/20231 bản chính`, `Mẫu số 181 bản chính`),
    except a leading-zero count written inside a name (`Hợp đồng (01 bản chính)`, `: 01 bản chính1 bản chính`).
    """
    out = []
    for m in _QTY.finditer(part):
        if m.group("pre") == "0":
            continue
        out.append((m.start("q"), m.end("q"), m.group("q")))
    return out


_FORM_EXT = re.compile(r"\.(?:docx|doc|pdf|xlsx|xls|rar|zip)(?![a-z])")
_UP = set("ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬĐÈÉẺẼẸÊẾỀỂỄỆÌÍỈĨỊÒÓỎÕỌÔỐỒỔỖỘƠỚỜỞỠỢÙÚỦŨỤƯỨỪỬỮỰỲÝỶỸỴ")


def _strong_boundary(t: str, p: int) -> bool:
    """A name/form boundary marked by punctuation glued to the next word (`...2021;Mus08.docx`)."""
    prev, cur = t[p - 1], t[p]
    if cur.isspace():
        return False
    if prev in ";:":
        return True
    if prev == ")":
        return cur not in ".,;:)-"
    if prev == ",":  # `...bổ sung),PL 01 TT62.docx`, but not `1,500`
        return cur.isalpha()
    if prev != "." or not cur.isalnum() or p < 2:
        return False
    if cur.isalpha() and cur.islower():  # `...NĐ-CP.mau so 12.doc`: no sentence goes on like this
        return True
    before = t[p - 2]
    if before == ")":
        return True
    if before.isdigit():  # `27/12/2021.Mus09.docx`, but not `Mẫu số 06.QLT.docx`
        return cur in _UP and p + 1 < len(t) and t[p + 1].islower()
    if before.isalpha():  # `Bộ Công an.NA5.doc`, but not `Phụ lục V.VI.docx` or `TP.HCM`
        token = t[: p - 1].rsplit(None, 1)[-1] if t[: p - 1].strip() else ""
        return len(token) >= 4 or any(c.islower() for c in token)
    return False


def _weak_boundary(t: str, p: int) -> bool:
    """A glued case change between name and form (`...cá nhânMẫu TP-QTV-06.docx`)."""
    prev, cur = t[p - 1], t[p]
    nxt = t[p + 1] if p + 1 < len(t) else ""
    if cur not in _UP or t[p - 1 : p + 2] == "TTg":  # QĐ-TTg is a document number, not a glue
        return False
    if prev.isalpha() and prev.islower():
        return True
    return (prev in _UP or prev.isdigit()) and nxt.isalpha() and nxt.islower()


_VOWELS = set("aăâeêioôơuưyáắấéếíóốớúứýàằầèềìòồờùừỳảẳẩẻểỉỏổởủửỷãẵẫẽễĩõỗỡũữỹạặậẹệịọộợụựỵ")
_FINALS = ("ng", "nh", "ch", "c", "m", "n", "p", "t", "")
_INITIALS = frozenset(
    (
        "b",
        "c",
        "ch",
        "d",
        "đ",
        "g",
        "gh",
        "gi",
        "h",
        "k",
        "kh",
        "l",
        "m",
        "n",
        "ng",
        "ngh",
        "nh",
        "p",
        "ph",
        "qu",
        "r",
        "s",
        "t",
        "th",
        "tr",
        "v",
        "x",
    )
)
_LOWER_RUN = re.compile(r"[" + _LOWER + r"]+")


def _syllable_glue(t: str, lo: int, hi: int) -> list[int]:
    """Positions where two Vietnamese syllables are glued without a space (`quy địnhvăn bản`)."""
    out = []
    for m in _LOWER_RUN.finditer(t, lo, hi):
        word = m.group()
        if word.isascii():
            continue  # file names such as `MauBankhai...` are not Vietnamese words
        groups = [(g.start(), g.end()) for g in re.finditer("[" + "".join(sorted(_VOWELS)) + "]+", word)]
        for (_, end1), (start2, _) in zip(groups, groups[1:], strict=False):
            cluster = word[end1:start2]
            for final in _FINALS:
                if cluster.startswith(final) and cluster[len(final) :] in _INITIALS:
                    out.append(m.start() + end1 + len(final))
                    break
    return out


# Generic form names the portal glues after a lowercase word, where no case change marks the boundary.
_GENERIC_FORMS = ("văn bản đề nghị",)


def _form_start(row: str, ext_start: int) -> int:
    """Where the first form file name begins, given where its extension begins."""
    for generic in _GENERIC_FORMS:
        k = row.rfind(generic, max(0, ext_start - 80), ext_start)
        if k > 0 and not row[k - 1].isspace():
            return k
    lo = max(1, ext_start - 150)
    strong = [p for p in range(lo, ext_start) if _strong_boundary(row, p) and row[:p].strip(" .,;:-+*")]
    if strong:
        return strong[-1]
    lo = max(lo, row.rfind(". ", 0, ext_start) + 2)
    weak = [p for p in range(lo, ext_start) if _weak_boundary(row, p)] + _syllable_glue(row, lo, ext_start)
    if weak:
        return min(weak)
    return row.rfind(" ", 0, ext_start) + 1


def _split_name_form(row: str) -> tuple[str, str]:
    """`<name><form>.docx[<form>.docx...]` -> (name, forms joined with "; ")."""
    exts = list(_FORM_EXT.finditer(row))
    if not exts or row[exts[-1].end() :].strip():
        return row, ""
    first = len(exts) - 1
    while first > 0:
        gap = row[exts[first - 1].end() : exts[first].start()]
        if not (0 < len(gap) <= 150 and not gap[0].isspace() and "\n" not in gap):
            break
        first -= 1
    start = _form_start(row, exts[first].start())
    cuts = [start] + [m.end() for m in exts[first:]]
    forms = [_line(row[cuts[k] : cuts[k + 1]]) for k in range(len(cuts) - 1)]
    return row[:start], "; ".join(f for f in forms if f)


def _clean_doc_name(s: str) -> str:
    return _line(s).lstrip(".,;").strip()


def _parse_documents(raw: str) -> list[Document]:
    s = _nfc(raw).replace("\r\n", "\n")
    if _DOC_HEADER not in s:
        return []
    parts = s.split(_DOC_HEADER)
    group = _line(parts[0])
    docs: list[Document] = []
    for k, part in enumerate(parts[1:], start=1):
        last = k == len(parts) - 1
        group = "" if _is_placeholder(group) else group
        pos = 0
        for start, end, quantity in _quantities(part):
            name, form = _split_name_form(part[pos:start].lstrip(" \t\n.,;"))
            name = _clean_doc_name(name)
            if name or form:
                docs.append(Document(name=name, form=form, quantity=quantity, group=group))
            pos = end
        rest = _clean_doc_name(part[pos:])
        if last:
            if rest and not _is_placeholder(rest):
                name, form = _split_name_form(rest)
                docs.append(Document(name=_clean_doc_name(name), form=form, group=group))
        else:
            group = rest
    return docs


# ------------------------------------------------------------------------------------ legal basis

_LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
_U, _L = _UPPER, _LOWER
# Issuer codes that end a legal document number (NĐ-CP, TT-BTC, QH13, QĐ-TTg, TTLT-BCA-BYT-BTC). Known codes
# let a number end where the next title starts even when they are glued (`TT-BTCNghị định`, `NĐ-CPsửa đổi`).
_ISSUERS = sorted(
    (
        "NĐ",
        "CP",
        "TT",
        "TTLT",
        "TTg",
        "QĐ",
        "NQ",
        "BTC",
        "BTP",
        "BCA",
        "BNNMT",
        "NHNN",
        "BGTVT",
        "BXD",
        "BTNMT",
        "BNNPTNT",
        "BHXH",
        "BKHĐT",
        "UBND",
        "BLĐTBXH",
        "PL",
        "HĐND",
        "BKHCN",
        "BQP",
        "BNV",
        "BYT",
        "ND",
        "BCT",
        "BVHTTDL",
        "CSXH",
        "BTTTT",
        "BNG",
        "VBHN",
        "VPQH",
        "NV",
        "BKH",
        "BCĐ",
        "BGDĐT",
        "BNN",
        "BTM",
        "BQLDA",
        "CTN",
        "KTNN",
        "TANDTC",
        "VKSNDTC",
        "TLĐ",
        "BTS",
        "BGD",
        "C",
    ),
    key=len,
    reverse=True,
)
_ISSUER = r"(?>(?:UBTVQH|QH)\d{1,2}|" + "|".join(_ISSUERS) + r")"
_GENERIC_ISSUER = r"[A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ][A-ZĐ0-9]*)*(?=[\s,.;:)]|$)"
_NUMBER = (
    r"(?<!\d)(?:(?P<lead>\d+(?:\.\d+)?)(?:/\d{4})?/(?>" + _ISSUER + r"(?:-" + _ISSUER + r")*+|" + _GENERIC_ISSUER + r")"
    r"|(?<!/)(?P<lead2>\d+)/\d{4}(?![\d/])"
    r"|(?<!/)(?P<lead3>\d+)-(?>" + _ISSUER + r"))"
)
# What follows a number that ends a row: the end, the next title glued to it, or (checked in code) a space and
# a capitalised title when the number itself is glued to its own title. Not `ngày`/`của`, which go on a title.
_ROW_END = re.compile(_NUMBER + r"(?=[.\s]*$|[^\W\d_](?<!n)|\s+[" + _U + r"]|n(?!gày))(?!của|năm|và )")
_BARE_NUMBER_ROW_END = re.compile(
    r"(?<=\S)(?:Luật|Nghị định|Thông tư|Quyết định) số (?P<num>\d+)(?=[" + _U + r"][" + _L + r"])"
)
# Misspelt numbers written at the end of the table (`198/2016/TT/BTC`, `165/2024/NĐ- CP`, `31/2025/TT_BCA`).
_LOOSE_LAST_NUMBER = re.compile(r"(?<=\S)(?<!\d)(?P<num>\d+/\d{4}/[A-ZĐ][A-ZĐ0-9_/\- ]{0,20}?(?:TTg|[A-ZĐ0-9]))[.\s]*$")
# `Luật Hải quan 201454`: a year glued to a bare number at the end of the table.
_YEAR_GLUED_NUMBER = re.compile(r"(?<=\D)(?:19|20)\d\d(?P<num>\d{1,3})\s*$")
_DOC_TYPE_SUFFIX = re.compile(r"(?<=\S)(?:Luật|Nghị định|NĐ|Thông tư|TT|Quyết định|QĐ|Nghị quyết|NQ)(?: số)?\s*$")
_DOC_TYPES = frozenset({"Luật", "Nghị định", "Thông tư", "Quyết định", "Nghị quyết"})
_YEAR = re.compile(r"19[4-9]\d|20[0-4]\d")


def _split_lead(title: str, number: str, lead: str) -> tuple[str, str]:
    """Fix a number whose leading digits absorbed the end of the title (`...QH1354/2014/QH13`)."""
    whole = title + number
    # The title often ends with the same number: `Luật 54/2014/QH13` + `54/2014/QH13`.
    for k in range(len(lead)):
        tail = number[k:]
        if whole[: -len(tail)].endswith(tail):
            return whole[: -len(tail)], tail
    # `Luật Khiếu nại năm 2011` + `02/2011/QH13`.
    if len(lead) > 4 and _YEAR.fullmatch(lead[:4]):
        return title + number[:4], number[4:]
    return title, number


def _legal_rows(s: str) -> list[tuple[str, str]]:
    ends: list[tuple[int, int, str]] = []
    for m in _ROW_END.finditer(s):
        after = s[m.end() :]
        # `...Bộ Tư pháp18/2026/NĐ-CP Nghị định ...`: before a space, a row end only when glued to its title.
        if after[:1].isspace() and after.strip() and (m.start() == 0 or s[m.start() - 1].isspace()):
            continue
        ends.append((m.start(), m.end(), m.group("lead") or m.group("lead2") or m.group("lead3")))
    for m in _BARE_NUMBER_ROW_END.finditer(s):
        ends.append((m.start("num"), m.end("num"), ""))
    ends.sort()
    rows: list[tuple[str, str]] = []
    pos = 0
    for start, end, lead in ends:
        if start < pos:
            continue
        title, number = s[pos:start], s[start:end]
        if lead:
            title, number = _split_lead(title, number, lead)
        rows.append((title, number))
        pos = end
    rest = s[pos:]
    if rest.strip():
        m = _LOOSE_LAST_NUMBER.search(rest) or _YEAR_GLUED_NUMBER.search(rest)
        if m and m.re is _LOOSE_LAST_NUMBER:
            rows.append(_split_lead(rest[: m.start("num")], m.group("num"), m.group("num").split("/")[0]))
        elif m:
            rows.append((rest[: m.start("num")], rest[m.start("num") : m.end("num")]))
        else:
            rows.append((rest, ""))
    return rows


def _parse_legal_basis(raw: str) -> list[LegalBasis]:
    s = _nfc(raw)
    if _LEGAL_HEADER not in s:
        return []
    s = " ".join(s.split(_LEGAL_HEADER, 1)[1].splitlines())
    out: list[LegalBasis] = []
    for raw_title, raw_number in _legal_rows(s):
        title = _line(_DOC_TYPE_SUFFIX.sub("", raw_title)) or _line(raw_title)
        number = _line(raw_number)
        if _is_placeholder(title) and not number:
            continue
        basis = LegalBasis(title=title, number=number)
        # The number column sometimes repeats the title: `Nghị định 101/2024/NĐ-CPNghị định 101/2024/NĐ-CP`.
        if out and out[-1] == basis and title in _DOC_TYPES:
            out[-1] = LegalBasis(title=f"{title} {number}", number=number)
            continue
        out.append(basis)
    return out


# ------------------------------------------------------------------------------------------ page

# The page's section headings in page order, each with the crawl field that should hold that section.
_PAGE_SECTIONS = (
    ("trinh_tu_thuc_hien", "Trình Tự Thực Hiện"),
    ("cach_thuc_thuc_hien", "Cách Thức Thực Hiện"),
    ("thanh_phan_ho_so", "Thành phần hồ sơ"),
    ("can_cu_phap_ly", "Căn cứ pháp lý"),
    ("co_quan_thuc_hien", "Cơ quan thực hiện"),
    ("yeu_cau_dieu_kien", "Yêu cầu, điều kiện thực hiện"),
    ("ket_qua_xu_ly", "Kết quả xử lý"),
)
# The code the page shows; the same rule as ../shared/eval/score.py uses to tell damaged records.
_PAGE_CODE = re.compile(r"Mã thủ tục[:\s]*([0-9]\.[0-9]{6})")
_RESULT_CODES = re.compile(r"\bKQ\.[\w.]+")
_FEE_STATED = re.compile(r"Miễn phí|không thu (?:lệ )?phí|phí\s*:", re.IGNORECASE)
# What the record holds for each aspect of an answer (knowledge/answer.py says "chưa có thông tin" without it).
_RECORD_HAS = {
    "documents": lambda p: bool(p.documents),
    "fee": lambda p: any(c.fee for c in p.channels),
    "time": lambda p: any(c.time for c in p.channels),
    "place": lambda p: bool(p.agency or p.authority or p.address or p.channels),
    "steps": lambda p: bool(p.steps),
    "conditions": lambda p: bool(p.conditions),
    "legal": lambda p: bool(p.legal_basis),
    "online": lambda p: bool(p.channels),
    "result": lambda p: bool(p.result),
}


def page_sections(raw_text: str) -> dict[str, str]:
    """The page text (`raw_text`) cut at its section headings, by crawl field name.

    The crawl cut the page at the first occurrence of a heading's words anywhere, so `(Thành phần hồ sơ)`
    inside the steps cut them short and shifted their end into the documents field (2.000809). Looking for
    each heading only after the previous one finds the sections as the page shows them."""
    text = _nfc(raw_text)
    marks, pos = [], 0
    for key, heading in _PAGE_SECTIONS:
        i = text.find(heading, pos)
        if i >= 0:
            marks.append((key, i, i + len(heading)))
            pos = i + len(heading)
    if not marks:
        return {}
    ends = [start for _, start, _ in marks[1:]] + [len(text)]
    return {key: text[body:end] for (key, _, body), end in zip(marks, ends, strict=True)}


def page_code(raw_text: str, code: str) -> str:
    """The procedure code the page shows: `code` itself when named there, else the other one named, or ""."""
    named = _PAGE_CODE.findall(_nfc(raw_text))
    return code if code in named else (named[0] if named else "")


def page_states(sections: dict[str, str]) -> set[str]:
    """The answer aspects the page says something about, read from its text (not from the parsed fields)."""

    def has(key: str, header: str = "") -> bool:
        text = sections.get(key, "").replace(header, " ") if header else sections.get(key, "")
        return not _is_placeholder(_line(_RESULT_CODES.sub(" ", text)))

    rows = sections.get("cach_thuc_thuc_hien", "").replace(_CHANNEL_HEADER, " ")
    channels = _CHANNEL_RE.search(rows) is not None
    states = {
        "documents": has("thanh_phan_ho_so", _DOC_HEADER),
        "fee": bool(_FEE_STATED.search(rows) or _MONEY.search(rows)),
        "time": _TIME_PHRASE.search(rows) is not None,
        "place": channels or has("co_quan_thuc_hien"),
        "steps": has("trinh_tu_thuc_hien"),
        "conditions": not _is_placeholder(_line(_cut_furniture(sections.get("yeu_cau_dieu_kien", "")))),
        "legal": has("can_cu_phap_ly", _LEGAL_HEADER),
        "online": channels,
        "result": bool(_parse_result(sections.get("ket_qua_xu_ly", ""))),
    }
    return {aspect for aspect, stated in states.items() if stated}


def page_gaps(sections: dict[str, str], proc: Procedure) -> list[str]:
    """Aspects the page states that the record lacks: a citizen would be told "chưa có thông tin"."""
    stated = page_states(sections)
    return [aspect for aspect, has in _RECORD_HAS.items() if aspect in stated and not has(proc)]


def _squash(s: str) -> str:
    return "".join(_nfc(s).split())


# ---------------------------------------------------------------------------------------- record

_CODE = re.compile(r"\d+\.\d+")
_SCALARS = {
    "detail_url": "url",
    "so_quyet_dinh": "decision",
    "loai_thu_tuc": "kind",
    "linh_vuc": "domain",
    "doi_tuong_thuc_hien": "audience",
    "co_quan_thuc_hien": "agency",
    "co_quan_co_tham_quyen": "authority",
    "dia_chi_tiep_nhan": "address",
    "co_quan_duoc_uy_quyen": "delegated_agency",
    "co_quan_phoi_hop": "coordinating_agency",
    "thu_tuc_lien_quan": "related",
    "_source_dir": "ministry",
}
_STRING_FIELDS = (
    "ma_thu_tuc",
    "ten_thu_tuc",
    *_SCALARS,
    "cap_thuc_hien",
    "trinh_tu_thuc_hien",
    "cach_thuc_thuc_hien",
    "thanh_phan_ho_so",
    "can_cu_phap_ly",
    "yeu_cau_dieu_kien",
    "ket_qua_xu_ly",
    "raw_text",
)


def is_portal_record(raw: dict) -> bool:
    """True when the dict looks like the portal format (has `ma_thu_tuc` and `ten_thu_tuc`)."""
    return isinstance(raw, dict) and "ma_thu_tuc" in raw and "ten_thu_tuc" in raw


def parse_portal_record(raw: dict) -> Procedure:
    """One portal record (a dict from procedures.jsonl) as a `Procedure`; raises `RecordError` if bad."""
    if not isinstance(raw, dict):
        raise RecordError("?", "<record>", f"expected a JSON object, got {type(raw).__name__}")
    raw_code = raw.get("ma_thu_tuc")
    code = _line(raw_code) if isinstance(raw_code, str) else ""
    label = code or "?"
    for key in _STRING_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise RecordError(label, key, f"expected a string, got {type(value).__name__}")
    if not code:
        raise RecordError("?", "ma_thu_tuc", "missing or blank procedure code")
    if not _CODE.fullmatch(code):
        raise RecordError(code, "ma_thu_tuc", f"not a procedure code like 1.001193: {code!r}")
    name = _line(raw.get("ten_thu_tuc") or "")
    if _is_placeholder(name):
        raise RecordError(code, "ten_thu_tuc", "missing or blank procedure name")

    sections = page_sections(raw.get("raw_text") or "")

    def get(key: str) -> str:
        value = raw.get(key) or ""
        own = sections.get(key)
        # The crawl cut this field at a heading's words inside another section: read the page's own section.
        return own if own is not None and _squash(own) != _squash(value) else value

    def field(key: str, parse: Any) -> Any:
        try:
            return parse(get(key))
        except RecordError:
            raise
        except Exception as exc:  # a parser bug must still name the record and field
            raise RecordError(code, key, f"cannot parse: {exc}") from exc

    scalars = {attr: _scalar(get(key)) for key, attr in _SCALARS.items()}
    levels = [lv for lv in (_line(p) for p in get("cap_thuc_hien").split(",")) if not _is_placeholder(lv)]
    proc = Procedure(
        code=code,
        name=name,
        levels=levels,
        steps=field("trinh_tu_thuc_hien", _parse_steps),
        channels=field("cach_thuc_thuc_hien", _parse_channels),
        documents=field("thanh_phan_ho_so", _parse_documents),
        legal_basis=field("can_cu_phap_ly", _parse_legal_basis),
        conditions=field("yeu_cau_dieu_kien", lambda s: _scalar(_cut_furniture(_nfc(s)))),
        result=field("ket_qua_xu_ly", _parse_result),
        page_code=page_code(get("raw_text"), code),
        **scalars,
    )
    proc.page_gaps = page_gaps(sections, proc)
    return proc
