"""What every feedback operation shares: loading an item, one audited state change with the message that
tells the citizen, and a staff action in one transaction.

A state change, its audit entry and the outbox message are written together, so none is lost without the
others. Two staff acting on one item at once: each change is an UPDATE guarded by the item's version, so
exactly one wins and the other gets `Conflict` (on SQLite the second writer waits for the first and then
finds the version gone; on PostgreSQL the row lock does the same). Logs carry ids, codes and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session, sessionmaker

from feedback import attachments as files
from feedback import codes
from feedback.model import (
    _RESERVED_ACTORS,
    _STAFF_NAME,
    MAX_NOTE_CHARS,
    TRANSITIONS,
    Conflict,
    FeedbackError,
    IllegalTransition,
    UnknownItem,
)
from feedback.outbox import Buttons, enqueue, utcnow
from feedback.tables import (
    audit,
    items,
    queues,
)
from feedback.validate import num

log = logging.getLogger(__name__)


def utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def staff_chat_id(value: str | None) -> str | None:
    """The staff group's chat id (bot.settings' STAFF_TELEGRAM_CHAT_ID); None or empty: no announcements."""
    return (value or "").strip() or None


def check_staff(staff: str) -> str:
    s = (staff or "").strip()
    if not _STAFF_NAME.fullmatch(s) or s in _RESERVED_ACTORS:
        raise FeedbackError(
            "staff: give the acting staff member's username (3-64 characters of a-z, 0-9, . _ -)",
            "Tài khoản cán bộ không hợp lệ.",
        )
    return s


def note_text(value: str | None, what: str, required: bool = False, vi: str = "nội dung") -> str | None:
    """A staff text, stripped; `what` names it in English, `vi` in Vietnamese (lower case) for the messages."""
    s = (value or "").strip()
    if required and not s:
        raise FeedbackError(f"{what} is required", f"Chưa nhập {vi}.")
    if len(s) > MAX_NOTE_CHARS:
        too_long = f"{vi[:1].upper()}{vi[1:]} dài quá {num(MAX_NOTE_CHARS)} ký tự."
        raise FeedbackError(f"{what}: at most {MAX_NOTE_CHARS} characters", too_long)
    return s or None


@contextmanager
def reading(factory: sessionmaker) -> Iterator[Session | Connection]:
    """Where a read-only operation runs its queries: a factory of sessions on one open connection (a dialog
    turn's, exposed as `conn`) gives that connection as is, since a read needs no savepoint of its own; any
    other gives a new Session."""
    conn = getattr(factory, "conn", None)
    if conn is not None:
        yield conn
        return
    with factory() as s:
        yield s


def load_item(s: Session, code: str) -> Row:
    canonical = codes.normalize(code) or code
    row = s.execute(select(items).where(items.c.code == canonical)).first()
    if row is None:
        raise UnknownItem(f"no feedback item {code}")
    return row


def queue_name(s: Session, queue_id: int) -> str:
    return s.scalar(select(queues.c.name).where(queues.c.id == queue_id))


def add_audit(s: Session, item_id: int, at: datetime, actor: str, action: str, before, after: str, note=None) -> None:
    s.execute(
        insert(audit).values(
            item_id=item_id, at=at, actor=actor, action=action, from_state=before, to_state=after, note=note
        )
    )


def notify_citizen(s: Session, item: Row, text: str, key: str, now: datetime, buttons: Buttons = ()) -> None:
    if item.chat_id:
        enqueue(
            s,
            channel=item.channel,
            chat_id=item.chat_id,
            text=text,
            key=f"{item.code}:{key}",
            now=now,
            item_id=item.id,
            buttons=buttons,
        )


def transition(
    s: Session,
    item: Row,
    action: str,
    actor: str,
    now: datetime,
    values: dict | None = None,
    note: str | None = None,
    notify: str | None = None,
    target: str | None = None,
    buttons: Buttons = (),
) -> str:
    """Check and apply one state change with its audit entry and citizen message (with `buttons` under it);
    returns the new state."""
    allowed, to_state = TRANSITIONS[action]
    if item.state not in allowed:
        raise IllegalTransition(
            f"{item.code}: cannot {action} an item that is {item.state} (allowed from: {', '.join(allowed)})"
        )
    to_state = target or to_state
    n = s.execute(
        update(items)
        .where(items.c.id == item.id, items.c.version == item.version)
        .values(state=to_state, version=item.version + 1, updated_at=now, **(values or {}))
    ).rowcount
    if n != 1:
        raise Conflict(f"{item.code} was changed by someone else meanwhile; reload it and try again")
    add_audit(s, item.id, now, actor, action, item.state, to_state, note)
    if notify:
        notify_citizen(s, item, notify, f"v{item.version + 1}", now, buttons)
    return to_state


def staff_action(
    factory: sessionmaker,
    code: str,
    staff: str,
    action: str,
    version: int | None,
    now: datetime | None,
    build: Callable[[Session, Row], tuple[dict, str | None, str | None]],
    buttons: Callable[[Row], Buttons] | None = None,
) -> int:
    """Run one staff action: `build` returns (column values, audit note, citizen text), `buttons` the buttons
    under that text. Returns the new version."""
    staff = check_staff(staff)
    now = now or utcnow()
    with factory.begin() as s:
        item = load_item(s, code)
        if version is not None and version != item.version:
            raise Conflict(f"{item.code} changed since you opened it (version {version}, now {item.version}); reload")
        allowed, _ = TRANSITIONS[action]
        if item.state not in allowed:
            raise IllegalTransition(
                f"{item.code}: cannot {action} an item that is {item.state} (allowed from: {', '.join(allowed)})"
            )
        values, note, notify = build(s, item)
        extra = buttons(item) if buttons is not None else ()
        state = transition(s, item, action, staff, now, values, note, notify, buttons=extra)
    log.info("feedback %s: %s by staff -> %s", item.code, action, state)
    return item.version + 1


def file_values(f: files.StoredFile) -> dict:
    return {
        "path": f.path,
        "filename": f.filename,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
    }
