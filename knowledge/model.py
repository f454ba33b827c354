"""The procedure record: the structured form every part of the product reads.

The project's own format (JSON Lines, XLSX/CSV) is `Procedure.to_dict()` / `Procedure.from_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Fee:
    """One fee as written: the amount text (digits as in the record), its unit and any note."""

    amount: str = ""
    unit: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    """One submission channel (Trực tiếp / Trực tuyến / Dịch vụ bưu chính) with its time and fee."""

    name: str
    time: str = ""
    time_value: str = ""
    time_unit: str = ""
    fee: str = ""
    fees: tuple[Fee, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    form: str = ""
    quantity: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class LegalBasis:
    title: str
    number: str = ""


@dataclass(frozen=True, slots=True)
class Flag:
    """Why a record is kept out of search and answers: the field at fault and what is wrong with it."""

    field: str
    reason: str


@dataclass(slots=True)
class Procedure:
    code: str
    name: str
    url: str = ""
    decision: str = ""
    kind: str = ""
    levels: list[str] = field(default_factory=list)
    domain: str = ""
    audience: str = ""
    agency: str = ""
    authority: str = ""
    address: str = ""
    delegated_agency: str = ""
    coordinating_agency: str = ""
    related: str = ""
    steps: list[str] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    legal_basis: list[LegalBasis] = field(default_factory=list)
    conditions: str = ""
    result: str = ""
    ministry: str = ""
    aliases: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    # The procedure code the portal page itself shows (the crawl's `raw_text`); differs from `code` on a
    # damaged record whose page is another procedure's.
    page_code: str = ""
    # Aspects the portal page holds that the parser could not read (answered "chưa có thông tin").
    page_gaps: list[str] = field(default_factory=list)
    # Set at import over the whole KB (knowledge/integrity.py): a flagged record is kept, exported, and
    # kept out of search, browsing and answers.
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The project format: plain JSON-ready values, empty fields left out to keep it compact."""
        return {k: v for k, v in asdict(self).items() if v not in ("", [], ())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Procedure:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        kw = dict(data)
        kw["channels"] = [
            Channel(**{**c, "fees": tuple(Fee(**f) for f in c.get("fees", ()))}) for c in data.get("channels", ())
        ]
        kw["documents"] = [Document(**d) for d in data.get("documents", ())]
        kw["legal_basis"] = [LegalBasis(**b) for b in data.get("legal_basis", ())]
        kw["flags"] = [Flag(**f) for f in data.get("flags", ())]
        return cls(**kw)
