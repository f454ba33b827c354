"""Answer templates staff start from when they answer, ask for information, transfer or reject: per action and,
optionally, per kind of feedback (phản ánh or kiến nghị). Kept, never deleted: a template no longer wanted is
made inactive."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import sessionmaker

from feedback.model import MAX_NOTE_CHARS
from feedback.routing import ConfigError
from feedback.tables import templates
from feedback.validate import KINDS
from knowledge.text import safe_text

ACTIONS = ("answer", "ask_info", "transfer", "reject")
MAX_TITLE = 120


def active_for(factory: sessionmaker, action: str, kind: str | None = None) -> list[dict]:
    """The active templates for `action` on an item of `kind`: those written for that kind first, then those for
    both kinds, each group by title. Dicts with id, title and body."""
    cond = templates.c.kind.is_(None) if kind is None else (templates.c.kind.is_(None) | (templates.c.kind == kind))
    with factory() as s:
        rows = s.execute(
            select(templates.c.id, templates.c.title, templates.c.body)
            .where(templates.c.action == action, templates.c.active.is_(True), cond)
            .order_by(templates.c.kind.is_(None), templates.c.title, templates.c.id)
        )
        return [dict(r._mapping) for r in rows]


def list_templates(factory: sessionmaker) -> list[dict]:
    """Every template, inactive ones included, by action, kind and title."""
    with factory() as s:
        rows = s.execute(select(templates).order_by(templates.c.action, templates.c.kind, templates.c.title))
        return [dict(r._mapping) for r in rows]


def _clean(action: str, kind: str | None, title: str, body: str) -> dict:
    if action not in ACTIONS:
        raise ConfigError(f"action: one of {', '.join(ACTIONS)}", "Hãy chọn thao tác của mẫu.")
    kind = kind or None
    if kind is not None and kind not in KINDS:
        raise ConfigError("kind: phan_anh, kien_nghi or none", "Loại phản ánh, kiến nghị không hợp lệ.")
    title = " ".join(safe_text(title or "").split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise ConfigError(f"title: 1-{MAX_TITLE} characters", f"Tên mẫu: từ 1 đến {MAX_TITLE} ký tự.")
    body = safe_text(body or "").strip()
    if not 1 <= len(body) <= MAX_NOTE_CHARS:
        raise ConfigError(f"body: 1-{MAX_NOTE_CHARS} characters", f"Nội dung mẫu: từ 1 đến {MAX_NOTE_CHARS} ký tự.")
    return {"action": action, "kind": kind, "title": title, "body": body}


def add_template(factory: sessionmaker, action: str, kind: str | None, title: str, body: str) -> int:
    values = _clean(action, kind, title, body)
    with factory.begin() as s:
        return s.execute(insert(templates).values(**values, active=True)).inserted_primary_key[0]


def edit_template(
    factory: sessionmaker, template_id: int, action: str, kind: str | None, title: str, body: str, active: bool
) -> None:
    values = _clean(action, kind, title, body)
    with factory.begin() as s:
        n = s.execute(update(templates).where(templates.c.id == template_id).values(**values, active=active)).rowcount
    if n != 1:
        raise ConfigError(f"no template #{template_id}", "Không tìm thấy mẫu này.")
