"""The vocabulary the search and the dialog add to the records, edited by admins (/admin/vocabulary): the life-event
map (knowledge/events.py) and the everyday names of procedures (knowledge/text.py).

Every save is a new version in `kb_vocabulary`; the newest of a kind is in use, the bundled file until there is
one. A save is checked against the procedures (every code exists and is not damaged) and bumps the KB revision in
its transaction, so every process's `KnowledgeBase` rebuilds its index with it on its next search. Reverting saves
an older version anew. Problems are told in Vietnamese, for the page that shows them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table, Text, insert, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge import store
from knowledge.events import EventMap, parse
from knowledge.events import bundled as bundled_events
from knowledge.events import bundled_data as bundled_event_data
from knowledge.text import everyday_names, fold_word, safe_text, words

kb_vocabulary = Table(
    "kb_vocabulary",
    store.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text, nullable=True),
    Index("ix_kb_vocabulary_kind", "kind", "id"),
)

LIFE_EVENTS = "life_events"  # data: [{"id", "title", "triggers": [..], "steps": [{"code", "note"}], "active"?}]
EVERYDAY = "everyday"  # data: {code: [name, ...]}
KINDS = {LIFE_EVENTS: "Sự kiện trong đời", EVERYDAY: "Tên gọi thường dùng"}

# What one version may hold.
MAX_EVENTS = 100
MAX_TRIGGERS = 50
MAX_STEPS = 20
MAX_TITLE = 200
MAX_PHRASE = 150  # a trigger phrase or an everyday name
MAX_STEP_NOTE = 300
MAX_CODES = 2000  # procedures with everyday names
MAX_NAMES = 30  # everyday names of one procedure
MAX_BYTES = 1_000_000  # the whole version as JSON
MAX_NOTE = 500  # the note of a save
CODE = re.compile(r"\d+\.\d+")  # as knowledge.store.validate has it
EVENT_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
MAX_EVENT_ID = 40
DAMAGED = "đang bị đánh dấu hỏng dữ liệu (không được tìm kiếm)"


class VocabularyError(Exception):
    """The version is refused; `problems` lists why, in Vietnamese, and nothing was saved."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Vocabulary:
    """What the search index and the dialog use."""

    events: EventMap
    everyday: Mapping[str, tuple[str, ...]]


def bundled(kind: str) -> list | dict:
    """The version shipped with the app, in the stored form."""
    if kind == LIFE_EVENTS:
        return bundled_event_data()
    return {code: list(names) for code, names in everyday_names().items()}


def newest(session: Session, kind: str) -> dict | None:
    """The version in use (id, kind, data, at, actor, note), None while the bundled file is."""
    q = select(kb_vocabulary).where(kb_vocabulary.c.kind == kind).order_by(kb_vocabulary.c.id.desc()).limit(1)
    row = session.execute(q).mappings().first()
    return dict(row) if row else None


def in_use(session: Session, kind: str) -> list | dict:
    row = newest(session, kind)
    return row["data"] if row else bundled(kind)


def load(session: Session) -> Vocabulary:
    """The vocabulary in use; the bundled objects themselves (cached) when nothing was saved."""
    events, everyday = newest(session, LIFE_EVENTS), newest(session, EVERYDAY)
    return Vocabulary(
        parse(events["data"]) if events else bundled_events(),
        {code: tuple(names) for code, names in everyday["data"].items()} if everyday else everyday_names(),
    )


def history(session: Session, kind: str, limit: int = 50) -> list[dict]:
    """The newest `limit` versions, newest first, each with its `changes` from the one before (the bundled file
    before the first)."""
    q = select(kb_vocabulary).where(kb_vocabulary.c.kind == kind).order_by(kb_vocabulary.c.id.desc())
    rows = [dict(r) for r in session.execute(q.limit(limit + 1)).mappings()]
    for i, row in enumerate(rows[:limit]):
        before = rows[i + 1]["data"] if i + 1 < len(rows) else bundled(kind)
        row["changes"] = changes(kind, before, row["data"])
    return rows[:limit]


# ---- saving --------------------------------------------------------------------------------------------------


def edit(factory: sessionmaker, kind: str, change: Callable, actor: str, note: str = "") -> dict | None:
    """Save `change(the version in use)` as the new version, checked first; the saved row with its `changes`,
    or None when it changes nothing. VocabularyError (nothing saved) when it is refused."""
    if kind not in KINDS:
        raise ValueError(f"unknown vocabulary kind {kind!r}")
    note = " ".join(safe_text(note).split())
    if len(note) > MAX_NOTE:
        raise VocabularyError([f"Ghi chú thay đổi dài quá {MAX_NOTE} ký tự."])
    try:
        with factory.begin() as session:
            # First, as it locks the revision row: edits made at the same time wait here, and each one reads the
            # version the other saved, so neither is lost.
            store.bump_revision(session)
            before = in_use(session, kind)
            after = change(copy.deepcopy(before))
            checker = _events if kind == LIFE_EVENTS else _everyday
            after, problems = checker(after, _states(session))
            if not problems and len(json.dumps(after, ensure_ascii=False).encode()) > MAX_BYTES:
                problems = [f"Dữ liệu quá lớn (tối đa {MAX_BYTES // 1_000_000} MB)."]
            if problems:
                raise VocabularyError(problems)
            if after == before:
                raise _Unchanged
            row = {"kind": kind, "data": after, "at": datetime.now(UTC), "actor": actor, "note": note or None}
            version_id = session.execute(insert(kb_vocabulary).values(**row)).inserted_primary_key[0]
    except _Unchanged:
        return None
    return row | {"id": version_id, "changes": changes(kind, before, after)}


def revert(factory: sessionmaker, kind: str, version_id: int | None, actor: str) -> dict | None:
    """Save version `version_id` of `kind` (None: the bundled file) anew, checked as any save is; None when it
    is the one in use. LookupError when there is no such version of `kind`."""
    if version_id is None:
        data, note = bundled(kind), "Khôi phục dữ liệu gốc kèm phần mềm"
    else:
        with factory() as session:
            row = session.execute(select(kb_vocabulary).where(kb_vocabulary.c.id == version_id)).mappings().first()
        if row is None or row["kind"] != kind:
            raise LookupError(version_id)
        data, note = row["data"], f"Khôi phục phiên bản #{version_id}"
    return edit(factory, kind, lambda _: data, actor, note)


class _Unchanged(Exception):
    """Rolls the revision bump back when a save changes nothing."""


def procedure_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """The names of the procedures of these codes that exist (damaged or not)."""
    wanted = list(set(codes))
    q = select(store.procedures.c.code, store.procedures.c.name).where(store.procedures.c.code.in_(wanted))
    return dict(session.execute(q).all()) if wanted else {}


def _states(session: Session) -> dict[str, bool]:
    """Every procedure's code, and whether it is damaged (flagged, kept out of search)."""
    rows = session.execute(select(store.procedures.c.code, store.procedures.c.data["flags"]))
    return {code: bool(flags) for code, flags in rows}


# ---- checks --------------------------------------------------------------------------------------------------


def _clean(value: object) -> str | None:
    """A text as stored: safe, one space between words; None when it is not a text."""
    return " ".join(safe_text(value).split()) if isinstance(value, str) else None


def _quoted(text: str, limit: int = 60) -> str:
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def _texts(value: object, where: str, what: str, cap: int, problems: list[str]) -> list[str]:
    """A list of phrases (trigger phrases, everyday names): cleaned, each once; a problem for each bad one."""
    if not isinstance(value, list):
        problems.append(f"{where}: {what} phải là một danh sách.")
        return []
    out: list[str] = []
    found = len(problems)
    for raw in value:
        text = _clean(raw)
        if not text:
            problems.append(f"{where}: có {what} trống hoặc không phải chữ.")
        elif not words(text):
            problems.append(f"{where}: {what} {_quoted(text)} không có chữ nào.")
        elif len(text) > MAX_PHRASE:
            problems.append(f"{where}: {what} {_quoted(text)} dài quá {MAX_PHRASE} ký tự.")
        elif text not in out:
            out.append(text)
    if not out and len(problems) == found:
        problems.append(f"{where}: cần ít nhất một {what}.")
    if len(out) > cap:
        problems.append(f"{where}: tối đa {cap} {what}.")
    return out


def _code_problem(code: str, states: dict[str, bool] | None) -> str | None:
    """What is wrong with a procedure code: its form, and with `states`, whether it is a searchable procedure."""
    if not CODE.fullmatch(code):
        return f"{_quoted(code, 40)} không phải mã thủ tục (dạng 1.001193)"
    if states is None:
        return None
    if code not in states:
        return f"không có thủ tục nào mã {_quoted(code, 20)}"
    return f"thủ tục {code} {DAMAGED}" if states[code] else None


def _events(data: object, states: dict[str, bool]) -> tuple[list[dict], list[str]]:
    """The life-event map as stored, and what is wrong with it."""
    if not isinstance(data, list):
        return [], ["Dữ liệu sự kiện phải là một danh sách."]
    problems: list[str] = [f"Tối đa {MAX_EVENTS} sự kiện."] if len(data) > MAX_EVENTS else []
    out: list[dict] = []
    told: dict[tuple[str, ...], str] = {}  # the phrases of active events (folded), and their event
    for n, item in enumerate(data[:MAX_EVENTS], 1):
        if not isinstance(item, dict):
            problems.append(f"Sự kiện thứ {n}: dữ liệu không hợp lệ.")
            continue
        event_id = _clean(item.get("id")) or ""
        where = f"Sự kiện {_quoted(event_id, 40)}" if event_id else f"Sự kiện thứ {n}"
        if not event_id or len(event_id) > MAX_EVENT_ID or not set(event_id) <= EVENT_ID_CHARS:
            problems.append(f"{where}: mã sự kiện gồm 1–{MAX_EVENT_ID} chữ thường không dấu, chữ số hoặc dấu _.")
        elif any(e["id"] == event_id for e in out):
            problems.append(f"Mã sự kiện {_quoted(event_id)} bị trùng.")
        title = _clean(item.get("title")) or ""
        if not title:
            problems.append(f"{where}: thiếu tên sự kiện.")
        elif len(title) > MAX_TITLE:
            problems.append(f"{where}: tên sự kiện dài quá {MAX_TITLE} ký tự.")
        active = item.get("active", True) is not False
        triggers = _texts(item.get("triggers"), where, "cụm từ nhận biết", MAX_TRIGGERS, problems)
        for phrase in triggers if active else ():
            key = tuple(fold_word(w) for w in words(phrase))
            if told.get(key, event_id) != event_id:
                problems.append(f"{where}: cụm từ {_quoted(phrase)} đã dùng cho sự kiện {_quoted(told[key])}.")
            told.setdefault(key, event_id)
        steps = _steps(item.get("steps"), where, states if active else None, problems)
        event = {"id": event_id, "title": title, "triggers": triggers, "steps": steps}
        out.append(event if active else event | {"active": False})
    return out, problems


def _steps(value: object, where: str, states: dict[str, bool] | None, problems: list[str]) -> list[dict]:
    """An event's steps as stored; their codes are checked when `states` is given (an active event)."""
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: cần ít nhất một bước (một thủ tục).")
        return []
    if len(value) > MAX_STEPS:
        problems.append(f"{where}: tối đa {MAX_STEPS} bước.")
    out = []
    for k, step in enumerate(value[:MAX_STEPS], 1):
        code = _clean(step.get("code")) if isinstance(step, dict) else None
        note = _clean(step.get("note", "")) if isinstance(step, dict) else None
        if code is None or note is None:
            problems.append(f"{where}, bước {k}: dữ liệu không hợp lệ.")
            continue
        wrong = _code_problem(code, states)
        if wrong:
            problems.append(f"{where}, bước {k}: {wrong}.")
        if len(note) > MAX_STEP_NOTE:
            problems.append(f"{where}, bước {k}: ghi chú dài quá {MAX_STEP_NOTE} ký tự.")
        out.append({"code": code, "note": note})
    return out


def _everyday(data: object, states: dict[str, bool]) -> tuple[dict, list[str]]:
    """The everyday names as stored, and what is wrong with them."""
    if not isinstance(data, dict):
        return {}, ["Dữ liệu tên gọi phải là một bảng mã thủ tục → các tên gọi."]
    problems: list[str] = [f"Tối đa {MAX_CODES} thủ tục có tên gọi."] if len(data) > MAX_CODES else []
    out: dict[str, list[str]] = {}
    for raw, names in list(data.items())[:MAX_CODES]:
        code = _clean(raw) or ""
        wrong = _code_problem(code, states)
        if wrong:
            problems.append(f"Tên gọi của mã {_quoted(code, 20)}: {wrong}.")
        where = f"Thủ tục {_quoted(code, 20)}"
        out[code] = _texts(names, where, "tên gọi", MAX_NAMES, problems)
    return out, problems


# ---- what changed ------------------------------------------------------------------------------------------------


def changes(kind: str, before: list | dict, after: list | dict) -> list[tuple[str, str]]:
    """What a version changed from the one before: ("+" added | "-" removed | "~" changed, what), in Vietnamese."""
    if kind == LIFE_EVENTS:
        return _event_changes({e["id"]: e for e in before}, {e["id"]: e for e in after})
    out: list[tuple[str, str]] = []
    for code in [*before, *(c for c in after if c not in before)]:
        old, new = before.get(code, []), after.get(code, [])
        out += [("-", f"{code}: {_quoted(n)}") for n in old if n not in new]
        out += [("+", f"{code}: {_quoted(n)}") for n in new if n not in old]
    return out


def _event_changes(before: dict[str, dict], after: dict[str, dict]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for event_id in [*before, *(i for i in after if i not in before)]:
        old, new = before.get(event_id), after.get(event_id)
        if old is None or new is None:
            sign, event = ("+", new) if old is None else ("-", old)
            out.append((sign, f"sự kiện {_quoted(event['title'])} ({event_id})"))
            continue
        if old["title"] != new["title"]:
            out.append(("~", f"{event_id}: tên {_quoted(old['title'])} → {_quoted(new['title'])}"))
        if old.get("active", True) != new.get("active", True):
            out.append(("~", f"{event_id}: {'dùng lại' if new.get('active', True) else 'ngừng dùng'}"))
        out += [("-", f"{event_id}: cụm từ {_quoted(t)}") for t in old["triggers"] if t not in new["triggers"]]
        out += [("+", f"{event_id}: cụm từ {_quoted(t)}") for t in new["triggers"] if t not in old["triggers"]]
        old_steps, new_steps = [step_line(s) for s in old["steps"]], [step_line(s) for s in new["steps"]]
        out += [("-", f"{event_id}: bước {s}") for s in old_steps if s not in new_steps]
        out += [("+", f"{event_id}: bước {s}") for s in new_steps if s not in old_steps]
        if sorted(old_steps) == sorted(new_steps) and old_steps != new_steps:
            out.append(("~", f"{event_id}: thứ tự các bước"))
    return out


def step_line(step: dict) -> str:
    """A step as the form writes it: 'code — note'."""
    return f"{step['code']} — {step['note']}" if step.get("note") else step["code"]
