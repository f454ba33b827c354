"""Staff views and reports: one item with its thread and audit, the list, duplicates, overdue, satisfaction."""

from __future__ import annotations

import logging
from datetime import date, datetime

from rapidfuzz import fuzz
from sqlalchemy import desc, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from feedback import texts, workdays
from feedback.model import DUPLICATE_POOL, DUPLICATE_THRESHOLD, OPEN_STATES, FeedbackError, ItemView
from feedback.outbox import enqueue, has_key, utcnow
from feedback.records import load_item, queue_name, staff_chat_id
from feedback.tables import (
    attachments,
    audit,
    items,
    messages,
    queues,
)
from knowledge.text import fold_chars

log = logging.getLogger(__name__)


def find_duplicates(s: Session, item: Row) -> list[tuple[str, float]]:
    q = select(items.c.code, items.c.content).where(items.c.state.in_(OPEN_STATES), items.c.id != item.id)
    if item.procedure_code:
        q = q.where(items.c.procedure_code == item.procedure_code)
    else:
        q = q.where(items.c.procedure_code.is_(None), items.c.queue_id == item.queue_id)
    mine = fold_chars(item.content)
    out = []
    for r in s.execute(q.order_by(desc(items.c.id)).limit(DUPLICATE_POOL)):
        score = fuzz.token_sort_ratio(mine, fold_chars(r.content))
        if score >= DUPLICATE_THRESHOLD:
            out.append((r.code, round(score, 1)))
    return sorted(out, key=lambda x: -x[1])


def candidate_duplicates(factory: sessionmaker, code: str) -> list[tuple[str, float]]:
    """Open items on the same procedure (or with none, in the same queue) with similar content."""
    with factory() as s:
        return find_duplicates(s, load_item(s, code))


def is_overdue(state: str, deadline: date, today: date) -> bool:
    return state in OPEN_STATES and today > deadline


def view(factory: sessionmaker, code: str, today: date | None = None) -> ItemView:
    today = today or workdays.local_date(utcnow())
    with factory() as s:
        it = load_item(s, code)
        return ItemView(
            item=dict(it._mapping),
            queue=queue_name(s, it.queue_id),
            overdue=is_overdue(it.state, it.deadline, today),
            messages=[
                dict(r._mapping)
                for r in s.execute(select(messages).where(messages.c.item_id == it.id).order_by(messages.c.id))
            ],
            attachments=[
                dict(r._mapping)
                for r in s.execute(select(attachments).where(attachments.c.item_id == it.id).order_by(attachments.c.id))
            ],
            audit=[
                dict(r._mapping) for r in s.execute(select(audit).where(audit.c.item_id == it.id).order_by(audit.c.id))
            ],
            duplicates=find_duplicates(s, it),
        )


def list_items(
    factory: sessionmaker,
    state: str | None = None,
    overdue: bool = False,
    queue: str | None = None,
    today: date | None = None,
    limit: int = 200,
) -> list[dict]:
    """Items for the staff list (no personal data): code, kind, state, queue, deadline, assignee, overdue."""
    today = today or workdays.local_date(utcnow())
    q = (
        select(
            items.c.code,
            items.c.kind,
            items.c.state,
            items.c.version,
            items.c.deadline,
            items.c.assigned_to,
            items.c.procedure_code,
            items.c.created_at,
            queues.c.name.label("queue"),
        )
        .join(queues, queues.c.id == items.c.queue_id)
        .order_by(items.c.deadline, items.c.id)
        .limit(limit)
    )
    if state:
        if state not in texts.STATE_LABELS:
            raise FeedbackError(f"unknown state {state!r}; one of: {', '.join(texts.STATE_LABELS)}")
        q = q.where(items.c.state == state)
    if overdue:
        q = q.where(items.c.state.in_(OPEN_STATES), items.c.deadline < today)
    if queue:
        q = q.where(queues.c.name == queue)
    with factory() as s:
        rows = [dict(r._mapping) for r in s.execute(q)]
    for r in rows:
        r["overdue"] = is_overdue(r["state"], r["deadline"], today)
    return rows


def check_overdue(factory: sessionmaker, now: datetime | None = None, staff_chat: str | None = None) -> list[str]:
    """Flag open items past their deadline (once per deadline) and announce them in the staff group."""
    now = now or utcnow()
    today = workdays.local_date(now)
    staff_chat = staff_chat_id(staff_chat)
    flagged = []
    with factory.begin() as s:
        rows = s.execute(
            select(items.c.id, items.c.code, items.c.state, items.c.deadline, queues.c.name.label("queue"))
            .join(queues, queues.c.id == items.c.queue_id)
            .where(items.c.state.in_(OPEN_STATES), items.c.deadline < today, items.c.overdue_at.is_(None))
        ).all()
        for r in rows:
            s.execute(update(items).where(items.c.id == r.id, items.c.overdue_at.is_(None)).values(overdue_at=now))
            key = f"{r.code}:overdue:{r.deadline.isoformat()}"
            if staff_chat and not has_key(s, key):
                enqueue(
                    s,
                    channel="telegram",
                    chat_id=staff_chat,
                    text=texts.staff_overdue(r.code, r.queue, r.deadline, r.state),
                    key=key,
                    now=now,
                    item_id=r.id,
                )
            flagged.append(r.code)
    if flagged:
        log.info("feedback: %d items newly overdue", len(flagged))
    return flagged


def satisfaction(factory: sessionmaker, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Ratings for reports: how many, the average and the count per star."""
    q = select(items.c.rating, func.count()).where(items.c.rating.is_not(None)).group_by(items.c.rating)
    if since:
        q = q.where(items.c.rated_at >= since)
    if until:
        q = q.where(items.c.rated_at < until)
    with factory() as s:
        by = {int(r): int(n) for r, n in s.execute(q)}
    total = sum(by.values())
    return {
        "count": total,
        "average": round(sum(k * v for k, v in by.items()) / total, 2) if total else None,
        "by_stars": {k: by.get(k, 0) for k in range(1, 6)},
    }
