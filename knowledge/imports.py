"""Imports of procedure files that are checked before anything changes, then applied all-or-nothing.

An uploaded file (the national portal's crawl, JSON Lines plain or gzip, or the project's own JSON Lines, XLSX,
CSV as `kb export` writes them) is kept under DATA_DIR/imports with a random name and checked: which records are
new, which change (and which fields), which are unchanged, which are refused (where and why), and the data
problems `kb check` finds in them. The report is kept in `kb_imports` (status "checked"), so any process can show
it. Applying it ("applying", with done/total written as it goes, then "applied" or "failed") saves the readable
records in one transaction (`store.save_procedures`), only if the knowledge base is still at the revision it was
checked against. Refused records are applied around only when the admin says so. Reasons are in Vietnamese, for
the page that shows them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text, desc, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from knowledge import formats, integrity, store
from knowledge.formats import ImportFailed, Where
from knowledge.model import Procedure

log = logging.getLogger(__name__)

kb_imports = Table(
    "kb_imports",
    store.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("actor", String(100), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("path", Text, nullable=False),  # relative to DATA_DIR
    Column("status", String(16), nullable=False),
    Column("report", JSON, nullable=True),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

MAX_BYTES = 50 * 2**20  # the largest file taken (the whole bundled KB is 22 MB as JSON Lines, 2.6 MB as XLSX)
MAX_RECORDS = 20_000  # records in one file (the bundled KB has 2,642)
SUBDIR = "imports"
LISTED = 500  # entries kept in each list of a report (its counts are whole)
RECENT = 50  # imports listed on the page
# Accepted names, longest first; what the bytes of each must be.
EXTENSIONS = (".jsonl.gz", ".jsonl", ".xlsx", ".csv")
ZIP, GZIP = b"PK\x03\x04", b"\x1f\x8b"
CHECKED, APPLYING, APPLIED, FAILED, EXPIRED = "checked", "applying", "applied", "failed", "expired"
KEEP = timedelta(days=1)  # an import not applied within this is expired by the sweep and its file removed
EXPIRED_TEXT = "Đã quá 24 giờ kể từ khi kiểm tra nên tệp đã được xóa. Muốn nhập, hãy tải tệp lên lại."
INTERRUPTED_TEXT = (
    "Lần áp dụng bị gián đoạn (tiến trình dừng giữa chừng) nên không có gì thay đổi; tệp đã được xóa. "
    "Muốn nhập, hãy tải tệp lên lại."
)
PLACE = {"line": "dòng", "row": "hàng"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # in no record: a spreadsheet cell cannot hold them (XLSX)
ACCEPTED = "Chỉ nhận tệp .jsonl, .jsonl.gz (định dạng của Cổng Dịch vụ công hoặc của hệ thống), .xlsx hoặc .csv."


class ImportRefused(Exception):
    """A file or an apply refused; `vi` says why, in Vietnamese."""

    def __init__(self, vi: str):
        super().__init__(vi)
        self.vi = vi


@dataclass(frozen=True)
class Upload:
    """One import as its row holds it."""

    token: str
    actor: str
    filename: str
    path: str
    status: str
    report: dict
    done: int
    total: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def now() -> datetime:
    return datetime.now(UTC)


def place(where: Where) -> str:
    return f"{PLACE[where.kind]} {where.n}"


# ---- the file ----------------------------------------------------------------------------------------------------


def extension(filename: str, head: bytes) -> str:
    """The file's kind, as the extension it is stored under: from its name, which its first bytes must bear out."""
    name = filename.lower().strip()
    ext = next((e for e in EXTENSIONS if name.endswith(e)), None)
    if ext is None:
        raise ImportRefused(f"Tệp “{filename}” không đúng loại. {ACCEPTED}")
    if ext == ".xlsx" and not head.startswith(ZIP):
        raise ImportRefused("Tệp có phần mở rộng .xlsx nhưng nội dung không phải bảng tính XLSX.")
    if ext == ".jsonl.gz" and not head.startswith(GZIP):
        raise ImportRefused("Tệp có phần mở rộng .gz nhưng nội dung không phải tệp nén gzip.")
    if ext in (".jsonl", ".csv") and head.startswith(ZIP):
        raise ImportRefused(f"Tệp có phần mở rộng {ext} nhưng nội dung là tệp nén ZIP (bảng tính XLSX?).")
    if ext in (".jsonl", ".csv") and not head.startswith(GZIP) and b"\x00" in head:
        raise ImportRefused("Tệp chứa dữ liệu nhị phân, không phải văn bản. " + ACCEPTED)
    return ext


def _keep(data_dir: Path, token: str, filename: str, src: BinaryIO) -> Path:
    """The upload copied under DATA_DIR with a name of our own; refused (and removed) when too large or not of an
    accepted kind."""
    head = src.read(8192)
    if not head:
        raise ImportRefused("Tệp rỗng: không có bản ghi nào.")
    folder = data_dir / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}{extension(filename, head)}"
    try:
        with path.open("wb") as out:
            out.write(head)
            shutil.copyfileobj(src, out, 1 << 20)
        if path.stat().st_size > MAX_BYTES:
            raise ImportRefused(f"Tệp quá lớn: tối đa {MAX_BYTES // 2**20} MB.")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _texts(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | list | tuple):
        for v in value.values() if isinstance(value, dict) else value:
            yield from _texts(v)


def _records(path: Path) -> tuple[list[tuple[Where, Procedure]], list[dict], int]:
    """The file's readable records (a code the file holds twice is refused everywhere), the refused ones with
    where and why, and how many records the file holds."""
    failed: list[tuple[Where, str, str]] = []
    by_code: dict[str, list[tuple[Where, Procedure]]] = {}
    records = 0
    try:
        for where, rec in formats.read_records(path):
            records += 1
            if records > MAX_RECORDS:
                raise ImportRefused(f"Tệp có quá nhiều bản ghi: tối đa {MAX_RECORDS:,} một lần nhập.".replace(",", "."))
            if isinstance(rec, ImportFailed):
                failed.append((where, rec.code, rec.vi))
            elif control := next((m for t in _texts(rec.to_dict()) if (m := CONTROL.search(t))), None):
                failed.append((where, rec.code, f"có ký tự điều khiển U+{ord(control.group()):04X} trong nội dung"))
            else:
                by_code.setdefault(rec.code, []).append((where, rec))
    except ImportFailed as e:
        raise ImportRefused(f"Không đọc được tệp: {e.vi}.") from None
    if not records:
        raise ImportRefused("Tệp không có bản ghi nào.")
    good = []
    for code, seen in by_code.items():
        if len(seen) == 1:
            good.append(seen[0])
            continue
        twice = f"mã {code} có ở nhiều chỗ trong tệp ({', '.join(place(w) for w, _ in seen)})"
        failed += [(w, code, twice) for w, _ in seen]
    refused = [
        {"where": place(w), "code": code, "reason": why} for w, code, why in sorted(failed, key=lambda r: r[0].n)
    ]
    if not good:
        first = "; ".join(f"{r['where']}: {r['reason']}" for r in refused[:3])
        raise ImportRefused(f"Không đọc được bản ghi nào trong tệp ({len(refused)} bản ghi bị từ chối: {first}).")
    return good, refused, records


# ---- the report --------------------------------------------------------------------------------------------------


def _report(factory: sessionmaker, path: Path) -> dict:
    """What applying the file would do, against the knowledge base as it is now."""
    good, refused, records = _records(path)
    with factory() as s:
        revision = store.current_revision(s)
        existing = dict(s.execute(select(store.procedures.c.code, store.procedures.c.data)).all())
    procs, _ = store.flagged([p for _, p in good], existing)
    where = {p.code: place(w) for w, p in good}
    lists: dict[str, list[dict]] = {"new": [], "changed": [], "unchanged": [], "also": []}
    for p in procs:
        data, before = store.stored_data(p), existing.get(p.code)
        entry = {"code": p.code, "name": p.name, "where": where.get(p.code, "")}
        if before is None:
            lists["new"].append(entry)
        elif store.content_hash(before) == store.content_hash(data):
            lists["unchanged"].append(entry)
        else:
            # a stored record the file does not hold changes when its damage flags do ("also")
            lists["changed" if p.code in where else "also"].append(
                entry | {"fields": store.changed_fields(before, data)}
            )
    # the problems of the file's records, judged against the whole KB (the others only lend their names)
    others = {c: Procedure(c, d.get("name", ""), page_code=d.get("page_code", "")) for c, d in existing.items()}
    after = others | {p.code: p for p in procs}
    gaps = {(p.code, gap) for p in procs for gap in p.page_gaps}
    problems = [
        x.to_dict() | {"gap": (x.code, x.field) in gaps} for x in integrity.check(after.values()) if x.code in where
    ]
    lists |= {"refused": refused, "problems": problems}
    return {
        "revision": revision,
        "sha256": _digest(path),
        "records": records,
        "writes": len(procs),
        "counts": {k: len(v) for k, v in lists.items()},
        **{k: v[:LISTED] for k, v in lists.items()},
    }


def _uploads(factory: sessionmaker, query) -> list[Upload]:
    with factory() as s:
        rows = s.execute(query).mappings().all()
    return [Upload(**{k: r[k] for k in Upload.__dataclass_fields__} | {"report": r["report"] or {}}) for r in rows]


def _row(factory: sessionmaker, token: str) -> Upload | None:
    return next(iter(_uploads(factory, select(kb_imports).where(kb_imports.c.token == token))), None)


def get(factory: sessionmaker, token: str) -> Upload | None:
    return _row(factory, token) if token.isalnum() and len(token) <= 64 else None


def recent(factory: sessionmaker, limit: int = RECENT) -> list[Upload]:
    return _uploads(factory, select(kb_imports).order_by(desc(kb_imports.c.id)).limit(limit))


def check(factory: sessionmaker, data_dir: str | Path, filename: str, src: BinaryIO, actor: str) -> Upload:
    """Keep the uploaded file and report on it (status "checked"); ImportRefused, with nothing kept, for a file
    that is empty, too large, of another kind, or without one readable record."""
    data_dir, token = Path(data_dir), secrets.token_hex(16)
    filename = " ".join(filename.split())[:255] or "(không tên)"
    path = _keep(data_dir, token, filename, src)
    try:
        report = _report(factory, path)
        with factory.begin() as s:
            s.execute(
                insert(kb_imports).values(
                    token=token,
                    actor=actor,
                    filename=filename,
                    path=path.relative_to(data_dir).as_posix(),
                    status=CHECKED,
                    report=report,
                    total=report["writes"],
                    created_at=now(),
                )
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return _row(factory, token)


def recheck(factory: sessionmaker, data_dir: str | Path, up: Upload) -> Upload:
    """A new report on the same file, against the knowledge base as it is now (after a failed apply, or when it
    changed since the check)."""
    if up.status not in (CHECKED, FAILED):
        raise ImportRefused(_not_checked(up))
    report = _report(factory, Path(data_dir, up.path))
    with factory.begin() as s:
        s.execute(
            update(kb_imports)
            .where(kb_imports.c.token == up.token, kb_imports.c.status.in_((CHECKED, FAILED)))
            .values(status=CHECKED, report=report, done=0, total=report["writes"], error=None, finished_at=None)
        )
    return _row(factory, up.token)


# ---- applying ----------------------------------------------------------------------------------------------------


def _not_checked(up: Upload) -> str:
    return {
        APPLYING: "Tệp này đang được áp dụng.",
        APPLIED: "Tệp này đã được áp dụng; không áp dụng lại được. Muốn nhập lại, hãy tải tệp lên lần nữa.",
        FAILED: "Lần áp dụng trước không thành công. Hãy kiểm tra lại tệp rồi áp dụng.",
        EXPIRED: up.error or EXPIRED_TEXT,
    }.get(up.status, "Tệp này chưa được kiểm tra.")


def start(factory: sessionmaker, up: Upload, skip_refused: bool) -> None:
    """Move a checked import to "applying" (once: a second request is refused), or say why it cannot be."""
    if up.status != CHECKED:
        raise ImportRefused(_not_checked(up))
    refused = up.report["counts"]["refused"]
    if refused and not skip_refused:
        raise ImportRefused(
            f"Tệp có {refused} bản ghi bị từ chối. Hãy sửa tệp rồi tải lên lại, hoặc đánh dấu “bỏ qua các bản ghi "
            "bị từ chối” để chỉ áp dụng các bản ghi hợp lệ."
        )
    with factory.begin() as s:
        if store.current_revision(s) != up.report["revision"]:
            raise ImportRefused(
                "Dữ liệu thủ tục đã thay đổi kể từ khi kiểm tra tệp này (có lần nhập hoặc lần sửa khác). "
                "Hãy kiểm tra lại tệp để xem báo cáo mới trước khi áp dụng."
            )
        moved = s.execute(
            update(kb_imports)
            .where(kb_imports.c.token == up.token, kb_imports.c.status == CHECKED)
            .values(status=APPLYING, done=0)
        ).rowcount
    if not moved:
        raise ImportRefused(_not_checked(_row(factory, up.token)))


def apply(factory: sessionmaker, data_dir: str | Path, up: Upload) -> store.ImportReport | None:
    """Save the import's readable records in one transaction (after `start`): "applied", and the file removed;
    or "failed" with the reason and nothing changed."""
    path = Path(data_dir, up.path)
    progress = _Progress(factory, up.token)
    try:
        if _digest(path) != up.report["sha256"]:
            raise ImportFailed("the file changed since the check", "tệp đã bị thay đổi kể từ khi kiểm tra")
        good, _, _ = _records(path)
        procs = [p for _, p in good]
        report = store.save_procedures(factory, procs, up.actor, progress, base_revision=up.report["revision"])
    except Exception as e:  # whatever it is, the import must not stay "applying"
        log.warning("import %s failed", up.token, exc_info=not isinstance(e, ImportFailed | ImportRefused))
        reason = e.vi if isinstance(e, ImportFailed | ImportRefused) else f"lỗi khi ghi dữ liệu ({type(e).__name__})"
        report = None
    finally:
        progress.close()
    if report is None:
        _finish(factory, up.token, status=FAILED, error=reason)
        return None
    result = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}
    _finish(factory, up.token, status=APPLIED, report=up.report | {"result": result}, done=up.total)
    path.unlink(missing_ok=True)
    return report


def sweep(factory: sessionmaker, data_dir: str | Path, at: datetime | None = None) -> int:
    """Expire the imports left more than KEEP after their check: checked or failed and never applied, or stuck
    "applying" because their process died (its one transaction rolled back, so nothing changed). Their files are
    removed. Returns how many."""
    cutoff = (at or now()) - KEEP
    with factory.begin() as s:
        stale = s.execute(
            select(kb_imports.c.token, kb_imports.c.path, kb_imports.c.status).where(
                kb_imports.c.status.in_((CHECKED, FAILED, APPLYING)), kb_imports.c.created_at < cutoff
            )
        ).all()
        expired = []
        for row in stale:  # each only if still as read (an apply may have started meanwhile)
            error = INTERRUPTED_TEXT if row.status == APPLYING else EXPIRED_TEXT
            moved = s.execute(
                update(kb_imports)
                .where(kb_imports.c.token == row.token, kb_imports.c.status == row.status)
                .values(status=EXPIRED, error=error, finished_at=at or now())
            ).rowcount
            if moved:
                expired.append(row.path)
    for path in expired:
        Path(data_dir, path).unlink(missing_ok=True)
    if expired:
        log.info("expired %d unapplied imports", len(expired))
    return len(expired)


def _finish(factory: sessionmaker, token: str, **values) -> None:
    with factory.begin() as s:
        s.execute(update(kb_imports).where(kb_imports.c.token == token).values(finished_at=now(), **values))


class _Progress:
    """`save_procedures`' progress written to the import's row as it goes, by a thread of its own: the save's
    transaction is open meanwhile (PostgreSQL takes the write at once; SQLite, one writer at a time, when the save
    has ended)."""

    def __init__(self, factory: sessionmaker, token: str):
        self.factory, self.token = factory, token
        self._latest: tuple[int, int] | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._write, name=f"import-{token[:8]}", daemon=True)
        self._thread.start()

    def __call__(self, done: int, total: int) -> None:
        with self._cond:
            self._latest = (done, total)
            self._cond.notify()

    def _pending(self) -> Iterator[tuple[int, int]]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._closed)
                latest, self._latest = self._latest, None
            if latest is None:
                return
            yield latest

    def _write(self) -> None:
        for done, total in self._pending():
            try:
                with self.factory.begin() as s:
                    s.execute(update(kb_imports).where(kb_imports.c.token == self.token).values(done=done, total=total))
            except SQLAlchemyError as e:  # the progress shown lags; the outcome is written by `apply`
                log.warning("import %s: progress not written: %s", self.token, e)

    def close(self) -> None:
        """Wait for the last progress to be written (before the outcome is)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
