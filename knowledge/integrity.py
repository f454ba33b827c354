"""Data integrity: which records are damaged, and what else is wrong in the data, field by field.

Damaged records are flagged at every import and edit (`store.save_procedures`), over the whole KB: they
stay in the database and in exports, with their flags, and are kept out of search, browsing and answers
(`knowledge/kb.py`). `check` lists every problem for `python -m bot kb check`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.model import Flag, Procedure

# Flag fields, and how the import report names them.
PAGE_CODE = "page_code"
NAME = "name"
FLAG_REASONS = {PAGE_CODE: "page shows another procedure's code", NAME: "name repeats another record's"}

# A fee cell saying "Miễn phí" whose note also states an amount, cites a regulation, or leaves it to the province.
_FREE = re.compile(r"\s*miễn phí", re.IGNORECASE)
_FEE_NOTE = (
    (
        "states an amount",
        re.compile(
            r"\d\s*(?:triệu |tỷ |nghìn |ngàn )?(?:Việt Nam Đồng|VNĐ|VND|đồng|USD)(?!\w)|\d{1,3}(?:[.,]\d{3})+\s*/",
            re.IGNORECASE,
        ),
    ),
    (
        "cites a fee regulation",
        re.compile(
            r"\b(?:Thông tư|Nghị quyết|Nghị định|Quyết định|Pháp lệnh)\b|\d+/\d{4}/[A-ZĐ]"
            r"|Luật phí|pháp luật về (?:phí|giá)",
            re.IGNORECASE,
        ),
    ),
    (
        "says the province sets it",
        re.compile(
            r"Hội đồng nhân dân|HĐND|Ủy ban nhân dân (?:cấp )?tỉnh|UBND (?:cấp )?tỉnh|địa phương", re.IGNORECASE
        ),
    ),
)
_STEP_TEXT = re.compile(r"^\W*Bước\s*\d", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in the data: the record's code, the field, what is wrong, and whether the record is
    kept out of search and answers because of it."""

    code: str
    field: str
    message: str
    damaged: bool = False

    def to_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "problem": self.message, "damaged": self.damaged}


def _codes(codes: Iterable[str], most: int = 4) -> str:
    codes = sorted(codes)
    more = f" and {len(codes) - most} more" if len(codes) > most else ""
    return ", ".join(codes[:most]) + more


def _same_name(records: Iterable[tuple[str, str, str]]) -> list[tuple[list[tuple[str, str]], set[str]]]:
    """Groups of records (code, page code) sharing a name verbatim, each with its owners: the members whose
    code one of the group's pages shows."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, name, page in records:
        groups[" ".join(name.split())].append((code, page))
    out = []
    for members in groups.values():
        if len(members) > 1:
            shown = {page for _, page in members if page}
            out.append((members, {code for code, _ in members if code in shown}))
    return out


def damage_flags(records: Iterable[tuple[str, str, str]]) -> dict[str, list[Flag]]:
    """The flags of every damaged record of a KB, given (code, name, page code) of all its records.

    A record is damaged when its portal page shows another procedure's code (its name and content are that
    procedure's), or when its name repeats another record's verbatim under a different code, unless it is
    the page's true owner: a record whose code one of those pages shows. Two records whose pages each show
    their own code are two procedures and both are kept. Records without any page between them (made by
    hand, or loaded before page codes were kept) are not judged by name: `check` reports them."""
    records = list(records)
    flags: dict[str, list[Flag]] = defaultdict(list)
    for code, _, page in records:
        if page and page != code:
            flags[code].append(Flag(PAGE_CODE, f"the portal page shows procedure {page}, not {code}"))
    for members, owners in _same_name(records):
        if not any(page for _, page in members):
            continue
        for code, _ in members:
            if code not in owners:
                others = _codes(c for c, _ in members if c != code)
                kept = f"; kept: {_codes(owners)}, whose page is its own" if owners else ""
                flags[code].append(Flag(NAME, f"the same name as {others}{kept}"))
    return dict(flags)


def _fee_problems(p: Procedure) -> list[Problem]:
    out = []
    for c in p.channels:
        m = _FREE.match(c.fee)
        note = c.fee[m.end() :] if m else ""
        what = [label for label, rx in _FEE_NOTE if rx.search(note)]
        if what:
            shown = " ".join(note.split())
            shown = shown if len(shown) <= 100 else shown[:100] + "…"
            out.append(Problem(p.code, f"fee ({c.name})", f"says “Miễn phí” but {' and '.join(what)}: {shown}"))
    return out


def _record_problems(p: Procedure) -> list[Problem]:
    out = [Problem(p.code, f.field, f.reason, damaged=True) for f in p.flags]
    if not p.name.strip():
        out.append(Problem(p.code, "name", "empty"))
    out += _fee_problems(p)
    for c in p.channels:
        if c.time_value and not c.time_unit and c.time == c.time_value:
            out.append(Problem(p.code, f"time ({c.name})", f"“{c.time}” without a unit (ngày, giờ …)"))
    steps = [d.name for d in p.documents if _STEP_TEXT.match(d.name)]
    if steps:
        out.append(Problem(p.code, "documents", f"holds step text: {steps[0][:80]}"))
    for aspect in p.page_gaps:
        out.append(Problem(p.code, aspect, "the portal page has it but the record holds none (“chưa có thông tin”)"))
    return out


def check(procs: Iterable[Procedure], code: str | None = None) -> list[Problem]:
    """Every problem found in the KB (or in the record `code`, judged against the whole KB), by code."""
    procs = list(procs)
    problems = []
    # Same names not flagged (flagged members are reported through their flags).
    for members, owners in _same_name((p.code, p.name, p.page_code) for p in procs):
        if not any(page for _, page in members):
            for member, _ in members:
                others = _codes(c for c, _ in members if c != member)
                problems.append(Problem(member, NAME, f"the same name as {others}; no page shows which is whose"))
        elif len(owners) > 1:
            for owner in owners:
                others = _codes(c for c in owners if c != owner)
                problems.append(Problem(owner, NAME, f"the same name as {others}; kept, each page shows its own code"))
    for p in procs:
        problems += _record_problems(p)
    if code is not None:
        problems = [x for x in problems if x.code == code]
    return sorted(problems, key=lambda x: (x.code, not x.damaged, x.field))
