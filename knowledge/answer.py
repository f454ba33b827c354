"""Answers rendered from the record, aspect by aspect: only what the record says, never a guess.

The text is plain (no markup); channel adapters escape and format it. Every number in an answer is
copied from the record.
"""

from __future__ import annotations

import re

from knowledge.model import Procedure

NO_INFO = "chưa có thông tin trong hồ sơ thủ tục"

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
MAX_ITEMS = 15
LIST_MARK = re.compile(r"^(?:[-+*•]\s*)+")
GLUED_BRACKET = re.compile(r"(\w)\(")


def _lines(items: list[str]) -> str:
    shown = items[:MAX_ITEMS]
    more = len(items) - len(shown)
    text = "\n".join(f"• {x}" for x in shown)
    return text + ("\n• … và các mục khác (xem trên Cổng dịch vụ công)" if more > 0 else "")


def render_documents(p: Procedure) -> str:
    if not p.documents:
        return NO_INFO
    items, group = [], None
    for d in p.documents:
        if d.group and d.group != group:
            group = d.group
            items.append(f"〔{_tidy(d.group).rstrip(':')}〕")
        extra = ", ".join(x for x in (_quantity(d.quantity), f"mẫu: {d.form}" if d.form else "") if x)
        items.append(_tidy(d.name) + (f" ({extra})" if extra else ""))
    return _lines(items)


def _tidy(text: str) -> str:
    """Drop the record's own list marks ('- ', '+ ', '* ') and space a glued bracket; words stay as written."""
    return GLUED_BRACKET.sub(r"\1 (", LIST_MARK.sub("", text.strip()))


def _quantity(text: str) -> str:
    """'0 bản chính,1 bản sao' → '1 bản sao': a zero count is the portal's way of saying 'not this form'."""
    return ", ".join(q.strip() for q in text.split(",") if q.strip() and not q.strip().startswith("0 "))


def _time(c) -> str:
    if c.time_value and not c.time_unit and c.time == c.time_value:
        return f"{c.time} (hồ sơ thủ tục không ghi đơn vị thời gian)"
    return c.time


def render_fee(p: Procedure) -> str:
    rows = [f"{c.name}: {_tidy(c.fee)}" for c in p.channels if c.fee]
    return _lines(rows) if rows else NO_INFO


def render_time(p: Procedure) -> str:
    rows = [f"{c.name}: {_time(c)}" for c in p.channels if c.time]
    return _lines(rows) if rows else NO_INFO


def render_place(p: Procedure) -> str:
    rows = []
    if p.agency:
        rows.append(f"Cơ quan thực hiện: {p.agency}")
    if p.authority and p.authority != p.agency:
        rows.append(f"Cơ quan có thẩm quyền: {p.authority}")
    if p.address:
        rows.append(f"Địa chỉ tiếp nhận: {p.address}")
    if p.channels:
        rows.append("Cách nộp: " + ", ".join(c.name for c in p.channels))
    return _lines(rows) if rows else NO_INFO


def render_steps(p: Procedure) -> str:
    return _lines(p.steps) if p.steps else NO_INFO


def render_conditions(p: Procedure) -> str:
    return p.conditions or "Hồ sơ thủ tục không nêu điều kiện riêng."


def render_legal(p: Procedure) -> str:
    if not p.legal_basis:
        return NO_INFO
    return _lines(
        [f"{b.title} ({b.number})" if b.number and b.number not in b.title else b.title for b in p.legal_basis]
    )


def render_online(p: Procedure) -> str:
    online = [c for c in p.channels if "trực tuyến" in c.name.lower()]
    if online:
        text = "Có thể nộp trực tuyến."
    elif p.channels:
        text = "Hồ sơ thủ tục không ghi cách nộp trực tuyến; cách nộp: " + ", ".join(c.name for c in p.channels) + "."
    else:
        text = NO_INFO
    return text + (f"\nTrang thủ tục: {p.url}" if p.url else "")


def render_result(p: Procedure) -> str:
    return p.result or NO_INFO


RENDERERS = {
    "documents": render_documents,
    "fee": render_fee,
    "time": render_time,
    "place": render_place,
    "steps": render_steps,
    "conditions": render_conditions,
    "legal": render_legal,
    "online": render_online,
    "result": render_result,
}


def render(p: Procedure, aspects: tuple[str, ...] | list[str] = ()) -> str:
    """The answer card: name and code, then each aspect asked (a short overview when none was)."""
    wanted = [a for a in aspects if a in RENDERERS] or list(DEFAULT_ASPECTS)
    parts = [f"{p.name}\nMã thủ tục: {p.code}" + (f" · {', '.join(p.levels)}" if p.levels else "")]
    for a in wanted:
        parts.append(f"{ASPECT_TITLES[a]}:\n{RENDERERS[a](p)}")
    if p.url and "online" not in wanted:
        parts.append(f"Chi tiết: {p.url}")
    return "\n\n".join(parts)
