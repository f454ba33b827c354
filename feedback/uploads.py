"""Files a citizen sends before submitting: owned by that citizen, counted against quotas, gone with the
draft.

A photo or PDF sent to the intake form (or to a reply being written) is stored at once, as a file of its
own, and recorded in `feedback_uploads` under its owner. Submitting moves the record to the item's
attachments; cancelling, erasing or abandoning the draft deletes record and file. Quotas: what one
citizen holds unsubmitted (one draft's worth), and what all citizens hold together, with a reserve of
free disk kept.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from feedback import attachments as files
from feedback.model import Citizen
from feedback.outbox import utcnow
from feedback.records import file_values
from feedback.tables import attachments, uploads
from feedback.validate import InvalidField

log = logging.getLogger(__name__)

PER_USER_BYTES = files.MAX_PER_ITEM * files.MAX_BYTES  # one draft's worth, unsubmitted
TOTAL_BYTES = 2 * 1024**3  # all unsubmitted uploads together
FREE_RESERVE_BYTES = 512 * 1024**2  # never fill the disk beyond this
USER_FULL = (
    "Bạn đã gửi đủ dung lượng tệp cho một phản ánh, kiến nghị chưa gửi ({mb} MB). "
    "Bạn hãy gửi phản ánh, hoặc bỏ bớt tệp đã gửi."
)
DUPLICATE = "Tệp này bạn đã gửi rồi."


@dataclass(frozen=True)
class Upload:
    id: int
    filename: str | None
    size: int

    def to_dict(self) -> dict:
        """As kept in a draft (the conversation state): the id, and what the summary shows."""
        return {"upload": self.id, "filename": self.filename, "size": self.size}


def _owner(citizen: Citizen):
    return (uploads.c.channel == citizen.channel) & (uploads.c.channel_user_id == str(citizen.user_id))


def store(
    factory: sessionmaker,
    data_dir: str | Path,
    citizen: Citizen,
    data: bytes,
    filename: str | None = None,
    held: Collection[int] = (),
    now: datetime | None = None,
) -> Upload:
    """Check one file and the quotas, store it and record it as the citizen's. `held`: the upload ids the
    draft already has (the same file twice is refused). InvalidField (Vietnamese reason) when refused."""
    files.check(filename, len(data))
    with factory.begin() as s:
        mine = s.execute(select(uploads.c.id, uploads.c.sha256, uploads.c.size).where(_owner(citizen))).all()
        digest = hashlib.sha256(data).hexdigest()
        if any(r.id in held and r.sha256 == digest for r in mine):
            raise InvalidField("attachment", DUPLICATE)
        if sum(r.size for r in mine) + len(data) > PER_USER_BYTES:
            raise InvalidField("attachment", USER_FULL.format(mb=PER_USER_BYTES // 1024**2))
        total = s.scalar(select(func.coalesce(func.sum(uploads.c.size), 0)))
        if total + len(data) > TOTAL_BYTES or _free(data_dir) - len(data) < FREE_RESERVE_BYTES:
            log.warning("uploads refused: quota or disk reserve reached")
            raise InvalidField("attachment", files.NOT_SAVED)
        f = files.save(data_dir, data, filename)
        try:
            upload_id = s.execute(
                insert(uploads).values(
                    channel=citizen.channel,
                    channel_user_id=str(citizen.user_id),
                    created_at=now or utcnow(),
                    **file_values(f),
                )
            ).inserted_primary_key[0]
        except Exception:
            files.remove(data_dir, f.path)
            raise
    return Upload(upload_id, f.filename, f.size)


def _free(data_dir: str | Path) -> int:
    path = Path(data_dir)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def count(factory: sessionmaker, citizen: Citizen) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(uploads).where(_owner(citizen)))


def discard(s: Session, data_dir: str | Path, citizen: Citizen, only: Collection[int] | None = None) -> int:
    """Delete the citizen's uploads (all, or `only` these ids), records and files. Returns how many."""
    q = select(uploads.c.id, uploads.c.path).where(_owner(citizen))
    if only is not None:
        q = q.where(uploads.c.id.in_(list(only)))
    rows = s.execute(q).all()
    if rows:
        s.execute(delete(uploads).where(uploads.c.id.in_([r.id for r in rows])))
        for r in rows:
            files.remove(data_dir, r.path)
    return len(rows)


def drop(factory: sessionmaker, data_dir: str | Path, citizen: Citizen, only: Collection[int] | None = None) -> int:
    """`discard` in a transaction of its own (a cancelled draft, a cleared list of files)."""
    with factory.begin() as s:
        return discard(s, data_dir, citizen, only)


def attach(
    s: Session,
    data_dir: str | Path,
    citizen: Citizen,
    upload_ids: Collection[int],
    item_id: int,
    now: datetime,
    message_id: int | None = None,
) -> None:
    """Move the citizen's uploads to an item (or one of its messages), checking each file on disk."""
    rows = s.execute(select(uploads).where(_owner(citizen), uploads.c.id.in_(list(upload_ids)))).all()
    if len(rows) != len(set(upload_ids)):
        raise InvalidField("attachment", "Không tìm thấy tệp đính kèm, hãy gửi lại.")
    for r in rows:
        stored = files.StoredFile(r.path, r.content_type, r.size, r.sha256, r.filename)
        files.verify(data_dir, stored)
        s.execute(
            insert(attachments).values(item_id=item_id, message_id=message_id, created_at=now, **file_values(stored))
        )
    s.execute(delete(uploads).where(uploads.c.id.in_([r.id for r in rows])))


def sweep(
    factory: sessionmaker,
    data_dir: str | Path,
    live: Collection[int],
    grace: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> int:
    """Remove uploads that no live draft holds (`live`: the upload ids the drafts of conversations still in
    context hold), and files on disk that no record knows. Anything younger than `grace` is left alone:
    its turn may still be running. Returns how many files went."""
    now = now or utcnow()
    with factory.begin() as s:
        stale = [
            r
            for r in s.execute(select(uploads.c.id, uploads.c.path).where(uploads.c.created_at < now - grace)).all()
            if r.id not in live
        ]
        if stale:
            s.execute(delete(uploads).where(uploads.c.id.in_([r.id for r in stale])))
        known = set(s.scalars(select(uploads.c.path))) | set(s.scalars(select(attachments.c.path)))
    for r in stale:
        files.remove(data_dir, r.path)
    cutoff = time.time() - grace.total_seconds()
    orphans = [p for p, mtime in files.on_disk(data_dir) if p not in known and mtime < cutoff]
    for p in orphans:
        files.remove(data_dir, p)
    if stale or orphans:
        log.info("uploads swept: %d abandoned, %d orphan files", len(stale), len(orphans))
    return len(stale) + len(orphans)
