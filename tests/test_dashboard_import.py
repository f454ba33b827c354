"""Imports and exports of the knowledge base (/admin/imports, /admin/export), admins only: a file is checked and
reported on before anything changes, applied all-or-nothing with progress, refused clearly when it is bad; what
is exported re-imports unchanged. Over HTTP on SQLite and PostgreSQL (one app per module: imports made here do not
reach another module's app)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import uuid
import zlib
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from citizen import Citizen
from dashboard_util import account, login
from sqlalchemy import desc, func, select, update

from dashboard.tables import staff_audit
from knowledge import formats, imports, store
from knowledge.editing import LABELS
from knowledge.imports import kb_imports
from knowledge.model import Procedure

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SLOW = 60  # seconds: a safety net while an apply runs, never a timing assertion


# ---- helpers ---------------------------------------------------------------------------------------------------


def new_code() -> str:
    return f"9.{uuid.uuid4().int % 10**6:06d}"


def records(app) -> list:
    with app.factory() as s:
        return [p for p in store.load_all(s) if not p.flags]


def as_new(proc, code: str, name: str) -> dict:
    """An existing record's content under a code and name of its own (no portal page: not a duplicate)."""
    d = proc.to_dict() | {"code": code, "name": name}
    for key in ("page_code", "url", "aliases", "questions", "flags"):
        d.pop(key, None)
    return d


def jsonl(*lines) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines).encode()


def kb_state(app) -> tuple[int, int]:
    with app.factory() as s:
        return store.count(s), store.current_revision(s)


def stored(app) -> set[str]:
    folder = app.settings.data_dir / imports.SUBDIR
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def import_rows(app) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(kb_imports))


def last_audit(app, action: str):
    with app.factory() as s:
        q = select(staff_audit).where(staff_audit.c.action == action).order_by(desc(staff_audit.c.id)).limit(1)
        return s.execute(q).first()


async def upload(client, token: str | None, name: str, data: bytes):
    """The form as a browser sends it (the file's name as it is, in UTF-8)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'] if token else []
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n')
    parts.append("Content-Type: application/octet-stream\r\n\r\n")
    body = "".join(parts).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return await client.post("/admin/imports", data=body, headers=headers, allow_redirects=False)


async def checked(client, token: str, name: str, data: bytes) -> tuple[str, str]:
    """Upload a file that passes: (the import's token, its report page)."""
    r = await upload(client, token, name, data)
    assert r.status == 303, await r.text()
    m = re.fullmatch(r"/admin/imports/([0-9a-f]{32})", r.headers["Location"])
    assert m, r.headers["Location"]
    page = await client.get(r.headers["Location"])
    assert page.status == 200
    return m.group(1), await page.text()


def count_of(html: str, key: str) -> int:
    m = re.search(rf'<dd id="count-{key}">(\d+)</dd>', html)
    assert m, key
    return int(m.group(1))


async def apply(client, token: str, imp: str, skip: bool = False):
    data = {"csrf": token} | ({"skip_refused": "1"} if skip else {})
    return await client.post(f"/admin/imports/{imp}/apply", data=data, allow_redirects=False)


async def finished(client, imp: str) -> str:
    """Poll the progress fragment (as the page does) until the apply has ended; its last text."""
    for _ in range(SLOW * 10):
        r = await client.get(f"/admin/imports/{imp}/progress")
        html = await r.text()
        if "every 1s" not in html:
            return html
        assert 'hx-get="/admin/imports/' in html and "Đã ghi" in html
        await asyncio.sleep(0.1)
    raise AssertionError("the apply did not end")


def answer(app, question: str, name: str):
    """A citizen's dialog turn: the card the bot answers with, or, when it offers a choice whose first is `name`,
    the card of that first."""
    citizen = Citizen(app.conversations)
    reply = citizen.say(question)
    picks = [b for b in reply.buttons if b.group == "pick"]
    if picks:
        assert f"1. {name}\n" in reply.text
        reply = citizen.tap(picks[0].payload)
    return reply


def status(app, imp: str) -> str:
    return imports.get(app.factory, imp).status


@pytest.fixture
async def admin(dash, dash_app):
    """`dash` logged in as a new admin: its CSRF token."""
    return await login(dash, account(dash_app, "admin"))


# ---- access ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_staff_and_supervisors_get_403(dash, dash_app, role):
    token = await login(dash, account(dash_app, role, ["Sở Tư pháp"] if role == "staff" else []))
    for path in ("/admin/imports", "/admin/export?format=jsonl", "/admin/export?format=xlsx"):
        r = await dash.get(path)
        assert r.status == 403 and "không có quyền" in await r.text(), path
    before, files = import_rows(dash_app), stored(dash_app)
    r = await upload(dash, token, "kb.jsonl", jsonl({"code": new_code(), "name": "Thủ tục thử quyền"}))
    assert r.status == 403
    assert import_rows(dash_app) == before and stored(dash_app) == files


async def test_without_the_csrf_token_nothing_is_uploaded_or_applied(dash, dash_app, admin):
    base = records(dash_app)[0]
    data = jsonl(as_new(base, new_code(), "Thủ tục thử mã chống giả mạo"))
    before, files = import_rows(dash_app), stored(dash_app)
    for token in (None, "giả-mạo"):
        r = await upload(dash, token, "kb.jsonl", data)
        assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text()
    assert import_rows(dash_app) == before and stored(dash_app) == files
    imp, _ = await checked(dash, admin, "kb.jsonl", data)
    state = kb_state(dash_app)
    for token in (None, "giả-mạo"):
        r = await dash.post(f"/admin/imports/{imp}/apply", data={"csrf": token} if token else {})
        assert r.status == 403
    assert status(dash_app, imp) == imports.CHECKED and kb_state(dash_app) == state


# ---- the report, then the apply --------------------------------------------------------------------------------


async def test_the_report_tells_new_changed_unchanged_and_refused_and_changes_nothing(dash, dash_app, admin):
    same, edited, base = records(dash_app)[:3]
    code = new_code()
    changed = edited.to_dict() | {"conditions": (edited.conditions + " Có thêm điều kiện thử.").strip()}
    bad = {"code": new_code(), "name": "   "}
    data = jsonl(as_new(base, code, "Cấp giấy phép thử nghiệm nuôi cá cảnh"), changed, same.to_dict(), bad)
    before, files = kb_state(dash_app), stored(dash_app)

    imp, html = await checked(dash, admin, "thu-tuc.jsonl", data)
    assert [count_of(html, k) for k in ("new", "changed", "unchanged", "refused")] == [1, 1, 1, 1]
    assert f'<tr data-code="{code}">' in html and "dòng 1" in html
    changed_row = re.search(rf'<tr data-code="{edited.code}">.*?</tr>', html, re.S).group(0)
    assert LABELS["conditions"] in changed_row and "dòng 2" in changed_row
    assert f'<tr data-code="{same.code}">' in html
    refused = re.search(r'<table[^>]*id="refused".*?</table>', html, re.S).group(0)
    assert "dòng 4" in refused and bad["code"] in refused and "tên thủ tục để trống" in refused
    assert 'id="apply-form"' in html and 'name="skip_refused"' in html
    # the report is kept for any process to show; the file under DATA_DIR under a name of our own
    up = imports.get(dash_app.factory, imp)
    assert up.status == imports.CHECKED and up.report["counts"]["new"] == 1 and up.report["revision"] == before[1]
    [name] = stored(dash_app) - files
    assert name == f"{imp}.jsonl" and up.path == f"imports/{name}"
    assert (last_audit(dash_app, "kb_import_check").actor, last_audit(dash_app, "kb_import_check").target) == (
        up.actor,
        "thu-tuc.jsonl",
    )
    # nothing changed: not by the check, not by an apply that does not say what to do with the refused record
    assert kb_state(dash_app) == before
    r = await apply(dash, admin, imp)
    assert r.status == 400 and "1 bản ghi bị từ chối" in await r.text()
    assert kb_state(dash_app) == before and status(dash_app, imp) == imports.CHECKED
    with dash_app.factory() as s:
        assert store.get(s, code) is None and store.get(s, edited.code).conditions == edited.conditions


async def test_apply_saves_the_records_once_and_the_bot_answers_from_them(dash, dash_app, admin):
    edited, base = records(dash_app)[3:5]
    code, name = new_code(), "Cấp giấy phép thử nghiệm nuôi ong mật đô thị"
    changed = edited.to_dict() | {"aliases": [*edited.aliases, "thủ tục sửa qua tệp nhập"]}
    data = jsonl(as_new(base, code, name), changed, "{không phải JSON")
    imp, html = await checked(dash, admin, "ong.jsonl", data)
    assert count_of(html, "refused") == 1 and "dòng 3" in html and "không phải JSON hợp lệ" in html
    count, revision = kb_state(dash_app)

    # two clicks at once: one apply starts, the other is refused
    first, second = await asyncio.gather(apply(dash, admin, imp, skip=True), apply(dash, admin, imp, skip=True))
    assert sorted([first.status, second.status]) == [303, 400]
    done = await finished(dash, imp)
    assert "Đã áp dụng" in done and "1 thủ tục mới, 1 thủ tục cập nhật" in done
    assert status(dash_app, imp) == imports.APPLIED
    assert kb_state(dash_app) == (count + 1, revision + 1)
    with dash_app.factory() as s:
        assert store.get(s, code).name == name
        assert "thủ tục sửa qua tệp nhập" in store.get(s, edited.code).aliases
        assert [c["actor"] for c in store.history(s, code)] == [imports.get(dash_app.factory, imp).actor]
    assert f"{imp}.jsonl" not in stored(dash_app)  # applied: the upload is removed, its report kept
    assert "1 mới, 1 cập nhật" in last_audit(dash_app, "kb_import_apply").detail

    # the bot answers from it at once: search, and a dialog turn
    assert dash_app.kb.search("giấy phép nuôi ong mật đô thị").hits[0].code == code
    card = answer(dash_app, "xin giấy phép nuôi ong mật ở đô thị", name)
    assert name in card.text and code in card.text

    # applying again is refused, and changes nothing
    r = await apply(dash, admin, imp, skip=True)
    assert r.status == 400 and "đã được áp dụng" in await r.text()
    assert kb_state(dash_app) == (count + 1, revision + 1)


async def test_a_report_checked_before_another_change_must_be_checked_again(dash, dash_app, admin):
    base = records(dash_app)[5]
    one, two = new_code(), new_code()
    imp1, _ = await checked(dash, admin, "mot.jsonl", jsonl(as_new(base, one, "Thủ tục thử thứ nhất về nuôi tằm")))
    imp2, _ = await checked(dash, admin, "hai.jsonl", jsonl(as_new(base, two, "Thủ tục thử thứ hai về nuôi tằm")))
    assert (await apply(dash, admin, imp1)).status == 303
    assert "Đã áp dụng" in await finished(dash, imp1)
    state = kb_state(dash_app)
    r = await apply(dash, admin, imp2)
    assert r.status == 400 and "đã thay đổi kể từ khi kiểm tra" in await r.text()
    assert status(dash_app, imp2) == imports.CHECKED and kb_state(dash_app) == state
    # an edit made elsewhere counts too
    r = await dash.post(f"/admin/imports/{imp2}/recheck", data={"csrf": admin}, allow_redirects=False)
    assert r.status == 303
    assert imports.get(dash_app.factory, imp2).report["revision"] == state[1]
    store.add_text(dash_app.factory, base.code, "aliases", f"tên gọi thử {uuid.uuid4().hex[:6]}", "cli")
    assert (await apply(dash, admin, imp2)).status == 400
    await dash.post(f"/admin/imports/{imp2}/recheck", data={"csrf": admin})
    assert (await apply(dash, admin, imp2)).status == 303
    assert "Đã áp dụng" in await finished(dash, imp2)
    with dash_app.factory() as s:
        assert store.get(s, two) is not None


async def test_a_change_landing_during_the_apply_fails_it_and_changes_nothing(dash, dash_app, admin):
    base = records(dash_app)[7]
    code = new_code()
    imp, _ = await checked(dash, admin, "ba.jsonl", jsonl(as_new(base, code, "Thủ tục thử thứ ba về nuôi tằm")))
    up = imports.get(dash_app.factory, imp)
    imports.start(dash_app.factory, up, skip_refused=False)
    store.add_text(dash_app.factory, base.code, "aliases", f"tên gọi thử {uuid.uuid4().hex[:6]}", "cli")  # first
    state = kb_state(dash_app)
    assert imports.apply(dash_app.factory, dash_app.settings.data_dir, up) is None
    assert kb_state(dash_app) == state and status(dash_app, imp) == imports.FAILED
    with dash_app.factory() as s:
        assert store.get(s, code) is None
    html = await (await dash.get(f"/admin/imports/{imp}")).text()
    assert "Không thành công" in html and "đã thay đổi kể từ khi kiểm tra" in html
    assert 'id="apply-form"' not in html and 'id="recheck-form"' in html
    assert (await dash.post(f"/admin/imports/{imp}/recheck", data={"csrf": admin})).status == 200
    assert (await apply(dash, admin, imp)).status == 303
    assert "Đã áp dụng" in await finished(dash, imp)


# ---- bad files -------------------------------------------------------------------------------------------------

GOOD_LINE = jsonl({"code": "9.999999", "name": "Thủ tục thử tệp hỏng"})


def bomb() -> bytes:
    """1 MB of gzip holding more text than a file may (blank lines), made a megabyte at a time."""
    z = zlib.compressobj(1, wbits=31)
    parts = [z.compress(b"\n" * 2**20) for _ in range(formats.MAX_TEXT // 2**20 + 1)]
    return b"".join(parts) + z.flush()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("trong.jsonl", b"", "Tệp rỗng"),
        ("trong.jsonl", b"\n\n  \n", "không có bản ghi nào"),
        ("rac.jsonl", bytes(range(256)) * 8, "nhị phân"),
        ("rac.jsonl", b"\xff\xfe\x81 r\xe1c", "không phải văn bản UTF-8"),
        ("cut.jsonl.gz", gzip.compress(GOOD_LINE * 50)[:-30], "gzip bị hỏng"),
        ("notgz.jsonl.gz", GOOD_LINE, "không phải tệp nén gzip"),
        ("no-code.csv", "name,url\nThủ tục,https://x\n".encode(), "không có cột “code”"),
        ("fake.xlsx", b"PK\x03\x04" + b"not a workbook" * 20, "không đọc được tệp XLSX"),
        ("text.xlsx", b"code,name\n1.1,x\n", "không phải bảng tính XLSX"),
        ("zip.csv", b"PK\x03\x04" + b"x" * 40, "tệp nén ZIP"),
        ("thu-tuc.pdf", GOOD_LINE, "không đúng loại"),
        ("json.jsonl", b'{"a": \n[1, 2]\n', "Không đọc được bản ghi nào"),
        ("many.jsonl", b"{}\n" * (imports.MAX_RECORDS + 1), "quá nhiều bản ghi"),
        ("bomb.jsonl.gz", "bomb", "hơn 256 MB"),
    ],
)
async def test_bad_files_are_refused_in_vietnamese_and_nothing_is_kept(dash, dash_app, admin, name, data, message):
    before, files, state = import_rows(dash_app), stored(dash_app), kb_state(dash_app)
    r = await upload(dash, admin, name, bomb() if data == "bomb" else data)
    html = await r.text()
    assert r.status == 400 and message in html, html
    assert 'id="upload-form"' in html
    assert import_rows(dash_app) == before and stored(dash_app) == files and kb_state(dash_app) == state


async def test_no_file_chosen_is_refused(dash, admin):
    r = await dash.post("/admin/imports", data={"csrf": admin}, allow_redirects=False)
    assert r.status == 400 and "Hãy chọn một tệp" in await r.text()


@pytest.mark.parametrize("extra", [100_000, 3 * 2**20])  # past the file's cap; past the request's too
async def test_a_file_over_the_cap_is_refused(dash, dash_app, admin, extra):
    before, files = import_rows(dash_app), stored(dash_app)
    r = await upload(dash, admin, "lon.jsonl", GOOD_LINE * ((imports.MAX_BYTES + extra) // len(GOOD_LINE) + 1))
    text = await r.text()
    assert r.status == 400 and "quá lớn" in text and "50 MB" in text
    assert import_rows(dash_app) == before and stored(dash_app) == files


# ---- export ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "xlsx", "csv"])
async def test_an_export_downloads_and_re_imports_unchanged(dash, dash_app, admin, fmt):
    r = await dash.get(f"/admin/export?format={fmt}")
    assert r.status == 200
    assert re.fullmatch(rf'attachment; filename="thu-tuc-[0-9-]+\.{re.escape(fmt)}"', r.headers["Content-Disposition"])
    assert r.headers["Content-Type"].startswith(imports_type(fmt))
    body = await r.read()
    count, _ = kb_state(dash_app)
    assert f"{count} thủ tục" == last_audit(dash_app, "kb_export").detail
    _, html = await checked(dash, admin, f"xuat.{fmt}", body)
    assert [count_of(html, k) for k in ("new", "changed", "unchanged", "refused")] == [0, 0, count, 0]


def imports_type(fmt: str) -> str:
    return {"jsonl": "application/x-ndjson", "jsonl.gz": "application/gzip", "csv": "text/csv"}.get(
        fmt, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


async def test_control_characters_are_refused_and_do_not_break_the_xlsx_export(dash, dash_app, admin):
    base = records(dash_app)[8]
    code = new_code()
    data = jsonl(as_new(base, code, "Thủ tục\x0bthử"), as_new(base, new_code(), "Thủ tục thử ký tự điều khiển"))
    _, html = await checked(dash, admin, "ky-tu.jsonl", data)
    assert count_of(html, "refused") == 1 and "ký tự điều khiển U+000B" in html
    # a record that came in another way (the CLI): the XLSX export says why instead of failing
    store.save_procedures(dash_app.factory, [Procedure(code, "Thủ tục\x0bthử")], "cli")
    r = await dash.get("/admin/export?format=xlsx")
    assert r.status == 400 and "ký tự điều khiển" in await r.text()
    store.save_procedures(dash_app.factory, [Procedure(code, "Thủ tục thử ký tự đã sửa")], "cli")
    assert (await dash.get("/admin/export?format=xlsx")).status == 200


async def test_an_unknown_export_format_is_refused(dash, admin):
    r = await dash.get("/admin/export?format=pdf")
    assert r.status == 400 and "Định dạng xuất không hợp lệ" in await r.text()


# ---- inert text, the table ---------------------------------------------------------------------------------------


async def test_record_text_and_file_names_are_shown_inert(dash, dash_app, admin):
    base = records(dash_app)[6]
    record = as_new(base, new_code(), f"Thủ tục {SCRIPT} {IMG}") | {"url": "javascript:alert(1)"}
    unknown = {"code": new_code(), "name": "Thủ tục thử", SCRIPT: IMG}
    imp, html = await checked(dash, admin, f"{SCRIPT}.jsonl", jsonl(record, unknown))
    listing = await (await dash.get("/admin/imports")).text()
    for page in (html, listing):
        assert SCRIPT not in page and IMG not in page and "javascript:" not in page
        assert "&lt;script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'href="/admin/imports/{imp}"' in listing


def test_the_table_matches_its_migration(dash_app):
    with dash_app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    assert [d for d in diff if "kb_imports" in repr(d)] == []


# ---- imports left behind -----------------------------------------------------------------------------------------


async def test_imports_never_applied_expire_with_their_files(dash, dash_app, admin):
    left, _ = await checked(
        dash, admin, "bo-do.jsonl", jsonl(as_new(records(dash_app)[8], new_code(), "Thủ tục bỏ dở"))
    )
    stuck, _ = await checked(dash, admin, "ket.jsonl", jsonl(as_new(records(dash_app)[9], new_code(), "Thủ tục kẹt")))
    fresh, _ = await checked(dash, admin, "moi.jsonl", jsonl(as_new(records(dash_app)[10], new_code(), "Thủ tục mới")))
    imports.start(dash_app.factory, imports.get(dash_app.factory, stuck), skip_refused=False)  # its process "dies"
    files = {t: dash_app.settings.data_dir / imports.get(dash_app.factory, t).path for t in (left, stuck, fresh)}
    with dash_app.factory.begin() as s:
        old = imports.now() - imports.KEEP - timedelta(minutes=1)
        s.execute(update(kb_imports).where(kb_imports.c.token.in_((left, stuck))).values(created_at=old))
    state = kb_state(dash_app)
    dash_app.upkeep()  # what the background worker runs
    assert (status(dash_app, left), status(dash_app, stuck)) == (imports.EXPIRED, imports.EXPIRED)
    assert status(dash_app, fresh) == imports.CHECKED and files[fresh].exists()
    assert not files[left].exists() and not files[stuck].exists()
    assert kb_state(dash_app) == state
    html = await (await dash.get(f"/admin/imports/{stuck}")).text()
    assert "bị gián đoạn" in html and 'id="apply-form"' not in html and 'id="recheck-form"' not in html
    for action in ("apply", "recheck"):
        r = await dash.post(f"/admin/imports/{left}/{action}", data={"csrf": admin})
        assert r.status == 400 and "Đã quá 24 giờ" in await r.text()
    assert dash_app.upkeep() is None and status(dash_app, fresh) == imports.CHECKED  # a second sweep: nothing more
