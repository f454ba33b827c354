"""Procedure storage: tables, all-or-nothing import with change history, export, live edits.

The files read and written (the national portal's crawl; the project's own JSON Lines, XLSX, CSV, which `export`
writes and `import` reads back unchanged) are knowledge/formats.py's.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from knowledge import integrity
from knowledge.formats import ImportFailed, read_file, validate, write_file
from knowledge.model import Flag, Procedure

metadata = MetaData()

procedures = Table(
    "procedures",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(100), nullable=False),
)

procedure_changes = Table(
    "procedure_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(16), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("before", JSON, nullable=True),  # the changed fields' previous values
)

kb_revision = Table(
    "kb_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
)

BUNDLED_KB = Path(__file__).with_name("data") / "procedures.jsonl.gz"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Damaged records in the whole KB after the import (kept out of search and answers), and by flag field.
    flagged: int = 0
    flag_fields: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.flagged:
            reasons = integrity.FLAG_REASONS.items()
            why = ", ".join(f"{self.flag_fields[f]} {reason}" for f, reason in reasons if f in self.flag_fields)
            text += f"; {self.flagged} flagged and kept out of search and answers ({why}; see kb check)"
        return text


def content_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# --- writing the database --------------------------------------------------------------------------


def bump_revision(session: Session) -> None:
    """A new revision of the knowledge base: every process rebuilds its search index on its next search. Call it
    in the transaction that changes what the search reads (procedures, the vocabulary)."""
    if session.execute(update(kb_revision).values(revision=kb_revision.c.revision + 1)).rowcount == 0:
        session.execute(insert(kb_revision).values(id=1, revision=1))


def current_revision(session: Session) -> int:
    return session.scalar(select(kb_revision.c.revision)) or 0


class RevisionChanged(ImportFailed):
    """The knowledge base changed since the changes being saved were checked against it."""


def stored_data(proc: Procedure) -> dict:
    """The record as the database keeps it (tuples become lists)."""
    return json.loads(json.dumps(proc.to_dict(), ensure_ascii=False))


def changed_fields(before: dict, data: dict) -> list[str]:
    return sorted(k for k in set(before) | set(data) if before.get(k) != data.get(k))


def save_procedures(
    factory: sessionmaker,
    procs: Iterable[Procedure],
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    base_revision: int | None = None,
) -> ImportReport:
    """Upsert procedures in one transaction, keeping a change entry for each created or changed one. With
    `base_revision`, the KB revision the changes were checked against: RevisionChanged if it is no longer current.

    Damaged records are flagged anew over the whole KB (knowledge/integrity.py), whatever flags the input
    carries; a stored record whose flags change with this save is saved too."""
    report = ImportReport()
    now = datetime.now(UTC)
    with factory.begin() as session:
        if base_revision is not None:
            current = session.scalar(select(kb_revision.c.revision).with_for_update()) or 0
            if current != base_revision:
                raise RevisionChanged(
                    f"the knowledge base changed since the check (revision {base_revision}, now {current})",
                    "dữ liệu thủ tục đã thay đổi kể từ khi kiểm tra tệp (có lần nhập hoặc lần sửa khác)",
                )
        existing = dict(session.execute(select(procedures.c.code, procedures.c.data)).all())
        procs, flags = flagged(list(procs), existing)
        report.flagged = len(flags)
        report.flag_fields.update(f.field for fs in flags.values() for f in fs)
        for i, proc in enumerate(procs, 1):
            validate(proc)
            data = stored_data(proc)
            digest = content_hash(data)
            before = existing.get(proc.code)
            row = {"name": proc.name, "data": data, "content_hash": digest, "updated_at": now, "updated_by": actor}
            if before is None:
                session.execute(insert(procedures).values(code=proc.code, **row))
                session.execute(
                    insert(procedure_changes).values(
                        code=proc.code, at=now, actor=actor, action="create", fields=sorted(data)
                    )
                )
                report.created += 1
            elif content_hash(before) != digest:
                changed = changed_fields(before, data)
                session.execute(update(procedures).where(procedures.c.code == proc.code).values(**row))
                session.execute(
                    insert(procedure_changes).values(
                        code=proc.code,
                        at=now,
                        actor=actor,
                        action="update",
                        fields=changed,
                        before={k: before.get(k) for k in changed},
                    )
                )
                report.updated += 1
            else:
                report.unchanged += 1
            if progress and (i % 200 == 0 or i == len(procs)):
                progress(i, len(procs))
        if report.created or report.updated:
            bump_revision(session)
    return report


def flagged(procs: list[Procedure], existing: dict[str, dict]) -> tuple[list[Procedure], dict[str, list[Flag]]]:
    """`procs` with the flags the whole KB after this save gives them, followed by the stored records whose
    flags change with it (a new record can make an old one a duplicate); and the flags of the whole KB."""
    incoming = {p.code for p in procs}
    kept = {code: data for code, data in existing.items() if code not in incoming}
    flags = integrity.damage_flags(
        [(p.code, p.name, p.page_code) for p in procs]
        + [(code, data.get("name", ""), data.get("page_code", "")) for code, data in kept.items()]
    )
    out = [replace(p, flags=flags.get(p.code, [])) for p in procs]
    for code, data in kept.items():
        if [Flag(**f) for f in data.get("flags", ())] != flags.get(code, []):
            out.append(replace(Procedure.from_dict(data), flags=flags.get(code, [])))
    return out, flags


def import_file(
    factory: sessionmaker, path: str | Path, actor: str, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    return save_procedures(factory, read_file(path), actor, progress)


def load_all(session: Session) -> list[Procedure]:
    rows = session.execute(select(procedures.c.data).order_by(procedures.c.code)).scalars()
    return [Procedure.from_dict(d) for d in rows]


def get(session: Session, code: str) -> Procedure | None:
    data = session.scalar(select(procedures.c.data).where(procedures.c.code == code))
    return Procedure.from_dict(data) if data else None


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(procedures)) or 0


def ensure_bundled(factory: sessionmaker) -> ImportReport | None:
    """Load the bundled knowledge base on first start; None when procedures already exist."""
    with factory() as session:
        if count(session):
            return None
    return import_file(factory, BUNDLED_KB, actor="bundle")


def add_text(factory: sessionmaker, code: str, kind: str, text: str, actor: str) -> bool:
    """Add an alias or a sample question (kind: 'aliases' | 'questions'); False if already there."""
    text = " ".join(text.split())
    if not text:
        raise ImportFailed(f"field {kind}: empty text")
    with factory() as session:
        proc = get(session, code)
    if proc is None:
        raise ImportFailed(f"no procedure with code {code}")
    values: list[str] = getattr(proc, kind)
    if text in values:
        return False
    values.append(text)
    save_procedures(factory, [proc], actor)
    return True


def history(session: Session, code: str) -> list[dict]:
    rows = session.execute(
        select(procedure_changes).where(procedure_changes.c.code == code).order_by(procedure_changes.c.id)
    ).mappings()
    return [dict(r) for r in rows]


# --- export ------------------------------------------------------------------------------------------


def export_file(session: Session, path: str | Path) -> int:
    """Every procedure, in the format the file's extension names (knowledge/formats.py)."""
    return write_file(load_all(session), path)
