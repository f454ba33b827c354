"""Internal notes on an item: what staff tell each other about it. A note is audited but changes neither the
state nor the version, and never reaches the citizen: not in a message, not in their data (`citizen.my_data`),
not in a publication."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import sessionmaker

from feedback.outbox import utcnow
from feedback.records import add_audit, check_staff, load_item, note_text
from feedback.tables import notes

log = logging.getLogger(__name__)


def add_note(factory: sessionmaker, code: str, staff: str, body: str, now: datetime | None = None) -> int:
    """Add a note by `staff` to an item in any state; returns its id."""
    staff = check_staff(staff)
    text = note_text(body, "the note", required=True, vi="nội dung ghi chú")
    now = now or utcnow()
    with factory.begin() as s:
        it = load_item(s, code)
        values = {"item_id": it.id, "at": now, "author": staff, "body": text}
        note_id = s.execute(insert(notes).values(**values)).inserted_primary_key[0]
        add_audit(s, it.id, now, staff, "note", it.state, it.state)
    log.info("feedback %s: internal note added", it.code)
    return note_id


def list_notes(factory: sessionmaker, code: str) -> list[dict]:
    """The notes on an item, oldest first: id, at, author, body."""
    with factory() as s:
        it = load_item(s, code)
        rows = s.execute(
            select(notes.c.id, notes.c.at, notes.c.author, notes.c.body)
            .where(notes.c.item_id == it.id)
            .order_by(notes.c.id)
        )
        return [dict(r._mapping) for r in rows]
