"""Edits of one procedure as field changes: the record as a form shows it, a submitted form read back into a
record (checked, with the reason in Vietnamese), the difference between two versions field by field, the
version a form was opened on, and the record with a past change's previous values back (revert).

A form shows every field as text an admin edits without knowing JSON: one everyday name or sample question a
line, one step a paragraph (steps hold line breaks of their own), the tables (channels with their time and
fee, documents, legal basis) a row of boxes an item, levels and the aspects a portal page holds as ticks.
Reading a form back keeps the record's own value of every field, and every table row, whose text the admin
left as it was, so opening and saving a form changes nothing. The parser's readings that go with a text (a
channel's fee amounts, its time's number and unit) stay while that text does and are dropped when it changes:
they were read from the portal page, not from what the admin wrote.

Nothing here knows the web; saving goes through `store.save_procedures` (change history, revision bump).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.orm import Session, sessionmaker

from knowledge import store
from knowledge.answer import ASPECT_TITLES
from knowledge.model import Channel, Document, LegalBasis, Procedure
from knowledge.store import ImportFailed, content_hash, procedure_changes, procedures
from knowledge.text import safe_text

LEVELS = ("Cấp xã", "Cấp huyện", "Cấp tỉnh", "Cấp bộ", "Cơ quan khác")
NAME_LIMIT = 2_000  # characters (the longest name in the bundled records has 1,094)
LINE_LIMIT = 5_000
TEXT_LIMIT = 60_000  # a field or a table cell (the longest, a record's conditions, has 44,580)
MAX_ROWS = 500  # items of one list or table
HISTORY_SHOWN = 50
SHOWN_BEFORE = 600  # characters of a previous value shown in the history
URL = re.compile(r"https?://\S+")
CODE = re.compile(r"\d+\.\d+")
BLANK_LINE = re.compile(r"\n[ \t]*\n")
TOKENS = re.compile(r"\s+|\S+\s*")  # words with the space after them (a line's indent alone)
CONTEXT = 2  # unchanged lines shown around a change


class EditError(ValueError):
    """An edit refused; `vi` says why, in Vietnamese."""

    def __init__(self, vi: str):
        super().__init__(vi)
        self.vi = vi


class Stale(Exception):
    """The record changed since the form was opened."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str  # line | text | lines | paragraphs | levels | aspects | table
    hint: str = ""


FIELDS = (
    Field("name", "Tên thủ tục", "line"),
    Field("domain", "Lĩnh vực", "line"),
    Field("levels", "Cấp thực hiện", "levels"),
    Field("channels", "Cách thức thực hiện: thời hạn, phí, lệ phí", "table", "Đánh dấu “Xóa” để bỏ một cách nộp."),
    Field("documents", "Thành phần hồ sơ", "table", "Đánh dấu “Xóa” để bỏ một giấy tờ; dòng trống ở cuối để thêm."),
    Field("steps", "Trình tự thực hiện", "paragraphs", "Mỗi bước một đoạn; các đoạn cách nhau một dòng trống."),
    Field("conditions", "Yêu cầu, điều kiện", "text"),
    Field("legal_basis", "Căn cứ pháp lý", "table", "Đánh dấu “Xóa” để bỏ một văn bản; dòng trống ở cuối để thêm."),
    Field("result", "Kết quả thực hiện", "text"),
    Field("agency", "Cơ quan thực hiện", "line"),
    Field("authority", "Cơ quan có thẩm quyền", "line"),
    Field("address", "Địa chỉ tiếp nhận hồ sơ", "text"),
    Field("delegated_agency", "Cơ quan được ủy quyền", "line"),
    Field("coordinating_agency", "Cơ quan phối hợp", "line"),
    Field("audience", "Đối tượng thực hiện", "line"),
    Field("url", "Đường dẫn trên Cổng Dịch vụ công", "line", "Địa chỉ bắt đầu bằng https://"),
    Field("decision", "Quyết định công bố", "line"),
    Field("kind", "Loại thủ tục", "line"),
    Field("ministry", "Bộ, ngành", "line"),
    Field("related", "Thủ tục liên quan", "text"),
    Field("aliases", "Tên gọi khác", "lines", "Mỗi dòng một tên gọi người dân hay dùng; trợ lý tìm theo cả tên này."),
    Field("questions", "Câu hỏi mẫu", "lines", "Mỗi dòng một câu hỏi người dân hay hỏi về thủ tục này."),
    Field(
        "page_code",
        "Mã thủ tục trên trang Cổng",
        "line",
        "Mã trang Cổng hiển thị. Khác mã thủ tục thì hồ sơ bị coi là hỏng (nội dung là của thủ tục khác).",
    ),
    Field("page_gaps", "Trang Cổng có nhưng hồ sơ còn thiếu", "aspects"),
)
BY_NAME = {f.name: f for f in FIELDS}
LABELS = {f.name: f.label for f in FIELDS} | {"code": "Mã thủ tục", "flags": "Đánh dấu hỏng"}
# Table columns: (name, label, keeps line breaks); the first column named in MAIN is the one a row needs.
COLUMNS = {
    "channels": (("name", "Cách nộp", False), ("time", "Thời hạn giải quyết", True), ("fee", "Phí, lệ phí", True),
                 ("description", "Mô tả", True)),
    "documents": (("name", "Tên giấy tờ", False), ("quantity", "Số lượng", False), ("form", "Mẫu đơn, tờ khai", False),
                  ("group", "Nhóm", False)),
    "legal_basis": (("number", "Số hiệu", False), ("title", "Tên văn bản", False)),
}  # fmt: skip
MAIN = {"channels": "name", "documents": "name", "legal_basis": "title"}
ITEM = {"channels": Channel, "documents": Document, "legal_basis": LegalBasis}


# ---- the form ------------------------------------------------------------------------------------------------


def form_values(p: Procedure) -> dict[str, Any]:
    """The record as the form shows it: text for text and lists, chosen values for ticks, rows for tables."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        value = getattr(p, f.name)
        if f.kind == "table":
            out[f.name] = [{c: getattr(item, c) for c, _, _ in COLUMNS[f.name]} for item in value]
        elif f.kind in ("levels", "aspects"):
            out[f.name] = list(value)
        elif f.kind == "lines":
            out[f.name] = "\n".join(value)
        elif f.kind == "paragraphs":
            out[f.name] = "\n\n".join(value)
        else:
            out[f.name] = value
    return out


def typed(form) -> dict[str, Any]:
    """What a submitted form (a multidict) holds, in the shape of `form_values`, line ends as \\n; a table row
    marked for removal carries "drop". Refuses a form that is not whole, or binary data."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        if f.kind == "table":
            columns = [[_text_of(v, f.label) for v in form.getall(f"{f.name}-{c}", [])] for c, _, _ in COLUMNS[f.name]]
            if len({len(c) for c in columns}) > 1:
                raise EditError("Biểu mẫu gửi lên không đầy đủ; hãy tải lại trang và sửa lại.")
            if len(columns[0]) > MAX_ROWS:
                raise EditError(f"“{f.label}” có quá nhiều dòng (tối đa {MAX_ROWS}).")
            dropped = set(form.getall(f"{f.name}-drop", []))
            names = [c for c, _, _ in COLUMNS[f.name]]
            out[f.name] = [dict(zip(names, cells, strict=True)) | {"drop": str(i) in dropped}
                           for i, cells in enumerate(zip(*columns, strict=True))]  # fmt: skip
        elif f.kind in ("levels", "aspects"):
            out[f.name] = [_text_of(v, f.label) for v in form.getall(f.name, [])]
        else:
            out[f.name] = _text_of(form.get(f.name, ""), f.label)
    return out


def _text_of(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise EditError("Biểu mẫu gửi lên không hợp lệ; hãy tải lại trang và sửa lại.")
    if "\x00" in value:
        raise EditError(f"Trường “{label}” chứa dữ liệu không phải văn bản.")
    return value.replace("\r\n", "\n").replace("\r", "\n")


def read_form(values: dict[str, Any], base: Procedure) -> Procedure:
    """The record `values` (from `typed`) make of `base`, the version the form was opened on; EditError when
    they are not acceptable."""
    shown = form_values(base)
    changes: dict[str, Any] = {}
    for f in FIELDS:
        given = values[f.name]
        if f.kind == "table":
            rows = _read_table(f, given, getattr(base, f.name), shown[f.name])
            if rows != getattr(base, f.name):
                changes[f.name] = rows
        elif f.kind in ("levels", "aspects"):
            if set(given) != set(shown[f.name]):
                changes[f.name] = _read_choices(f, given, shown[f.name])
        elif given != shown[f.name]:
            changes[f.name] = _read_text(f, given)
    proc = replace(base, **changes)
    _check(proc, changes)
    return proc


def _limit(label: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise EditError(f"Trường “{label}” quá dài: {_number(len(text))} ký tự (tối đa {_number(limit)}).")


def _number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _read_text(f: Field, given: str) -> str | list[str]:
    _limit(f.label, given, NAME_LIMIT if f.name == "name" else LINE_LIMIT if f.kind == "line" else TEXT_LIMIT)
    text = safe_text(given)
    if f.kind == "line":
        return " ".join(text.split())
    if f.kind == "text":
        return text.strip()
    if f.kind == "lines":
        items = list(dict.fromkeys(" ".join(line.split()) for line in text.split("\n") if line.strip()))
    else:  # paragraphs
        items = [p.strip() for p in BLANK_LINE.split(text) if p.strip()]
    if len(items) > MAX_ROWS:
        raise EditError(f"“{f.label}” có quá nhiều mục (tối đa {MAX_ROWS}).")
    return items


def _read_choices(f: Field, given: list[str], shown: list[str]) -> list[str]:
    known = list(LEVELS if f.kind == "levels" else ASPECT_TITLES)
    allowed = known + [v for v in shown if v not in known]  # a value the record had stays possible
    unknown = [v for v in given if v not in allowed]
    if unknown:
        raise EditError(f"“{f.label}”: giá trị “{unknown[0][:100]}” không có trong danh sách.")
    return [v for v in allowed if v in given]


def _read_table(f: Field, rows: list[dict], items: list, shown: list[dict]) -> list:
    columns = COLUMNS[f.name]
    main = MAIN[f.name]
    main_label = next(label for c, label, _ in columns if c == main)
    out = []
    for i, row in enumerate(rows):
        cells = {c: row[c] for c, _, _ in columns}
        if row["drop"] or not any(v.strip() for v in cells.values()):
            continue
        old = items[i] if i < len(items) else None
        if old is not None and i < len(shown) and cells == shown[i]:
            out.append(old)  # untouched: kept as it was, the parser's readings included
            continue
        for c, label, _ in columns:
            _limit(f"{f.label}: {label}", cells[c], TEXT_LIMIT)
        clean = {c: safe_text(cells[c]).strip() if multi else " ".join(safe_text(cells[c]).split())
                 for c, _, multi in columns}  # fmt: skip
        if not clean[main]:
            raise EditError(f"“{f.label}”, dòng {i + 1}: thiếu {main_label.lower()}.")
        out.append(_item(f.name, clean, old))
    return out


def _item(table: str, clean: dict[str, str], old):
    if table != "channels":
        return ITEM[table](**clean)
    same_time = old is not None and old.time == clean["time"]
    return Channel(
        **clean,
        time_value=old.time_value if same_time else "",
        time_unit=old.time_unit if same_time else "",
        fees=old.fees if old is not None and old.fee == clean["fee"] else (),
    )


def _check(proc: Procedure, changes: dict[str, Any]) -> None:
    if not proc.name.strip():
        raise EditError("Tên thủ tục không được để trống.")
    if not proc.levels:
        raise EditError("Hãy chọn ít nhất một cấp thực hiện.")
    if "url" in changes and proc.url and not URL.fullmatch(proc.url):
        raise EditError("Đường dẫn phải là một địa chỉ web bắt đầu bằng https:// (hoặc http://), không có dấu cách.")
    if "page_code" in changes and proc.page_code and not CODE.fullmatch(proc.page_code):
        raise EditError("Mã thủ tục trên trang Cổng phải có dạng như 1.001193, hoặc để trống.")
    try:
        store.validate(proc)
    except ImportFailed as e:
        raise EditError(f"Dữ liệu thủ tục không hợp lệ: {e.vi}.") from None


# ---- versions and their differences --------------------------------------------------------------------------


def _data(p: Procedure | dict) -> dict[str, Any]:
    return p if isinstance(p, dict) else store.stored_data(p)


def changed_fields(a: Procedure | dict, b: Procedure | dict) -> list[str]:
    """The fields that differ, in the form's order."""
    found = set(store.changed_fields(_data(a), _data(b)))
    return [k for k in LABELS if k in found]


def display(field: str, value: Any) -> str:
    """A stored value as text to read (and to compare line by line)."""
    if value in (None, "", []):
        return ""
    if isinstance(value, str):
        return value
    if field in COLUMNS:
        main = MAIN[field]
        blocks = []
        for item in value:
            lines = [item.get(main, "")]
            lines += [f"    {label}: {item[c]}" for c, label, _ in COLUMNS[field] if c != main and item.get(c)]
            blocks.append("\n".join(lines))
        return "\n".join(blocks)
    if field == "flags":
        return "\n".join(f"{f['field']}: {f['reason']}" for f in value)
    if field == "page_gaps":
        return ", ".join(ASPECT_TITLES.get(a, a) for a in value)
    if field == "levels":
        return ", ".join(value)
    return "\n".join(str(v) for v in value)


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # same | del | add | gap
    parts: tuple[tuple[bool, str], ...]  # (changed, text)


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    label: str
    lines: tuple[Line, ...]


def diff(a: Procedure | dict, b: Procedure | dict) -> list[FieldDiff]:
    """What changes from `a` to `b`, field by field, line by line (and word by word within a changed line)."""
    da, db = _data(a), _data(b)
    return [
        FieldDiff(k, LABELS[k], tuple(line_diff(display(k, da.get(k)), display(k, db.get(k)))))
        for k in changed_fields(da, db)
    ]


def line_diff(before: str, after: str) -> list[Line]:
    a = before.split("\n") if before else []
    b = after.split("\n") if after else []
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out: list[Line] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            run = a[i1:i2]
            head = run[:CONTEXT] if n > 0 else []
            tail = run[-CONTEXT:] if n < len(ops) - 1 else []
            if len(head) + len(tail) >= len(run):
                head, tail = run, []
            out += [Line("same", ((False, x),)) for x in head]
            hidden = len(run) - len(head) - len(tail)
            if hidden:
                out.append(Line("gap", ((False, f"… {hidden} dòng không đổi"),)))
            out += [Line("same", ((False, x),)) for x in tail]
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for x, y in zip(a[i1:i2], b[j1:j2], strict=True):
                left, right = _word_diff(x, y)
                out += [Line("del", left), Line("add", right)]
        else:
            out += [Line("del", ((True, x),)) for x in a[i1:i2]]
            out += [Line("add", ((True, y),)) for y in b[j1:j2]]
    return out


def _word_diff(x: str, y: str) -> tuple[tuple[tuple[bool, str], ...], tuple[tuple[bool, str], ...]]:
    if len(x) + len(y) > 6000:  # a very long line: marked whole rather than compared word by word
        return ((True, x),), ((True, y),)
    xs, ys = TOKENS.findall(x), TOKENS.findall(y)
    left: list[tuple[bool, str]] = []
    right: list[tuple[bool, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, xs, ys, autojunk=False).get_opcodes():
        if tag == "equal":
            left.append((False, "".join(xs[i1:i2])))
            right.append((False, "".join(ys[j1:j2])))
            continue
        if i2 > i1:
            left.append((True, "".join(xs[i1:i2])))
        if j2 > j1:
            right.append((True, "".join(ys[j1:j2])))
    return tuple(left), tuple(right)


def rebased(base: Procedure, edited: Procedure, current: Procedure) -> tuple[Procedure, list[str]]:
    """An edit made on `base` applied to `current` (what someone else saved meanwhile): the fields the admin
    changed take the admin's values, the others the current ones. Also the fields both changed."""
    mine = changed_fields(base, edited)
    theirs = set(changed_fields(base, current))
    return replace(current, **{k: getattr(edited, k) for k in mine}), [k for k in mine if k in theirs]


# ---- the database --------------------------------------------------------------------------------------------


def load(session: Session, code: str) -> tuple[Procedure, str] | None:
    """The stored record and its content hash."""
    row = session.execute(select(procedures.c.data, procedures.c.content_hash).where(procedures.c.code == code)).first()
    return (Procedure.from_dict(row.data), row.content_hash) if row else None


def version(session: Session, code: str, digest: str) -> Procedure | None:
    """The version of the record whose content hash is `digest`, rebuilt from the current one and the previous
    values kept in its change history; None when it is not among the last changes."""
    data = session.scalar(select(procedures.c.data).where(procedures.c.code == code))
    if data is None:
        return None
    data = dict(data)
    if content_hash(data) == digest:
        return Procedure.from_dict(data)
    changes = session.execute(
        select(procedure_changes.c.before)
        .where(procedure_changes.c.code == code)
        .order_by(desc(procedure_changes.c.id))
        .limit(HISTORY_SHOWN)
    ).scalars()
    for before in changes:
        if not before:  # the record's creation: nothing earlier
            return None
        for k, v in before.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        if content_hash(data) == digest:
            return Procedure.from_dict(data)
    return None


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    at: datetime
    actor: str
    action: str  # create | update
    fields: tuple[str, ...]  # labels
    before: tuple[tuple[str, str], ...]  # (label, previous value as text, shortened)

    @property
    def revertible(self) -> bool:
        return self.action == "update" and bool(self.before)


def history(session: Session, code: str) -> list[Change]:
    """The record's last changes, newest first."""
    out = []
    for row in reversed(store.history(session, code)[-HISTORY_SHOWN:]):
        before = row["before"] or {}
        shown = []
        for k in row["fields"]:
            text = display(k, before.get(k)) if row["before"] is not None else ""
            shown.append((LABELS.get(k, k), text if len(text) <= SHOWN_BEFORE else text[:SHOWN_BEFORE] + "…"))
        fields = tuple(LABELS.get(k, k) for k in row["fields"])
        out.append(Change(row["id"], row["at"], row["actor"], row["action"], fields, tuple(shown) if before else ()))
    return out


def change(session: Session, code: str, change_id: int) -> dict | None:
    row = session.execute(
        select(procedure_changes).where(procedure_changes.c.id == change_id, procedure_changes.c.code == code)
    ).first()
    return dict(row._mapping) if row else None


def reverted(current: Procedure, before: dict[str, Any]) -> Procedure:
    """`current` with a change's previous values back (flags are the whole KB's to set, on saving)."""
    data = store.stored_data(current)
    for k, v in before.items():
        if k in ("code", "flags"):
            continue
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    try:
        proc = Procedure.from_dict(data)
        store.validate(proc)
    except (TypeError, ValueError, ImportFailed) as e:
        raise EditError(f"Không khôi phục được các giá trị cũ ({getattr(e, 'vi', e)}).") from None
    return proc


SAVE_TRIES = 3


def save(factory: sessionmaker, proc: Procedure, expected: str, actor: str) -> list[str]:
    """Save an edit made on the version whose hash is `expected`; the fields changed, none when nothing did.
    Stale if the record changed since. The write carries the KB revision the hash was checked at, so a save by
    any process in between is noticed in the writing transaction (and the record looked at again)."""
    for _ in range(SAVE_TRIES):
        with factory() as session:
            found = load(session, proc.code)
            revision = store.current_revision(session)
        if found is None:
            raise EditError("Thủ tục này không còn trong cơ sở dữ liệu.")
        current, digest = found
        if digest != expected:
            raise Stale()
        fields = changed_fields(current, proc)
        if not fields:
            return []
        try:
            store.save_procedures(factory, [proc], actor=actor, base_revision=revision)
        except store.RevisionChanged:
            continue  # another record (or this one) was saved meanwhile: look again
        return fields
    raise Stale()
