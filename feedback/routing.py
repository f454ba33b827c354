"""Queues with their working-day deadlines, routing rules, and the reasons staff may reject with.

Settings are kept, never deleted (items refer to them): a queue, rule or reason no longer wanted is made
inactive. Refused changes raise `ConfigError`, in English and in Vietnamese."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from sqlalchemy import desc, exists, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from feedback.model import FeedbackError
from feedback.tables import (
    queues,
    reject_reasons,
    routing_rules,
)
from feedback.validate import InvalidField, clean_procedure_code
from knowledge.text import fold_chars, safe_text

log = logging.getLogger(__name__)

MAX_DAYS = 60
MAX_PRIORITY = 10000
MAX_REASON_LABEL = 300
_REASON_CODE = re.compile(r"[a-z0-9_]{2,32}")


class ConfigError(FeedbackError):
    """A refused change to queues, routing rules, reject reasons or answer templates: the message is English
    (the CLI), `vi` says the same in Vietnamese (the dashboard)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi


def _fold(text: str | None) -> str:
    return " ".join(fold_chars(text or "").split())


def _first_rule(s: Session, field: str | None, procedure_code: str | None, content: str) -> Row | None:
    """The first active rule, by priority, whose every criterion matches (its queue active too)."""
    folded, f_field = fold_chars(content), _fold(field)
    rules = s.execute(
        select(routing_rules)
        .join(queues, queues.c.id == routing_rules.c.queue_id)
        .where(routing_rules.c.active.is_(True), queues.c.active.is_(True))
        .order_by(routing_rules.c.priority, routing_rules.c.id)
    ).all()
    for r in rules:
        if r.field and _fold(r.field) != f_field:
            continue
        if r.procedure_code and r.procedure_code != procedure_code:
            continue
        if r.keywords:
            words = [_fold(k) for k in r.keywords.split(",") if k.strip()]
            if not any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded) for w in words):
                continue
        return r
    return None


def route(s: Session, field: str | None, procedure_code: str | None, content: str) -> Row:
    """The queue for an item: the first matching active rule by priority, else the default queue."""
    rule = _first_rule(s, field, procedure_code, content)
    if rule is not None:
        return s.execute(select(queues).where(queues.c.id == rule.queue_id)).one()
    q = s.execute(
        select(queues).where(queues.c.active.is_(True)).order_by(desc(queues.c.is_default), queues.c.id)
    ).first()
    if q is None:
        raise FeedbackError("no active feedback queue; add one with `feedback queue add`")
    return q


def explain_route(factory: sessionmaker, field: str | None, procedure_code: str | None, content: str) -> dict:
    """Where `route` would send an item (nothing is written): {"queue": name, "rule_id": the rule or None}."""
    with factory() as s:
        rule = _first_rule(s, field, procedure_code, content or "")
        return {"queue": route(s, field, procedure_code, content or "").name, "rule_id": rule.id if rule else None}


# ---- queues ----------------------------------------------------------------------------------------------------


def _queue_id(s: Session, queue: str | int) -> int:
    """A queue by name (the CLI) or id (the dashboard)."""
    qid = s.scalar(
        select(queues.c.id).where(queues.c.id == queue if isinstance(queue, int) else queues.c.name == queue)
    )
    if qid is None:
        raise ConfigError(f"no queue {queue!r}", "Không tìm thấy hàng đợi này.")
    return qid


def _check_days(days: int) -> None:
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"deadline: 1-{MAX_DAYS} working days", f"Thời hạn xử lý: từ 1 đến {MAX_DAYS} ngày làm việc.")


def add_queue(factory: sessionmaker, name: str, deadline_days: int, default: bool = False) -> int:
    name = " ".join(safe_text(name or "").split())
    if not name or len(name) > 200:
        raise ConfigError("queue name: 1-200 characters", "Tên hàng đợi: từ 1 đến 200 ký tự.")
    _check_days(deadline_days)
    with factory.begin() as s:
        if s.scalar(select(exists().where(queues.c.name == name))):
            raise ConfigError(f"queue {name!r} exists already", f"Hàng đợi “{name}” đã có.")
        if default:
            s.execute(update(queues).values(is_default=False))
        return s.execute(
            insert(queues).values(name=name, deadline_days=deadline_days, is_default=default, active=True)
        ).inserted_primary_key[0]


def update_queue(
    factory: sessionmaker,
    queue: str | int,
    deadline_days: int | None = None,
    default: bool = False,
    active: bool | None = None,
) -> None:
    """Change a queue's deadline (for items filed from now on), make it the default, or (de)activate it. The
    default queue stays active, and one queue at least stays active."""
    if deadline_days is not None:
        _check_days(deadline_days)
    with factory.begin() as s:
        q = s.execute(select(queues).where(queues.c.id == _queue_id(s, queue))).one()
        if default and not (q.active if active is None else active):
            raise ConfigError("the default queue must be active", "Hàng đợi mặc định phải đang được sử dụng.")
        if active is False and q.is_default:
            raise ConfigError(
                f"queue {q.name!r} is the default; make another queue the default first",
                f"“{q.name}” là hàng đợi mặc định: hãy chọn hàng đợi mặc định khác trước khi ngừng sử dụng.",
            )
        others = s.scalar(select(func.count()).where(queues.c.active.is_(True), queues.c.id != q.id))
        if active is False and not others:
            raise ConfigError("the last active queue cannot be deactivated", "Phải còn ít nhất một hàng đợi hoạt động.")
        values: dict = {}
        if deadline_days is not None:
            values["deadline_days"] = deadline_days
        if active is not None:
            values["active"] = active
        if default:
            s.execute(update(queues).values(is_default=False))
            values["is_default"] = True
        if values:
            s.execute(update(queues).where(queues.c.id == q.id).values(**values))


def list_queues(factory: sessionmaker) -> list[dict]:
    with factory() as s:
        return [dict(r._mapping) for r in s.execute(select(queues).order_by(queues.c.id))]


# ---- routing rules ---------------------------------------------------------------------------------------------


def _rule_values(
    s: Session,
    queue: str | int,
    field: str | None,
    procedure_code: str | None,
    keywords: Iterable[str],
    priority: int,
) -> dict:
    words = [" ".join(safe_text(k).split()) for k in keywords if k and k.strip()]
    field = " ".join(safe_text(field or "").split()) or None
    try:
        code = clean_procedure_code(procedure_code)
    except InvalidField as e:
        raise ConfigError(f"procedure code {procedure_code!r} is not valid", e.reason) from None
    if not (field or code or words):
        raise ConfigError(
            "a rule needs a field, a procedure code or keywords",
            "Quy tắc cần ít nhất một điều kiện: lĩnh vực, mã thủ tục hoặc từ khóa.",
        )
    if field is not None and len(field) > 200:
        raise ConfigError("field: at most 200 characters", "Lĩnh vực: tối đa 200 ký tự.")
    if not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise ConfigError(f"priority: 0-{MAX_PRIORITY}", f"Thứ tự ưu tiên: số từ 0 đến {MAX_PRIORITY}.")
    return {
        "queue_id": _queue_id(s, queue),
        "priority": priority,
        "field": field,
        "procedure_code": code,
        "keywords": ", ".join(words) or None,
    }


def add_rule(
    factory: sessionmaker,
    queue: str | int,
    field: str | None = None,
    procedure_code: str | None = None,
    keywords: Iterable[str] = (),
    priority: int = 100,
) -> int:
    with factory.begin() as s:
        values = _rule_values(s, queue, field, procedure_code, keywords, priority)
        return s.execute(insert(routing_rules).values(**values, active=True)).inserted_primary_key[0]


def edit_rule(
    factory: sessionmaker,
    rule_id: int,
    queue: str | int,
    field: str | None,
    procedure_code: str | None,
    keywords: Iterable[str],
    priority: int,
    active: bool,
) -> None:
    with factory.begin() as s:
        values = _rule_values(s, queue, field, procedure_code, keywords, priority)
        n = s.execute(update(routing_rules).where(routing_rules.c.id == rule_id).values(**values, active=active))
        if n.rowcount != 1:
            raise ConfigError(f"no rule #{rule_id}", "Không tìm thấy quy tắc này.")


def list_rules(factory: sessionmaker) -> list[dict]:
    """Every rule, inactive ones included, in the order they are tried."""
    with factory() as s:
        return [
            dict(r._mapping)
            for r in s.execute(
                select(routing_rules, queues.c.name.label("queue"))
                .join(queues, queues.c.id == routing_rules.c.queue_id)
                .order_by(routing_rules.c.priority, routing_rules.c.id)
            )
        ]


# ---- reject reasons --------------------------------------------------------------------------------------------


def list_reject_reasons(factory: sessionmaker) -> list[tuple[str, str]]:
    """The active reasons (code, label), as offered to staff."""
    with factory() as s:
        return [
            (r.code, r.label)
            for r in s.execute(
                select(reject_reasons.c.code, reject_reasons.c.label)
                .where(reject_reasons.c.active.is_(True))
                .order_by(reject_reasons.c.position)
            )
        ]


def all_reject_reasons(factory: sessionmaker) -> list[dict]:
    """Every reason, inactive ones included, by position."""
    with factory() as s:
        rows = s.execute(select(reject_reasons).order_by(reject_reasons.c.position, reject_reasons.c.code))
        return [dict(r._mapping) for r in rows]


def _reason_label(label: str) -> str:
    label = " ".join(safe_text(label or "").split())
    if not 1 <= len(label) <= MAX_REASON_LABEL:
        raise ConfigError(
            f"label: 1-{MAX_REASON_LABEL} characters", f"Nội dung lý do: từ 1 đến {MAX_REASON_LABEL} ký tự."
        )
    return label


def _check_position(position: int) -> None:
    if not isinstance(position, int) or not 0 <= position <= 1000:
        raise ConfigError("position: 0-1000", "Vị trí: số từ 0 đến 1000.")


def add_reject_reason(factory: sessionmaker, code: str, label: str, position: int | None = None) -> None:
    """A new reason; `position` None puts it last."""
    code = (code or "").strip()
    if not _REASON_CODE.fullmatch(code):
        raise ConfigError(
            "code: 2-32 characters of a-z, 0-9 and _", "Mã lý do: 2–32 ký tự gồm chữ thường không dấu, số và dấu _."
        )
    label = _reason_label(label)
    with factory.begin() as s:
        if s.scalar(select(exists().where(reject_reasons.c.code == code))):
            raise ConfigError(f"reason {code!r} exists already", f"Mã lý do “{code}” đã có.")
        if position is None:
            position = (s.scalar(select(func.max(reject_reasons.c.position))) or 0) + 1
        _check_position(position)
        s.execute(insert(reject_reasons).values(code=code, label=label, position=position, active=True))


def edit_reject_reason(factory: sessionmaker, code: str, label: str, position: int, active: bool) -> None:
    """Change a reason's label or position, or (de)activate it; its code stays (items refer to it)."""
    label = _reason_label(label)
    _check_position(position)
    with factory.begin() as s:
        others = select(func.count()).where(reject_reasons.c.active.is_(True), reject_reasons.c.code != code)
        if not active and not s.scalar(others):
            raise ConfigError("the last active reason cannot be deactivated", "Phải còn ít nhất một lý do từ chối.")
        n = s.execute(
            update(reject_reasons)
            .where(reject_reasons.c.code == code)
            .values(label=label, position=position, active=active)
        ).rowcount
        if n != 1:
            raise ConfigError(f"no reason {code!r}", "Không tìm thấy lý do này.")
