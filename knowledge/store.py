"""Procedure storage: tables, all-or-nothing import with change history, export, live edits.

Formats read: the national portal's crawl (JSON Lines, gzip or plain) and the project's own format
(JSON Lines, XLSX, CSV), which `export` writes and `import` reads back unchanged.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
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
from knowledge.model import Flag, Procedure
from knowledge.portal import RecordError, is_portal_record, parse_portal_record

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
# Columns of the flat formats (XLSX, CSV): list and table fields are JSON text in their cell.
FLAT_COLUMNS = [
    "code",
    "name",
    "url",
    "decision",
    "kind",
    "levels",
    "domain",
    "audience",
    "agency",
    "authority",
    "address",
    "delegated_agency",
    "coordinating_agency",
    "related",
    "steps",
    "channels",
    "documents",
    "legal_basis",
    "conditions",
    "result",
    "ministry",
    "aliases",
    "questions",
    "page_code",
    "page_gaps",
    "flags",
]
JSON_COLUMNS = {"levels", "steps", "channels", "documents", "legal_basis", "aliases", "questions", "page_gaps", "flags"}


class ImportFailed(Exception):
    """The file cannot be imported; the message names the record and the field."""


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


# --- reading files -------------------------------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return io.StringIO(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFailed(f"{path.name}: not UTF-8 text") from None


def _rows_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    for n, line in enumerate(_open_text(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ImportFailed(f"line {n}: malformed JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise ImportFailed(f"line {n}: expected a JSON object")
        yield f"line {n}", obj


def _flat_row(where: str, row: dict) -> tuple[str, dict]:
    obj: dict = {}
    for key, value in row.items():
        if key is None or value in (None, ""):
            continue
        if key not in FLAT_COLUMNS:
            raise ImportFailed(f"{where}: unknown column {key!r}")
        if key in JSON_COLUMNS:
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, TypeError):
                raise ImportFailed(f"{where} (code {row.get('code') or '?'}), field {key}: not JSON") from None
        obj[key] = str(value) if key not in JSON_COLUMNS else value
    return where, obj


def _rows_csv(path: Path) -> Iterator[tuple[str, dict]]:
    reader = csv.DictReader(_open_text(path))
    for n, row in enumerate(reader, 2):
        yield _flat_row(f"row {n}", row)


def _rows_xlsx(path: Path) -> Iterator[tuple[str, dict]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a broken file
        raise ImportFailed(f"{path.name}: not a readable XLSX file ({type(e).__name__})") from None
    rows = wb.active.iter_rows(values_only=True)
    header = [str(h) if h is not None else None for h in next(rows, ())]
    for n, values in enumerate(rows, 2):
        if any(v not in (None, "") for v in values):
            yield _flat_row(f"row {n}", dict(zip(header, values, strict=False)))
    wb.close()


def read_file(path: str | Path) -> list[Procedure]:
    """Parse a whole file into procedures, or raise ImportFailed naming the record and field."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".xlsx"):
        rows = _rows_xlsx(path)
    elif suffixes.endswith(".csv") or suffixes.endswith(".csv.gz"):
        rows = _rows_csv(path)
    else:
        rows = _rows_jsonl(path)
    out: dict[str, Procedure] = {}
    for where, obj in rows:
        proc = _to_procedure(where, obj)
        if proc.code in out:
            raise ImportFailed(f"{where}: code {proc.code} appears twice in the file")
        out[proc.code] = proc
    return list(out.values())


def _to_procedure(where: str, obj: dict) -> Procedure:
    if is_portal_record(obj):
        try:
            return parse_portal_record(obj)
        except RecordError as e:
            raise ImportFailed(f"{where}: {e}") from None
    code = obj.get("code") or "?"
    try:
        proc = Procedure.from_dict(obj)
    except (TypeError, ValueError) as e:
        raise ImportFailed(f"{where} (code {code}): {e}") from None
    validate(proc, where)
    return proc


def validate(proc: Procedure, where: str = "record") -> None:
    """The checks every stored procedure passes, whatever its source."""
    if not isinstance(proc.code, str) or not re.fullmatch(r"\d+\.\d+", proc.code or ""):
        raise ImportFailed(f"{where} (code {proc.code or '?'}), field code: expected a code like 1.001193")
    if not isinstance(proc.name, str) or not proc.name.strip():
        raise ImportFailed(f"{where} (code {proc.code}), field name: empty")
    for name in ("aliases", "questions", "levels", "steps"):
        value = getattr(proc, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ImportFailed(f"{where} (code {proc.code}), field {name}: expected a list of texts")


# --- writing the database --------------------------------------------------------------------------


def _bump_revision(session: Session) -> None:
    if session.execute(update(kb_revision).values(revision=kb_revision.c.revision + 1)).rowcount == 0:
        session.execute(insert(kb_revision).values(id=1, revision=1))


def current_revision(session: Session) -> int:
    return session.scalar(select(kb_revision.c.revision)) or 0


def save_procedures(
    factory: sessionmaker,
    procs: Iterable[Procedure],
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Upsert procedures in one transaction, keeping a change entry for each created or changed one.

    Damaged records are flagged anew over the whole KB (knowledge/integrity.py), whatever flags the input
    carries; a stored record whose flags change with this save is saved too."""
    report = ImportReport()
    now = datetime.now(UTC)
    with factory.begin() as session:
        existing = dict(session.execute(select(procedures.c.code, procedures.c.data)).all())
        procs, flags = _flagged(list(procs), existing)
        report.flagged = len(flags)
        report.flag_fields.update(f.field for fs in flags.values() for f in fs)
        for i, proc in enumerate(procs, 1):
            validate(proc)
            data = json.loads(json.dumps(proc.to_dict(), ensure_ascii=False))  # tuples become lists as stored
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
                changed = sorted(k for k in set(before) | set(data) if before.get(k) != data.get(k))
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
            _bump_revision(session)
    return report


def _flagged(procs: list[Procedure], existing: dict[str, dict]) -> tuple[list[Procedure], dict[str, list[Flag]]]:
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
    path = Path(path)
    procs = load_all(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".xlsx"):
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("procedures")
        ws.append(FLAT_COLUMNS)
        for p in procs:
            ws.append(_flat(p))
        wb.save(path)
    elif name.endswith(".csv"):
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(FLAT_COLUMNS)
            w.writerows(_flat(p) for p in procs)
    else:
        lines = "".join(json.dumps(p.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n" for p in procs)
        data = lines.encode()
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return len(procs)


def _flat(p: Procedure) -> list[str]:
    d = p.to_dict()
    out = []
    for col in FLAT_COLUMNS:
        v = d.get(col, "")
        out.append(json.dumps(v, ensure_ascii=False) if col in JSON_COLUMNS and v != "" else v)
    return out
