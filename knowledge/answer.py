"""Answers rendered from the record, aspect by aspect: only what the record says, never a guess.

Each aspect comes in two parts: a short first part, what a citizen needs first, sized for one phone
screen; and the rest, shown when asked ("Xem đủ"). Together they hold everything the record says.
The text is plain (no markup); channel adapters escape and format it. Every number in an answer is
copied from the record; money is only regrouped the Vietnamese way (20,000 VNĐ → 20.000 đồng).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from knowledge.model import Channel, Document, Procedure

NO_INFO = "chưa có thông tin trong hồ sơ thủ tục"
NO_CONDITIONS = "Hồ sơ thủ tục không nêu điều kiện riêng."
MORE_LABEL = "Xem đủ"
NOTHING_MORE = "Câu trả lời ở trên đã có đủ những gì hồ sơ thủ tục ghi về nội dung này."

ASPECT_TITLES = {
    "documents": "Hồ sơ cần nộp",
    "fee": "Phí, lệ phí",
    "time": "Thời hạn giải quyết",
    "place": "Nơi nộp, cơ quan thực hiện",
    "steps": "Các bước thực hiện",
    "conditions": "Điều kiện",
    "legal": "Căn cứ pháp lý",
    "online": "Nộp trực tuyến",
    "result": "Kết quả",
}
DEFAULT_ASPECTS = ("documents", "fee", "time", "place")
# Aspects worth a button, most useful first.
OFFER_ORDER = ("documents", "fee", "time", "place", "steps", "conditions", "online", "legal")

SCREEN = 700  # characters of one phone screen: the goal for a card's first message
FIRST_BUDGET = 520  # characters for one aspect's first part (the card adds the name and code)
NAME_CLIP = 160  # a procedure name longer than this is shortened on the card
MORE_CHUNK = 3500  # one message of the rest (Telegram takes 4,096)
MORE_MESSAGES = 6  # at most this many messages for one "Xem đủ"; beyond, the portal page
RECENT_PARTS = 8192  # parts of cards kept (the procedures asked about lately)

LIST_MARK = re.compile(r"^(?:[-+*•]\s*)+")
GLUED_BRACKET = re.compile(r"(\w)\(")
SENTENCE_END = re.compile(r"[.;:](?=\s)")
# A form to fill in: tờ khai, đơn, mẫu, bản khai, a request form; or an item that names its form.
FORM = re.compile(
    r"^(?:tờ khai|đơn(?! vị)|mẫu|bản khai|giấy đề nghị|văn bản đề nghị|phiếu (?:đề nghị|đăng ký|yêu cầu|khai))\b"
    r"|^.{0,120}(?:theo mẫu|mẫu số|\(mẫu\b)",  # a form named early, not one mentioned deep in a note
    re.IGNORECASE | re.DOTALL,
)
FORM_TAIL = re.compile(r"[\s,;(]+((?:theo )?mẫu(?: số)?\s*[\w./\-]*\d[\w./\-]*)\)?[\s;.]*$", re.IGNORECASE)
FILLED = re.compile(r"tờ khai|đơn(?! vị)|bản khai", re.IGNORECASE)
# Notes and special cases: the item opens with one of these, or its group is a note or papers to show.
NOTE = re.compile(r"^(?:trường hợp|trong trường hợp|lưu ý|\*\s*lưu ý|ghi chú|chú ý|đối với|nếu|riêng|ngoài ra)\b", re.I)
NOTE_GROUP = re.compile(r"lưu ý|ghi chú|chú ý|xuất trình|tham khảo", re.IGNORECASE)
ENUM = re.compile(r"^(?:\(?[\dIVXa-zđ]{1,4}(?:\.\d+)*[.)]\s*)+")  # '(1.3) ', 'a) ', '2. ', 'II. '
MAIN_GROUP = re.compile(r"phải nộp|thành phần hồ sơ|hồ sơ (?:bao )?gồm|giấy tờ nộp|hồ sơ đề nghị", re.IGNORECASE)
# Money: an amount before a currency word. "đ" alone counts only after an amount of a thousand or more.
MONEY = re.compile(  # (the first digit leads, so the engine skips quickly to the digits)
    r"(\d(?<![\d.,/]\d)(?:\d{0,2}(?:[.,]\d{3})+|\d*))(?![\d/])\s*"
    r"(Việt Nam Đồng|Việt Nam đồng|VNĐ|VND|vnđ|vnd|Vnđ|đồng|Đồng|đ|Đ)(?!\w)"
)
THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
# What a "Miễn phí" cell may also state: an amount, a regulation, or that the province decides.
STATES_FEE = re.compile(
    r"\d\s*(?:triệu |tỷ |nghìn |ngàn )?(?:Việt Nam Đồng|VNĐ|VND|đồng|USD)|mức thu|mức phí|mức lệ phí"
    r"|\b(?:Thông tư|Nghị quyết|Quyết định|Nghị định|Pháp lệnh|Luật)\b"
    r"|Hội đồng nhân dân|HĐND|Ủy ban nhân dân (?:cấp )?tỉnh|UBND (?:cấp )?tỉnh|quy định của tỉnh",
    re.IGNORECASE,
)
FREE = "Miễn phí"
UNIT_AGAIN = re.compile(r"^(?:Việt Nam Đồng|VNĐ|đồng|Đồng)(?=[\s(/]|$)\s*", re.IGNORECASE)
# The only numbers an answer holds that are not copied from the record: counts of the record's own items,
# always in these words (the whole-KB number test leaves them out, and checks them apart).
COUNTS = re.compile(
    r"\b\d+ (?:mục trong hồ sơ thủ tục|giấy tờ nộp kèm|mẫu khác)|Còn \d+ (?:mục|bước nữa|ý nữa|văn bản nữa)\b"
    r"|\(\d+/\d+\):\n"
)


@dataclass(frozen=True, slots=True)
class Part:
    """One aspect: the first part (short, never empty), the rest ("" when the first part is all), and the
    whole (everything unabridged, in the record's order)."""

    first: str
    rest: str = ""
    whole: str = ""

    def __post_init__(self) -> None:
        if not self.whole:
            object.__setattr__(self, "whole", self.first + (f"\n{self.rest}" if self.rest else ""))


# ---- small text tools ---------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _tidy(text: str) -> str:
    """Drop the record's own list marks ('- ', '+ ', '* ') and space a glued bracket; words stay as written."""
    text = LIST_MARK.sub("", text.strip())
    return GLUED_BRACKET.sub(r"\1 (", text) if "(" in text else text


def money(text: str) -> str:
    """Amounts of money the Vietnamese way: '20,000 VNĐ' → '20.000 đồng', '1500000 Đồng' → '1.500.000 đồng'.

    Only the grouping and the currency word change; the digits stay the record's."""

    def one(m: re.Match) -> str:
        amount, unit = m.group(1), m.group(2)
        digits = amount.replace(".", "").replace(",", "") if THOUSANDS.fullmatch(amount) else amount
        if unit in ("đ", "Đ") and (not digits.isdigit() or len(digits) < 4):
            return m.group(0)  # "điểm đ", "khoản 2 đ": not money
        if not digits.isdigit():
            return m.group(0)
        if len(digits) >= 4:
            amount = f"{int(digits):,}".replace(",", ".") if not digits.startswith("0") else amount
        return f"{amount} đồng"

    return MONEY.sub(one, text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut after a sentence or at a space, marked with '…'; numbers stay whole."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in SENTENCE_END.finditer(head) if m.end() >= limit // 3]
    cut = head[: ends[-1]] if ends else head[: head.rfind(" ")] if " " in head else head
    cut = cut.rstrip(" ,;:-(.") + "…"
    return cut + ")" * max(0, cut.count("(") - cut.count(")"))  # no bracket left open


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {x}" for x in items)


def _more_note(n: int, unit: str, what: str = "") -> str:
    return f"Còn {n} {unit}" + (f" ({what})" if what else "") + f": bấm “{MORE_LABEL}”." if n else ""


# ---- documents ----------------------------------------------------------------------------------


def _quantity(text: str) -> str:
    """'0 bản chính,1 bản sao' → '1 bản sao': a zero count is the portal's way of saying 'not this form'."""
    return ", ".join(q.strip() for q in text.split(",") if q.strip() and not q.strip().startswith("0 "))


def _doc_line(d: Document, limit: int = 0) -> str:
    """The whole item; with `limit`, its name shortened and without the form's file name (for the card)."""
    form = f"mẫu: {d.form}" if d.form and not limit else ""
    extra = ", ".join(x for x in (_quantity(d.quantity), form) if x)
    name = _tidy(d.name)
    return (_clip_form(name, limit) if limit else name) + (f" ({extra})" if extra else "")


def _clip_form(name: str, limit: int) -> str:
    """Shortened, but a closing form number ('…, Mẫu số 01/2025/LLTP') is kept: it tells forms apart."""
    m = FORM_TAIL.search(name)
    if len(name) <= limit or not m or m.start() < 20:
        return clip(name, limit)
    return clip(name[: m.start()], max(30, limit - len(m.group(1)))) + ", " + m.group(1)


def _cap(lengths: list[int], budget: int, low: int = 70, high: int = 240) -> int:
    """The longest text an item keeps so that all fit in `budget`: short items whole, long ones share."""
    cap = high
    while cap > low and sum(min(n, cap) for n in lengths) > budget:
        cap -= 10
    return cap


def _is_case(group: str) -> bool:
    """A group for one case ('Đối với trường hợp 2, hồ sơ bao gồm', '(1.3) Đối với công trình tôn giáo:')."""
    return bool(NOTE.match(ENUM.sub("", _tidy(group))))


def _doc_kinds(p: Procedure) -> list[str]:
    """Each document as 'form', 'paper' (submitted in every case), or 'other' (notes, special cases,
    papers to show, a case's own papers, lead-ins). A form stays a form under a case."""
    groups = {d.group for d in p.documents if d.group and not NOTE_GROUP.search(d.group) and not _is_case(d.group)}
    main = {g for g in groups if MAIN_GROUP.search(g)} or (groups if len(groups) == 1 else set())
    kinds = []
    for d in p.documents:
        name = ENUM.sub("", _tidy(d.name))  # '2. Văn bản đề nghị …' is looked at as 'Văn bản đề nghị …'
        if NOTE.match(name) or NOTE_GROUP.search(d.group) or name.endswith(":"):
            kinds.append("other")
        elif d.form or FORM.search(name):
            kinds.append("form")
        elif not d.group or d.group in main:
            kinds.append("paper")
        else:
            kinds.append("other")
    return kinds


def _forms(p: Procedure, kinds: list[str]) -> list[int]:
    """The forms, tờ khai and đơn first; a form repeated under several cases once."""
    seen: set[str] = set()
    forms = []
    for i, k in enumerate(kinds):
        key = re.sub(r"\W+", "", _tidy(p.documents[i].name).lower())
        if k == "form" and key not in seen:
            seen.add(key)
            forms.append(i)
    return sorted(forms, key=lambda i: not FILLED.match(ENUM.sub("", _tidy(p.documents[i].name))))


def _grouped(p: Procedure, keep) -> str:
    """The documents at positions `keep`, in the record's order, under their groups."""
    lines, group = [], None
    for i in keep:
        d = p.documents[i]
        if d.group and d.group != group:
            lines.append(f"〔{_tidy(d.group).rstrip(':').strip()}〕")
        group = d.group
        lines.append(_doc_line(d))
    return _bullets(lines)


def part_documents(p: Procedure) -> Part:
    """Forms first, then the papers every applicant submits, never dropped (each item shortened instead
    when the list is long); notes, special cases and papers to show go to the rest."""
    if not p.documents:
        return Part(NO_INFO)
    kinds = _doc_kinds(p)
    forms = _forms(p, kinds)
    papers = [i for i, k in enumerate(kinds) if k == "paper"]
    if not forms and not papers:  # nothing stands out: the first items, in order
        papers = list(range(min(3, len(p.documents))))
    shown = forms + papers
    # Room on the screen: what the card's name, the headings and the closing line leave; short items
    # are kept whole and the long ones share the rest.
    room = SCREEN - len(header(p)) - 150 - sum(len(_doc_line(p.documents[i], 1)) + 2 for i in shown)
    limit = _cap([len(_tidy(p.documents[i].name)) for i in shown], room + 2 * len(shown))
    full = {i for i in shown if _doc_line(p.documents[i], limit) == _doc_line(p.documents[i])}
    blocks = []
    if forms:
        blocks.append("Tờ khai, đơn, mẫu cần điền:\n" + _bullets([_doc_line(p.documents[i], limit) for i in forms]))
    if papers:
        head = "Giấy tờ nộp kèm:\n" if forms else ""
        blocks.append(head + _bullets([_doc_line(p.documents[i], limit) for i in papers]))
    rest = [i for i in range(len(p.documents)) if i not in full]
    others = [i for i in rest if i not in shown]
    if others:
        blocks.append(_more_note(len(others), "mục", _other_kinds(p, others)))
    elif rest:
        blocks.append(f"Bấm “{MORE_LABEL}” để đọc đủ từng mục.")
    return Part("\n".join(blocks), _grouped(p, rest) if rest else "", _grouped(p, range(len(p.documents))))


def _other_kinds(p: Procedure, others: list[int]) -> str:
    """What the items behind the button are, in a few words."""
    kinds = []
    for d in (p.documents[i] for i in others):
        if "xuất trình" in d.group.lower():
            kinds.append("giấy tờ xuất trình")
        elif re.search(r"lưu ý|ghi chú|chú ý", d.group + _tidy(d.name)[:12], re.I):
            kinds.append("lưu ý")
        else:
            kinds.append("giấy tờ theo từng trường hợp")
    return ", ".join(dict.fromkeys(kinds))


# ---- fee, time, place ---------------------------------------------------------------------------


def _unwrap(text: str) -> str:
    """'((Miễn lệ phí.))' → 'Miễn lệ phí.': the brackets the portal wraps a note in."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        inner, depth = text[1:-1], 0
        for ch in inner:
            depth += (ch == "(") - (ch == ")")
            if depth < 0:
                return text
        text = inner.strip()
    if text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].strip()  # an unbalanced opening bracket
    return text


def fee_text(cell: str) -> str:
    """One fee cell as a citizen should read it. 'Miễn phí(…)' whose note states an amount, a regulation
    or that the province decides is shown as that note: never a bare 'Miễn phí' then."""
    head, bracket, note = cell.partition("(")
    head, note = head.strip(), _unwrap(bracket + note) if bracket else ""
    if head.lower() == FREE.lower() and note and STATES_FEE.search(note):
        return money(_tidy(note))
    note = UNIT_AGAIN.sub("", note)  # '15,000,000 VNĐ( Đồng (Đối với …)': the unit said twice
    amount = re.match(r"\d+(?=\s)", head)
    stated = MONEY.search(note)
    if amount and int(amount.group()) < 1000 and stated and re.fullmatch(amount.group() + r"[.,]000", stated.group(1)):
        return money(_tidy(note))  # '20 VNĐ(20.000 đ/tờ khai)': the table lost the thousands the note states
    if note.startswith("/"):  # '30,000 Việt Nam Đồng(/hồ sơ …)': the amount's own unit
        return money(_tidy(head) + note)
    if note.startswith("("):
        return money(f"{_tidy(head)} {note}")
    return money(_tidy(head) + (f" ({_tidy(note)})" if note else ""))


def _by_channel(channels: list[Channel], text) -> list[tuple[str, str]]:
    """(channel names, text) with the channels that say the same thing together, in record order."""
    rows: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for c in channels:
        t = text(c)
        key = t.rstrip(" .")  # 'do tỉnh quy định' and 'do tỉnh quy định.' say the same
        if t and c.name not in rows.setdefault(key, []):
            rows[key].append(c.name)
            texts.setdefault(key, t)
    return [(", ".join(names), texts[key]) for key, names in rows.items()]


def _rows_part(rows: list[tuple[str, str]], budget: int = FIRST_BUDGET) -> Part:
    if not rows:
        return Part(NO_INFO)
    limit = max(120, budget // len(rows) - 30)
    first = [f"{names}: {clip(t, limit)}" for names, t in rows]
    whole = [f"{names}: {t}" for names, t in rows]
    rest = [w for f, w in zip(first, whole, strict=True) if f != w]
    return Part(_bullets(first), _bullets(rest), _bullets(whole))


def part_fee(p: Procedure) -> Part:
    return _rows_part(_by_channel(p.channels, lambda c: fee_text(c.fee) if c.fee else ""))


def _time(c: Channel) -> str:
    if c.time_value and not c.time_unit and c.time == c.time_value:
        return f"{c.time} (hồ sơ thủ tục không ghi đơn vị thời gian)"
    return c.time


def part_time(p: Procedure) -> Part:
    rows = _by_channel(p.channels, lambda c: _tidy(_time(c)) if c.time else "")
    part = _rows_part(rows, budget=260)
    notes = list(dict.fromkeys(c.description.strip() for c in p.channels if c.description.strip()))
    if not rows or not notes:
        return part
    extra = "\n".join(["Ghi chú theo cách nộp:", *notes])
    return Part(part.first, "\n".join(x for x in (part.rest, extra) if x), f"{part.whole}\n{extra}")


def part_place(p: Procedure) -> Part:
    """Where the dossier is received first: the reception address, else the implementing agency."""
    where = [
        ("Nơi tiếp nhận hồ sơ", p.address),
        ("Cơ quan thực hiện", p.agency),
        ("Cơ quan có thẩm quyền", p.authority if p.authority != p.agency else ""),
        ("Cơ quan được ủy quyền", p.delegated_agency),
        ("Cơ quan phối hợp", p.coordinating_agency),
    ]
    where = [(label, " ".join(v.split())) for label, v in where if v.strip()]
    ways = "Cách nộp: " + ", ".join(c.name for c in p.channels) if p.channels else ""
    if not where:
        return Part(ways or NO_INFO)
    label, value = where[0]
    shown = clip(value, 300)
    first = [f"{label}: {shown}", *([ways] if ways else [])]
    rest = ([f"{label}: {value}"] if shown != value else []) + [f"{lb}: {v}" for lb, v in where[1:]]
    whole = [f"{lb}: {v}" for lb, v in where] + ([ways] if ways else [])
    return Part("\n".join(first), "\n".join(rest), "\n".join(whole))


# ---- steps, conditions, legal basis, online, result ---------------------------------------------


def _list_part(items: list[str], unit: str, n: int = 3, limit: int = 140) -> Part:
    """The first `n` items (each shortened to `limit`), the rest behind the button."""
    items = [" ".join(_tidy(x).split()) for x in items if x.strip()]
    if not items:
        return Part(NO_INFO)
    first = [clip(x, limit) for x in items[:n]]
    rest = [x for x, f in zip(items, first, strict=False) if f != x] + items[n:]
    note = _more_note(len(items) - n, unit + " nữa") if len(items) > n else ""
    if rest and not note:
        note = f"Bấm “{MORE_LABEL}” để đọc đủ."
    return Part(_bullets(first) + (f"\n{note}" if note else ""), _bullets(rest), _bullets(items))


def part_steps(p: Procedure) -> Part:
    return _list_part(p.steps, "bước")


def part_conditions(p: Procedure) -> Part:
    if not p.conditions.strip():
        return Part(NO_CONDITIONS)
    lines = [x for x in p.conditions.splitlines() if x.strip()]
    if len(p.conditions) <= FIRST_BUDGET - 40:
        return Part("\n".join(x.strip() for x in lines))
    return _list_part(lines, "ý", n=4, limit=120)


def part_legal(p: Procedure) -> Part:
    # the number first: it is what a citizen looks up, and a long title is shortened on the card
    titles = [f"{b.number}: {b.title}" if b.number and b.number not in b.title[:60] else b.title for b in p.legal_basis]
    return _list_part(titles, "văn bản", n=4, limit=110)


def part_online(p: Procedure) -> Part:
    online = [c for c in p.channels if "trực tuyến" in c.name.lower()]
    if online:
        text = "Có thể nộp trực tuyến."
    elif p.channels:
        text = "Hồ sơ thủ tục không ghi cách nộp trực tuyến; cách nộp: " + ", ".join(c.name for c in p.channels) + "."
    else:
        text = NO_INFO
    return Part(text + (f"\nTrang thủ tục: {p.url}" if p.url else ""))


def part_result(p: Procedure) -> Part:
    if not p.result:
        return Part(NO_INFO)
    text = " ".join(p.result.split())
    first = clip(text, 300)
    return Part(first, text if first != text else "", text)


PARTS = {
    "documents": part_documents,
    "fee": part_fee,
    "time": part_time,
    "place": part_place,
    "steps": part_steps,
    "conditions": part_conditions,
    "legal": part_legal,
    "online": part_online,
    "result": part_result,
}


class _Same:
    """A procedure as a cache key, by identity: a loaded record is never changed (a new revision loads new ones),
    and the cache holding the key keeps the record alive, so its id is not reused meanwhile."""

    __slots__ = ("p",)

    def __init__(self, p: Procedure):
        self.p = p

    def __hash__(self) -> int:
        return id(self.p)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.p is self.p


def part(p: Procedure, aspect: str) -> Part:
    """One aspect in two parts, money in the Vietnamese format (kept for the records answered lately: a card
    asks for the same part several times, and many citizens ask about the same procedures)."""
    return _part(_Same(p), aspect)


@lru_cache(maxsize=RECENT_PARTS)
def _part(key: _Same, aspect: str) -> Part:
    got = PARTS[aspect](key.p)
    return Part(money(got.first), money(got.rest), money(got.whole))


# ---- the card and what follows it ---------------------------------------------------------------


def header(p: Procedure) -> str:
    return f"{clip(p.name, NAME_CLIP)}\nMã thủ tục: {p.code}" + (f" · {', '.join(p.levels)}" if p.levels else "")


def overview(p: Procedure) -> str:
    """The card when no aspect was asked: how many documents and which forms, fee, time, place (kept for the
    records answered lately, like the parts)."""
    return _overview(_Same(p))


@lru_cache(maxsize=RECENT_PARTS)
def _overview(key: _Same) -> str:
    p = key.p
    lines = []
    if p.documents:
        kinds = _doc_kinds(p)
        forms = [_tidy(p.documents[i].name).rstrip(" ;,.") for i in _forms(p, kinds)]
        papers = kinds.count("paper")
        count = f"{len(p.documents)} mục trong hồ sơ thủ tục" + (f", {papers} giấy tờ nộp kèm" if papers else "")
        cap = _cap([len(f) for f in forms[:3]], 200, low=50, high=90)
        shown = [clip(f, cap) for f in forms[:3]] + ([f"và {len(forms) - 3} mẫu khác"] if len(forms) > 3 else [])
        lines.append(f"{ASPECT_TITLES['documents']}: {count}" + ("; cần điền: " + "; ".join(shown) if forms else ""))
    else:
        lines.append(f"{ASPECT_TITLES['documents']}: {NO_INFO}")
    fees = _by_channel(p.channels, lambda c: fee_text(c.fee) if c.fee else "")
    fee = "; ".join(f"{n}: {clip(t, max(70, 170 // len(fees)))}" for n, t in fees) if fees else NO_INFO
    lines.append(f"{ASPECT_TITLES['fee']}: {money(fee)}")
    times = _by_channel(p.channels, lambda c: _tidy(_time(c)) if c.time else "")
    time = "; ".join(f"{n}: {clip(t, 80)}" for n, t in times[:2]) + ("; …" if len(times) > 2 else "")
    lines.append(f"{ASPECT_TITLES['time']}: {time or NO_INFO}")
    lines.append(money(clip(part_place(p).first.split("\n")[0], 180)))
    return "\n".join(lines)


def first_message(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> str:
    """The card's text: name and code, then the first part of each aspect asked (the overview when none)."""
    wanted = [a for a in aspects if a in PARTS]
    parts = [header(p)]
    if not wanted:
        parts.append(overview(p))
    for a in wanted:
        parts.append(f"{ASPECT_TITLES[a]}:\n{part(p, a).first}")
    return "\n\n".join(parts)


def rest_sections(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> list[tuple[str, str]]:
    """(title, text) for what the card left out; the overview's rest is its aspects in full."""
    wanted = [a for a in aspects if a in PARTS]
    if not wanted:
        return [(ASPECT_TITLES[a], part(p, a).whole) for a in DEFAULT_ASPECTS]
    return [(f"{ASPECT_TITLES[a]}, phần còn lại", part(p, a).rest) for a in wanted if part(p, a).rest]


def has_more(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether the card leaves something out: a rest, or for the overview the document list."""
    wanted = [a for a in aspects if a in PARTS]
    if not wanted:
        return bool(p.documents) or any(part(p, a).rest for a in DEFAULT_ASPECTS)
    return any(part(p, a).rest for a in wanted)


def _split(text: str, size: int) -> list[str]:
    """Pieces of at most `size` characters, cut at line ends (a longer line at a space)."""
    pieces = [""]
    for line in text.split("\n"):
        while len(line) > size:  # a line longer than a message: cut at a space
            cut = line.rfind(" ", 0, size) if " " in line[:size] else size
            pieces += [line[:cut], ""]
            line = line[cut:].lstrip()
        if pieces[-1] and len(pieces[-1]) + 1 + len(line) > size:
            pieces.append("")
        pieces[-1] = f"{pieces[-1]}\n{line}" if pieces[-1] else line
    return [x for x in pieces if x.strip()]


def more_messages(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The rest, as messages: each aspect starts its own, long ones are split at line ends."""
    out: list[str] = []
    for title, text in rest_sections(p, aspects):
        pieces = _split(text, MORE_CHUNK)
        for i, piece in enumerate(pieces, 1):
            count = f" ({i}/{len(pieces)})" if len(pieces) > 1 else ""
            out.append(f"{clip(p.name, 80)} · {p.code}\n{title}{count}:\n{piece}")
    if len(out) > MORE_MESSAGES:
        out = out[:MORE_MESSAGES]
        out[-1] += "\n\nPhần còn lại dài, bạn xem tiếp trên Cổng Dịch vụ công" + (f": {p.url}" if p.url else ".")
    return out


def render(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> str:
    """Everything at once, unabridged: name and code, then each aspect asked whole (the default aspects when
    none was). For checks and tools; chats get `first_message` and `more_messages`."""
    wanted = [a for a in aspects if a in PARTS] or list(DEFAULT_ASPECTS)
    head = f"{p.name}\nMã thủ tục: {p.code}" + (f" · {', '.join(p.levels)}" if p.levels else "")
    return "\n\n".join([head, *(f"{ASPECT_TITLES[a]}:\n{part(p, a).whole}" for a in wanted)])


def offer(p: Procedure, shown: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Aspects worth a button under a card that shows `shown` (the overview when empty), most useful
    first: not those shown, not those the record has nothing on."""
    skip = set(shown) if shown else {"fee", "time", "place"}  # the overview says these in a line each
    return [a for a in OFFER_ORDER if a not in skip and part(p, a).first not in (NO_INFO, NO_CONDITIONS)]
