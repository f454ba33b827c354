"""The files procedures come in and go out as: the national portal's crawl (JSON Lines, gzip or plain) and the
project's own format (JSON Lines, XLSX, CSV), which `write_file` writes and `read_file` reads back unchanged.

A file is read record by record: `read_records` gives each record's place and the procedure or why that record is
refused (in English for the CLI, in Vietnamese for the dashboard), so a check can list every refusal; `read_file`
takes a file whole or not at all.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from knowledge.model import Procedure
from knowledge.portal import RecordError, is_portal_record, parse_portal_record

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
    """The file (or one record of it) cannot be imported: the message names the record and the field (English,
    the CLI); `vi` says why in Vietnamese (the dashboard: the record's place is shown beside it), `code` is the
    record's code when known."""

    def __init__(self, message: str, vi: str = "", code: str = ""):
        super().__init__(message)
        self.vi = vi or message
        self.code = code


@dataclass(frozen=True)
class Where:
    """A record's place in a file: line n (JSON Lines) or row n (XLSX, CSV)."""

    kind: str
    n: int

    def __str__(self) -> str:
        return f"{self.kind} {self.n}"


# --- reading -----------------------------------------------------------------------------------------


MAX_TEXT = 256 * 2**20  # bytes a gzip file may hold once decompressed (the bundled KB: 22 MB)


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
                raw = f.read(MAX_TEXT + 1)
        except (EOFError, OSError, zlib.error):
            raise ImportFailed(
                f"{path.name}: a damaged or truncated gzip file", "tệp nén gzip bị hỏng hoặc thiếu phần cuối"
            ) from None
        if len(raw) > MAX_TEXT:
            mb = MAX_TEXT // 2**20
            raise ImportFailed(f"{path.name}: more than {mb} MB once decompressed", f"tệp nén chứa hơn {mb} MB dữ liệu")
    try:
        return io.StringIO(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFailed(f"{path.name}: not UTF-8 text", "tệp không phải văn bản UTF-8") from None


# A row is (where, the record's fields) or (where, why it cannot be read): one bad record does not stop the file.
Row = tuple[Where, dict | ImportFailed]


def _rows_jsonl(path: Path) -> Iterator[Row]:
    for n, line in enumerate(_open_text(path), 1):
        if not line.strip():
            continue
        where = Where("line", n)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield where, ImportFailed(f"{where}: malformed JSON ({e.msg})", "không phải JSON hợp lệ")
            continue
        if not isinstance(obj, dict):
            yield where, ImportFailed(f"{where}: expected a JSON object", "không phải một đối tượng JSON")
            continue
        yield where, obj


def _flat_row(where: Where, row: dict) -> dict | ImportFailed:
    obj: dict = {}
    code = str(row.get("code") or "")
    for key, value in row.items():
        if key is None or value in (None, ""):
            continue
        if key not in FLAT_COLUMNS:
            return ImportFailed(f"{where}: unknown column {key!r}", f"cột “{key}” không thuộc định dạng", code)
        if key in JSON_COLUMNS:
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, TypeError):
                message = f"{where} (code {code or '?'}), field {key}: not JSON"
                return ImportFailed(message, f"trường {key}: không phải JSON hợp lệ", code)
        obj[key] = str(value) if key not in JSON_COLUMNS else value
    return obj


def _header(path: Path, header: list) -> None:
    if "code" not in header:
        raise ImportFailed(
            f"{path.name}: no column 'code' in the first row", "hàng đầu tiên không có cột “code” (mã thủ tục)"
        )


def _rows_csv(path: Path) -> Iterator[Row]:
    reader = csv.DictReader(_open_text(path))
    try:
        _header(path, reader.fieldnames or [])
        for n, row in enumerate(reader, 2):
            yield Where("row", n), _flat_row(Where("row", n), row)
    except csv.Error as e:
        raise ImportFailed(f"{path.name}: not a readable CSV file ({e})", f"tệp CSV không đọc được ({e})") from None


# An XLSX cell holds at most this many characters: a longer value is cut into parts, the second one in the column
# "name (2)", and so on (at the end of the row).
XLSX_CELL = 32767
_PART = re.compile(r"(\w+) \((\d+)\)")


def _rows_xlsx(path: Path) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a broken file
        raise ImportFailed(
            f"{path.name}: not a readable XLSX file ({type(e).__name__})",
            "không đọc được tệp XLSX (tệp hỏng hoặc không phải XLSX)",
        ) from None
    rows = wb.active.iter_rows(values_only=True)
    header = [str(h) if h is not None else None for h in next(rows, ())]
    _header(path, header)
    parts = [
        (i, m.group(1)) for i, h in enumerate(header) if h and (m := _PART.fullmatch(h)) and m.group(1) in FLAT_COLUMNS
    ]
    for n, values in enumerate(rows, 2):
        if any(v not in (None, "") for v in values):
            row = dict(zip(header, values, strict=False))
            for i, name in parts:
                if i < len(values) and values[i]:
                    row[name] = f"{row.get(name) or ''}{values[i]}"
                row.pop(header[i])
            yield Where("row", n), _flat_row(Where("row", n), row)
    wb.close()


def read_records(path: str | Path) -> Iterator[tuple[Where, Procedure | ImportFailed]]:
    """Each record of a file with its place: the procedure, or why that record is refused. A file that cannot be
    read at all (missing, not UTF-8, a broken gzip or XLSX, no code column) raises ImportFailed."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file", "không tìm thấy tệp")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith(".xlsx"):
        rows = _rows_xlsx(path)
    elif suffixes.endswith(".csv") or suffixes.endswith(".csv.gz"):
        rows = _rows_csv(path)
    else:
        rows = _rows_jsonl(path)
    for where, obj in rows:
        if isinstance(obj, ImportFailed):
            yield where, obj
            continue
        try:
            yield where, _to_procedure(where, obj)
        except ImportFailed as e:
            yield where, e


def read_file(path: str | Path) -> list[Procedure]:
    """Parse a whole file into procedures, or raise ImportFailed naming the first bad record and field."""
    out: dict[str, Procedure] = {}
    for where, proc in read_records(path):
        if isinstance(proc, ImportFailed):
            raise proc
        if proc.code in out:
            raise ImportFailed(f"{where}: code {proc.code} appears twice in the file", code=proc.code)
        out[proc.code] = proc
    return list(out.values())


def _to_procedure(where: Where, obj: dict) -> Procedure:
    if is_portal_record(obj):
        try:
            return parse_portal_record(obj)
        except RecordError as e:
            vi = f"bản ghi của Cổng Dịch vụ công, trường {e.field}: không đọc được ({e.message})"
            raise ImportFailed(f"{where}: {e}", vi, e.code if e.code != "?" else "") from None
    code = str(obj.get("code") or "")
    try:
        proc = Procedure.from_dict(obj)
    except (TypeError, ValueError) as e:
        vi = f"thiếu trường bắt buộc hoặc có trường không thuộc định dạng ({e})"
        raise ImportFailed(f"{where} (code {code or '?'}): {e}", vi, code) from None
    validate(proc, where)
    return proc


def validate(proc: Procedure, where: Where | str = "record") -> None:
    """The checks every stored procedure passes, whatever its source."""
    code = proc.code if isinstance(proc.code, str) else ""
    if not re.fullmatch(r"\d+\.\d+", code):
        message = f"{where} (code {proc.code or '?'}), field code: expected a code like 1.001193"
        raise ImportFailed(message, "mã thủ tục phải có dạng như 1.001193", code)
    if not isinstance(proc.name, str) or not proc.name.strip():
        raise ImportFailed(f"{where} (code {proc.code}), field name: empty", "tên thủ tục để trống", code)
    for name in ("aliases", "questions", "levels", "steps"):
        value = getattr(proc, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            message = f"{where} (code {proc.code}), field {name}: expected a list of texts"
            raise ImportFailed(message, f"trường {name}: phải là danh sách các đoạn văn bản", code)


# --- writing -----------------------------------------------------------------------------------------


def write_file(procs: list[Procedure], path: str | Path) -> int:
    """Write procedures in the format the file's extension names (.xlsx, .csv, else JSON Lines, gzip for .gz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".xlsx"):
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("procedures")
        for row in _xlsx_rows(procs):
            ws.append(row)
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


def _xlsx_rows(procs: list[Procedure]) -> Iterator[list[str]]:
    """The header and the rows of the XLSX sheet, a value longer than a cell holds cut into parts."""
    rows = [_flat(p) for p in procs]
    cells = [max((-(-len(r[i]) // XLSX_CELL) for r in rows), default=1) for i in range(len(FLAT_COLUMNS))]
    extra = [(i, k) for i, n in enumerate(cells) for k in range(2, n + 1)]
    yield FLAT_COLUMNS + [f"{FLAT_COLUMNS[i]} ({k})" for i, k in extra]
    for r in rows:
        yield [v[:XLSX_CELL] for v in r] + [r[i][(k - 1) * XLSX_CELL : k * XLSX_CELL] for i, k in extra]
