"""The staff inbox: items by deadline with their age and the working days left, filtered, searched (without
case or diacritics, in SQL on SQLite and PostgreSQL alike) and paged. No personal data of the sender."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import String, false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.functions import GenericFunction

from feedback import texts, workdays
from feedback.model import OPEN_STATES
from feedback.outbox import utcnow
from feedback.reports import is_overdue
from feedback.tables import items, queues
from knowledge.text import fold_chars, safe_text

PER_PAGE = 50
SOON_DAYS = 2  # open items with at most this many working days left are "due soon"
EXCERPT_CHARS = 160
STATE_CHOICES = ("open", "all", *texts.STATE_LABELS)  # "open": OPEN_STATES
MAX_TERMS = 8

# Every Latin letter `fold_chars` changes (upper case, diacritics, đ), with what it becomes: PostgreSQL folds
# with translate() (whatever the database's locale) the way SQLite folds with `fold_chars` itself.
_FOLDED = {c: fold_chars(c) for c in map(chr, [*range(0x41, 0x250), *range(0x1E00, 0x1F00)])}
_FROM = "".join(c for c, f in _FOLDED.items() if f != c and len(f) == 1 and f.isascii())
_TO = "".join(_FOLDED[c] for c in _FROM)
_SQLITE_FOLD = "tthc_fold"


class folded(GenericFunction):  # noqa: N801  (an SQL function)
    """A text column in lower case without diacritics, as `fold_chars` gives it."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded_sqlite(element, compiler, **kw):
    return f"{_SQLITE_FOLD}({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw):
    return compiler.process(func.lower(func.translate(*element.clauses, _FROM, _TO)), **kw)


@dataclass(frozen=True)
class Criteria:
    """What the inbox shows. `queue_ids` None: every queue (supervisors); otherwise only those."""

    viewer: str
    queue_ids: frozenset[int] | None
    state: str = "open"
    queue: int | None = None
    field: str | None = None
    procedure: str | None = None
    overdue: bool = False
    mine: bool = False
    unassigned: bool = False
    q: str = ""
    page: int = 1


@dataclass
class InboxPage:
    rows: list[dict]
    total: int
    page: int
    pages: int
    per_page: int = PER_PAGE
    today: date | None = None
    fields: list[str] = field(default_factory=list)  # the fields of the items the viewer may see


def search_terms(q: str) -> list[str]:
    """The words of a search, folded (no case, no diacritics)."""
    return fold_chars(safe_text(q or "")).split()[:MAX_TERMS]


def _conditions(c: Criteria, today: date) -> list:
    where = []
    if c.queue_ids is not None:
        where.append(items.c.queue_id.in_(sorted(c.queue_ids)) if c.queue_ids else false())
    if c.state == "open":
        where.append(items.c.state.in_(OPEN_STATES))
    elif c.state != "all":
        where.append(items.c.state == c.state)
    if c.queue is not None:
        where.append(items.c.queue_id == c.queue)
    if c.field:
        where.append(items.c.field == c.field)
    if c.procedure:
        where.append(items.c.procedure_code == c.procedure)
    if c.overdue:
        where += [items.c.state.in_(OPEN_STATES), items.c.deadline < today]
    if c.mine:
        where.append(items.c.assigned_to == c.viewer)
    if c.unassigned:
        where.append(items.c.assigned_to.is_(None))
    for term in search_terms(c.q):
        where.append(or_(*(folded(col).contains(term, autoescape=True) for col in (items.c.code, items.c.content))))
    return where


def days_left(state: str, deadline: date, today: date) -> int | None:
    """Working days until the deadline (0: due today; negative: working days past it); None when not open."""
    if state not in OPEN_STATES:
        return None
    if deadline >= today:
        return workdays.working_days_between(today, deadline)
    return -workdays.working_days_between(deadline, today)


def urgency(state: str, deadline: date, today: date) -> str | None:
    """ "overdue", "soon" (at most SOON_DAYS working days left) or None."""
    if is_overdue(state, deadline, today):
        return "overdue"
    left = days_left(state, deadline, today)
    return "soon" if left is not None and left <= SOON_DAYS else None


def inbox(factory: sessionmaker, c: Criteria, today: date | None = None, per_page: int = PER_PAGE) -> InboxPage:
    """One page of the inbox, ordered by deadline (then by arrival)."""
    if c.state not in STATE_CHOICES:
        raise ValueError(f"unknown state {c.state!r}")
    today = today or workdays.local_date(utcnow())
    where = _conditions(c, today)
    with factory() as s:
        conn = s.connection()
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.create_function(_SQLITE_FOLD, 1, _fold_or_none, deterministic=True)
        total = s.scalar(select(func.count()).select_from(items).where(*where))
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, c.page), pages)
        q = (
            select(
                items.c.code,
                items.c.kind,
                items.c.state,
                items.c.version,
                items.c.procedure_code,
                items.c.field,
                items.c.deadline,
                items.c.assigned_to,
                items.c.created_at,
                func.substr(items.c.content, 1, EXCERPT_CHARS + 1).label("excerpt"),
                queues.c.name.label("queue"),
            )
            .join(queues, queues.c.id == items.c.queue_id)
            .where(*where)
            .order_by(items.c.deadline, items.c.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        rows = [dict(r._mapping) for r in s.execute(q)]
        scope = [items.c.queue_id.in_(sorted(c.queue_ids))] if c.queue_ids is not None else []
        known = select(items.c.field).distinct().where(items.c.field.is_not(None), *scope)
        fields = list(s.scalars(known.order_by(items.c.field)))
    for r in rows:
        received = workdays.local_date(r["created_at"])
        r["received_on"] = received
        r["age"] = (today - received).days
        r["days_left"] = days_left(r["state"], r["deadline"], today)
        r["urgency"] = urgency(r["state"], r["deadline"], today)
        if len(r["excerpt"]) > EXCERPT_CHARS:
            r["excerpt"] = r["excerpt"][:EXCERPT_CHARS].rstrip() + "…"
    return InboxPage(rows, total, page, pages, per_page, today, fields)


def place(factory: sessionmaker, code: str) -> tuple[int, str] | None:
    """An item's (queue id, state), to check who may act on it; None when there is no such item."""
    with factory() as s:
        r = s.execute(select(items.c.queue_id, items.c.state).where(items.c.code == code)).first()
    return (r.queue_id, r.state) if r is not None else None


def _fold_or_none(value: str | None) -> str | None:
    return None if value is None else fold_chars(value)
