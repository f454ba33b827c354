"""Imports and exports of the knowledge base for admins (/admin/imports, /admin/export): a file checked and reported
on before anything changes, then applied all-or-nothing with progress (knowledge/imports.py).

Applying runs in the background of this process; its page polls a fragment that reads the progress from the
database. After it the bot answers from the new records at once (`app.kb.refresh()`). Uploads, applies and
exports are written to the staff audit log.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from pathlib import Path

from aiohttp import web
from openpyxl.utils.exceptions import IllegalCharacterError

from bot.app import App
from dashboard import auth
from dashboard.admin import admin_only, checked, db
from dashboard.kb import Shown, shown_problem
from dashboard.web import PREFIX, TOO_LARGE, accepts_upload, app_of, not_found, render, see_other, staff_of
from feedback.workdays import VN_TZ
from knowledge import imports, store
from knowledge.editing import LABELS
from knowledge.imports import ImportRefused
from knowledge.integrity import Problem
from knowledge.model import Procedure

# What an export is sent as, by the `format` asked for.
EXPORTS = {
    "jsonl": "application/x-ndjson",
    "jsonl.gz": "application/gzip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
STATUS = {
    imports.CHECKED: "Đã kiểm tra, chờ áp dụng",
    imports.APPLYING: "Đang áp dụng",
    imports.APPLIED: "Đã áp dụng",
    imports.FAILED: "Không thành công",
    imports.EXPIRED: "Đã hết hạn (tệp đã xóa)",
}
NO_FILE = "Hãy chọn một tệp để tải lên."
BAD_FORMAT = "Định dạng xuất không hợp lệ: chọn jsonl, jsonl.gz, xlsx hoặc csv."
NO_XLSX = (
    "Không xuất được XLSX: có thủ tục chứa ký tự điều khiển mà bảng tính không chứa được. "
    "Hãy xuất .jsonl hoặc .csv, hoặc sửa thủ tục đó."
)
_applying: set[asyncio.Task] = set()  # running applies, kept until they end


def _counted(report: dict) -> str:
    """An import's report in one line of the audit log."""
    c = report["counts"]
    return (
        f"{report['records']} bản ghi: {c['new']} mới, {c['changed']} thay đổi, {c['unchanged']} không đổi, "
        f"{c['refused']} bị từ chối, {c['problems']} vấn đề dữ liệu"
    )


async def _audit(app: App, actor: str, action: str, target: str, detail: str | None) -> None:
    await asyncio.to_thread(auth.audit, app.factory, actor, action, target[:200], detail)


async def _list(request: web.Request, error: str | None = None) -> web.Response:
    context = {
        "imports": await db(imports.recent, app_of(request).factory),
        "status": STATUS,
        "formats": EXPORTS,
        "max_mb": imports.MAX_BYTES // 2**20,
        "error": error,
    }
    return render(request, "imports.html", context, status=400 if error else 200)


@admin_only
async def imports_page(request: web.Request) -> web.StreamResponse:
    return await _list(request)


@accepts_upload(imports.MAX_BYTES)
@admin_only
async def upload(request: web.Request) -> web.StreamResponse:
    try:
        form = await request.post()  # already read by the CSRF check, unless the token came as a header
    except web.HTTPRequestEntityTooLarge:
        return await _list(request, TOO_LARGE.format(mb=imports.MAX_BYTES // 2**20))
    file = form.get("file")
    if not isinstance(file, web.FileField):
        return await _list(request, NO_FILE)
    app, actor = app_of(request), staff_of(request).account.username
    try:
        up = await db(imports.check, app.factory, app.settings.data_dir, file.filename or "", file.file, actor)
    except ImportRefused as e:
        return await _list(request, e.vi)
    finally:
        file.file.close()
    await _audit(app, actor, "kb_import_check", up.filename, _counted(up.report))
    return see_other(f"{PREFIX}/imports/{up.token}")


async def _import_of(request: web.Request) -> imports.Upload | None:
    return await db(imports.get, app_of(request).factory, request.match_info["token"])


def _problems(report: dict) -> list[tuple[str, Shown]]:
    """The problems of a report, by code, as the procedures' pages say them (dashboard.kb)."""
    return [
        (
            x["code"],
            shown_problem(
                Problem(x["code"], x["field"], x["problem"], x["damaged"]),
                Procedure(x["code"], "", page_gaps=[x["field"]] if x["gap"] else []),
            ),
        )
        for x in report["problems"]
    ]


def _page(request: web.Request, up: imports.Upload, error: str | None = None) -> web.Response:
    context = {"up": up, "r": up.report, "problems": _problems(up.report), "status": STATUS, "labels": LABELS}
    context["error"] = error
    return render(request, "import_report.html", context, status=400 if error else 200)


@admin_only
async def import_page(request: web.Request) -> web.StreamResponse:
    up = await _import_of(request)
    return not_found(request) if up is None else _page(request, up)


@admin_only
async def progress(request: web.Request) -> web.StreamResponse:
    """The import's state alone: polled by htmx while it is being applied."""
    up = await _import_of(request)
    return not_found(request) if up is None else render(request, "import_progress.html", {"up": up, "status": STATUS})


@admin_only
async def apply(request: web.Request) -> web.StreamResponse:
    up = await _import_of(request)
    if up is None:
        return not_found(request)
    app = app_of(request)
    try:
        await db(imports.start, app.factory, up, checked(await request.post(), "skip_refused"))
    except ImportRefused as e:
        return _page(request, up, e.vi)
    task = asyncio.create_task(_apply(app, up, staff_of(request).account.username))
    _applying.add(task)
    task.add_done_callback(_applying.discard)
    return see_other(f"{PREFIX}/imports/{up.token}")


async def _apply(app: App, up: imports.Upload, actor: str) -> None:
    report = await asyncio.to_thread(imports.apply, app.factory, app.settings.data_dir, up)
    app.kb.refresh()  # the bot answers from the new records at once
    if report is None:
        after = await asyncio.to_thread(imports.get, app.factory, up.token)
        detail = f"không thành công: {after.error if after else '?'}"
    else:
        detail = f"{report.created} mới, {report.updated} cập nhật, {report.unchanged} không đổi"
    await _audit(app, actor, "kb_import_apply", up.filename, detail)


@admin_only
async def recheck(request: web.Request) -> web.StreamResponse:
    up = await _import_of(request)
    if up is None:
        return not_found(request)
    app = app_of(request)
    try:
        up = await db(imports.recheck, app.factory, app.settings.data_dir, up)
    except ImportRefused as e:
        return _page(request, up, e.vi)
    await _audit(app, staff_of(request).account.username, "kb_import_check", up.filename, _counted(up.report))
    return see_other(f"{PREFIX}/imports/{up.token}")


@admin_only
async def export(request: web.Request) -> web.StreamResponse:
    fmt = request.query.get("format", "")
    if fmt not in EXPORTS:
        return await _list(request, BAD_FORMAT)
    app = app_of(request)

    def written() -> tuple[int, bytes]:
        with tempfile.TemporaryDirectory() as folder, app.factory() as s:
            path = Path(folder) / f"procedures.{fmt}"
            return store.export_file(s, path), path.read_bytes()

    try:
        count, body = await db(written)
    except IllegalCharacterError:
        return await _list(request, NO_XLSX)
    name = f"thu-tuc-{datetime.now(VN_TZ):%Y%m%d-%H%M}.{fmt}"
    await _audit(app, staff_of(request).account.username, "kb_export", name, f"{count} thủ tục")
    headers = {"Content-Type": EXPORTS[fmt], "Content-Disposition": f'attachment; filename="{name}"'}
    return web.Response(body=body, headers=headers)


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/imports", imports_page)
    router.add_post(f"{PREFIX}/imports", upload)
    router.add_get(f"{PREFIX}/imports/{{token}}", import_page)
    router.add_get(f"{PREFIX}/imports/{{token}}/progress", progress)
    router.add_post(f"{PREFIX}/imports/{{token}}/apply", apply)
    router.add_post(f"{PREFIX}/imports/{{token}}/recheck", recheck)
    router.add_get(f"{PREFIX}/export", export)
