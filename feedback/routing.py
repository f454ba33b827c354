"""Queues with their working-day deadlines, routing rules, and the reasons staff may reject with."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from sqlalchemy import desc, exists, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from feedback.model import FeedbackError
from feedback.tables import (
    queues,
    reject_reasons,
    routing_rules,
)
from knowledge.text import fold_chars

log = logging.getLogger(__name__)


class ConfigError(FeedbackError):
    """A refused change to queues, routing rules, reject reasons or answer templates: the message is English
    (the CLI), `vi` says the same in Vietnamese (the dashboard)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi


def route(s: Session, field: str | None, procedure_code: str | None, content: str) -> Row:
    """The queue for an item: the first matching active rule by priority, else the default queue."""
    folded = fold_chars(content)
    f_field = " ".join(fold_chars(field or "").split())
    rules = s.execute(
        select(routing_rules, queues.c.name, queues.c.deadline_days)
        .join(queues, queues.c.id == routing_rules.c.queue_id)
        .where(routing_rules.c.active.is_(True), queues.c.active.is_(True))
        .order_by(routing_rules.c.priority, routing_rules.c.id)
    ).all()
    for r in rules:
        if r.field and " ".join(fold_chars(r.field).split()) != f_field:
            continue
        if r.procedure_code and r.procedure_code != procedure_code:
            continue
        if r.keywords:
            words = [" ".join(fold_chars(k).split()) for k in r.keywords.split(",") if k.strip()]
            if not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded) for w in words):
                continue
        return s.execute(select(queues).where(queues.c.id == r.queue_id)).one()
    q = s.execute(
        select(queues).where(queues.c.active.is_(True)).order_by(desc(queues.c.is_default), queues.c.id)
    ).first()
    if q is None:
        raise FeedbackError("no active feedback queue; add one with `feedback queue add`")
    return q


def add_queue(factory: sessionmaker, name: str, deadline_days: int, default: bool = False) -> int:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise FeedbackError("queue name: 1-200 characters")
    _check_days(deadline_days)
    with factory.begin() as s:
        if s.scalar(select(exists().where(queues.c.name == name))):
            raise FeedbackError(f"queue {name!r} exists already")
        if default:
            s.execute(update(queues).values(is_default=False))
        return s.execute(
            insert(queues).values(name=name, deadline_days=deadline_days, is_default=default, active=True)
        ).inserted_primary_key[0]


def _check_days(days: int) -> None:
    if not isinstance(days, int) or not 1 <= days <= 60:
        raise FeedbackError("deadline: 1-60 working days")


def set_queue(factory: sessionmaker, name: str, deadline_days: int | None = None, default: bool = False) -> None:
    with factory.begin() as s:
        qid = s.scalar(select(queues.c.id).where(queues.c.name == name))
        if qid is None:
            raise FeedbackError(f"no queue {name!r}")
        if deadline_days is not None:
            _check_days(deadline_days)
            s.execute(update(queues).where(queues.c.id == qid).values(deadline_days=deadline_days))
        if default:
            s.execute(update(queues).values(is_default=False))
            s.execute(update(queues).where(queues.c.id == qid).values(is_default=True))


def list_queues(factory: sessionmaker) -> list[dict]:
    with factory() as s:
        return [dict(r._mapping) for r in s.execute(select(queues).order_by(queues.c.id))]


def add_rule(
    factory: sessionmaker,
    queue: str,
    field: str | None = None,
    procedure_code: str | None = None,
    keywords: Iterable[str] = (),
    priority: int = 100,
) -> int:
    words = [" ".join(k.split()) for k in keywords if k and k.strip()]
    if not (field or procedure_code or words):
        raise FeedbackError("a rule needs a field, a procedure code or keywords")
    with factory.begin() as s:
        qid = s.scalar(select(queues.c.id).where(queues.c.name == queue))
        if qid is None:
            raise FeedbackError(f"no queue {queue!r}")
        return s.execute(
            insert(routing_rules).values(
                queue_id=qid,
                priority=priority,
                field=(field or "").strip() or None,
                procedure_code=(procedure_code or "").strip() or None,
                keywords=", ".join(words) or None,
                active=True,
            )
        ).inserted_primary_key[0]


def list_rules(factory: sessionmaker) -> list[dict]:
    with factory() as s:
        return [
            dict(r._mapping)
            for r in s.execute(
                select(routing_rules, queues.c.name.label("queue"))
                .join(queues, queues.c.id == routing_rules.c.queue_id)
                .order_by(routing_rules.c.priority, routing_rules.c.id)
            )
        ]


def list_reject_reasons(factory: sessionmaker) -> list[tuple[str, str]]:
    with factory() as s:
        return [
            (r.code, r.label)
            for r in s.execute(
                select(reject_reasons.c.code, reject_reasons.c.label)
                .where(reject_reasons.c.active.is_(True))
                .order_by(reject_reasons.c.position)
            )
        ]
