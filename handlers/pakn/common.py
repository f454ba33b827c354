"""What the feedback dialogs share: the desk (database, files, staff group), the uploads a form holds, and
the plumbing every part uses (the turn's database sessions, the citizen, storing the files a form takes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from feedback import attachments as files
from feedback import service as fs
from feedback import uploads
from feedback.tables import uploads as uploads_table
from feedback.validate import InvalidField
from handlers import store
from handlers.core import FILE_KINDS, Button, Incoming, Reply
from handlers.store import Journal
from knowledge.kb import KnowledgeBase

STALE = "Nút này thuộc một bước đã qua. "
FILE_MISSING = "Tôi chưa tải được tệp này, bạn vui lòng gửi lại."
FILES_FULL = "Đã đủ {max} tệp đính kèm. Bấm “Xong” để tiếp tục."


@dataclass
class Desk:
    """What the feedback dialogs need from the app: the database, where files go, the staff group."""

    factory: sessionmaker
    data_dir: Path
    staff_chat: str | None = None


def held(form: dict | None) -> set[int]:
    """The uploads a form holds: the intake draft's files, a reply's files, a draft put aside by /xoadulieu."""
    if not form:
        return set()
    draft = form.get("draft") if isinstance(form.get("draft"), dict) else {}
    found = fs.upload_ids(draft.get("attachments") or []) + fs.upload_ids(form.get("attached") or [])
    return set(found) | held(form.get("back") if isinstance(form.get("back"), dict) else None)


def sweep_uploads(desk: Desk, engine: Engine, context_ttl: timedelta) -> int:
    """Abandoned drafts: the uploads no conversation still in context holds go, with their files (and any
    file on disk no record knows). Run now and then (`App.upkeep`)."""
    live: set[int] = set()
    with engine.connect() as conn:
        owners = conn.execute(select(uploads_table.c.channel, uploads_table.c.channel_user_id).distinct()).all()
        for channel, user_id in owners:
            row = store.load(conn, channel, user_id, lock=False)
            if row is not None and store.aware(row.updated_at) >= store.now() - context_ttl:
                live |= held(row.state.get("form") if isinstance(row.state, dict) else None)
    return uploads.sweep(desk.factory, desk.data_dir, live)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _cancel(turn: int) -> Button:
    return Button("Hủy", f"x:{turn}", group="cancel")


class Base:
    """The plumbing of the feedback dialogs: `Feedback` is made of the parts built on it."""

    def __init__(self, kb: KnowledgeBase, desk: Desk, ask: Callable[[Any, str, Journal], list[Reply]]):
        self.kb = kb
        self.desk = desk
        self.ask = ask  # the dialog's question answering, for a message that turns out to be a question

    # ---- plumbing ------------------------------------------------------------------------------

    def db(self, journal: Journal) -> sessionmaker | store.ConnectionSessions:
        """Sessions on the turn's connection (a savepoint each) when there is one, else the app's."""
        return journal.sessions if journal.sessions is not None else self.desk.factory

    @staticmethod
    def citizen(journal: Journal) -> fs.Citizen:
        return fs.Citizen(journal.channel, journal.user_id, journal.chat_id or journal.user_id)

    def _store(self, msg: Incoming, journal: Journal, held: list[dict], most: int) -> tuple[list[dict], str]:
        """Check and store the message's files as the citizen's uploads; (the uploads as kept in the form,
        the reason one was refused)."""
        stored: list[dict] = []
        for a in msg.attachments:
            if a.kind not in FILE_KINDS:
                continue
            if len(held) + len(stored) >= most:
                return stored, FILES_FULL.format(max=most)
            try:
                files.check(a.name or None, a.size or None)
                if not a.data:
                    return stored, FILE_MISSING
                up = uploads.store(
                    self.db(journal),
                    self.desk.data_dir,
                    self.citizen(journal),
                    a.data,
                    a.name or None,
                    held=fs.upload_ids(held + stored),
                )
            except InvalidField as e:
                return stored, e.reason
            stored.append(up.to_dict())
        return stored, ""

    def release(self, journal: Journal, upload_ids: set[int]) -> None:
        """Delete uploads a form let go of (cancelled, cleared, left), with their files."""
        uploads.drop(self.db(journal), self.desk.data_dir, self.citizen(journal), upload_ids)
