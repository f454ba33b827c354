"""Administration (admins only): the settings page, staff accounts and the staff audit log. Queues, routing rules,
reject reasons and answer templates are in dashboard.admin_config; both share the helpers here.

Every change is written to the staff audit log with the acting account; a refused change shows the domain's
Vietnamese reason on the page (400) and changes nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import desc, select

from bot import users
from bot.users import UserError
from dashboard import auth
from dashboard.tables import staff_audit
from dashboard.web import PREFIX, SESSIONS_KEY, app_of, not_found, render, requires, see_other, staff_of, text
from feedback.routing import list_queues

admin_only = requires("admin")
ROLE_LABELS = {"staff": "Cán bộ", "supervisor": "Lãnh đạo phòng", "admin": "Quản trị"}
AUDIT_LIMIT = 200
AUDIT_LABELS = {
    "login": "Đăng nhập",
    "logout": "Đăng xuất",
    "login_failed": "Đăng nhập sai",
    "user_add": "Thêm tài khoản",
    "user_edit": "Sửa tài khoản",
    "user_password": "Đặt lại mật khẩu",
    "queue_add": "Thêm hàng đợi",
    "queue_edit": "Sửa hàng đợi",
    "rule_add": "Thêm quy tắc phân luồng",
    "rule_edit": "Sửa quy tắc phân luồng",
    "reason_add": "Thêm lý do từ chối",
    "reason_edit": "Sửa lý do từ chối",
    "template_add": "Thêm mẫu trả lời",
    "template_edit": "Sửa mẫu trả lời",
    "kb_import_check": "Kiểm tra tệp nhập thủ tục",
    "kb_import_apply": "Áp dụng tệp nhập thủ tục",
    "kb_export": "Xuất dữ liệu thủ tục",
    "kb_edit": "Sửa thủ tục",
    "kb_revert": "Khôi phục thủ tục",
    "unanswered_attach": "Gắn câu hỏi chưa trả lời được vào thủ tục",
    "unanswered_out_of_scope": "Đánh dấu câu hỏi ngoài phạm vi",
    "vocabulary_save": "Sửa sự kiện, tên gọi",
    "vocabulary_revert": "Khôi phục sự kiện, tên gọi",
}
# What a page says after a change (by a fixed key in the query string: nothing typed is echoed back).
DONE = {
    "user_add": "Đã thêm tài khoản.",
    "user_edit": "Đã lưu tài khoản.",
    "user_password": "Đã đặt lại mật khẩu; các phiên đăng nhập của tài khoản đã kết thúc.",
    "queue_add": "Đã thêm hàng đợi.",
    "queue_edit": "Đã lưu hàng đợi.",
    "rule_add": "Đã thêm quy tắc.",
    "rule_edit": "Đã lưu quy tắc.",
    "reason_add": "Đã thêm lý do.",
    "reason_edit": "Đã lưu lý do.",
    "template_add": "Đã thêm mẫu.",
    "template_edit": "Đã lưu mẫu.",
}


# ---- shared by the admin pages ---------------------------------------------------------------------------------


def done_message(request: web.Request) -> str | None:
    return DONE.get(request.query.get("done", ""))


def number(form: MultiDictProxy, key: str) -> int | str:
    """The field as a whole number, else as typed (the domain refuses it with its reason)."""
    raw = text(form, key).strip()
    return int(raw) if raw.lstrip("-").isdigit() and len(raw) < 10 else raw


def checked(form: MultiDictProxy, key: str) -> bool:
    return text(form, key) == "1"


def path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 9:
        raise web.HTTPNotFound()
    return int(raw)


async def changed(request: web.Request, action: str, target: str, detail: str | None, to: str) -> web.Response:
    """After a change: the audit entry with the acting account, then back to the page (PRG)."""
    actor = staff_of(request).account.username
    await asyncio.to_thread(auth.audit, app_of(request).factory, actor, action, target[:200], detail)
    return see_other(f"{to}?done={action}")


async def db(fn: Callable, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


# ---- settings and the audit log --------------------------------------------------------------------------------


@admin_only
async def settings_page(request: web.Request) -> web.StreamResponse:
    return render(request, "admin_settings.html")


@admin_only
async def audit_page(request: web.Request) -> web.StreamResponse:
    def last() -> list[dict]:
        with app_of(request).factory() as s:
            q = select(staff_audit).order_by(desc(staff_audit.c.at), desc(staff_audit.c.id)).limit(AUDIT_LIMIT)
            return [dict(r._mapping) for r in s.execute(q)]

    return render(request, "admin_audit.html", {"entries": await db(last), "labels": AUDIT_LABELS})


# ---- accounts --------------------------------------------------------------------------------------------------


def _queue_choice(form: MultiDictProxy) -> list[int | str]:
    return [int(v) if v.isdigit() and len(v) < 10 else v for v in form.getall("queues", []) if isinstance(v, str)]


def _password(form: MultiDictProxy) -> tuple[str, bool]:
    """The password typed, or a generated one when the box is left empty: (password, generated)."""
    typed = text(form, "password")
    return (typed, False) if typed else (secrets.token_urlsafe(12), True)


async def _users_page(
    request: web.Request, error: str | None = None, form: dict | None = None, shown: dict | None = None
) -> web.Response:
    factory = app_of(request).factory
    queues = await db(list_queues, factory)
    context = {
        "accounts": await db(users.list_accounts, factory),
        "queues": queues,
        "queue_names": {q["id"]: q["name"] for q in queues},
        "roles": ROLE_LABELS,
        "error": error,
        "done": done_message(request) if not shown else None,
        "form": form or {},
        "shown": shown,
    }
    return render(request, "admin_users.html", context, status=400 if error else 200)


@admin_only
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@admin_only
async def user_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = text(form, "username").strip().lower()
    role = text(form, "role")
    queues = _queue_choice(form)
    password, generated = _password(form)
    try:
        await db(users.add_user, app_of(request).factory, username, password, role, queues)
    except UserError as e:
        kept = {"username": username, "role": role, "queues": queues}
        return await _users_page(request, error=e.vi, form=kept)
    actor = staff_of(request).account.username
    detail = await _described(request, await db(users.by_name, app_of(request).factory, username))
    await db(auth.audit, app_of(request).factory, actor, "user_add", username, detail)
    if not generated:
        return see_other(f"{PREFIX}/users?done=user_add")
    # a generated password is shown once, on this page (never in a URL; the page is not cached)
    return await _users_page(request, shown={"username": username, "password": password})


async def _described(request: web.Request, account: users.Account) -> str:
    """An account as the audit log tells it: role, queues by name, active or not."""
    names = [q["name"] for q in await db(list_queues, app_of(request).factory) if q["id"] in account.queue_ids]
    state = "hoạt động" if account.active else "đã khóa"
    return f"{ROLE_LABELS[account.role]}; hàng đợi: {', '.join(names) or '—'}; {state}"


async def _user_page(request: web.Request, account: users.Account, error: str | None = None, shown=None):
    context = {
        "account": account,
        "queues": await db(list_queues, app_of(request).factory),
        "roles": ROLE_LABELS,
        "error": error,
        "done": done_message(request) if not (error or shown) else None,
        "shown": shown,
        "me": account.id == staff_of(request).account.id,
    }
    return render(request, "admin_user.html", context, status=400 if error else 200)


async def _account_of(request: web.Request) -> users.Account | None:
    return await db(users.get, app_of(request).factory, path_id(request))


@admin_only
async def user_page(request: web.Request) -> web.StreamResponse:
    account = await _account_of(request)
    return not_found(request) if account is None else await _user_page(request, account)


@admin_only
async def user_edit(request: web.Request) -> web.StreamResponse:
    account = await _account_of(request)
    if account is None:
        return not_found(request)
    form = await request.post()
    role, active, queues = text(form, "role"), checked(form, "active"), _queue_choice(form)
    factory = app_of(request).factory
    try:
        await db(
            users.update_account,
            factory,
            account.id,
            role=role,
            active=active,
            queue_ids=queues,
            actor_id=staff_of(request).account.id,
        )
    except UserError as e:
        return await _user_page(request, account, error=e.vi)
    if not active:
        await db(request.app[SESSIONS_KEY].end_all, account.id)
    detail = await _described(request, await _account_of(request))
    return await changed(request, "user_edit", account.username, detail, f"{PREFIX}/users/{account.id}")


@admin_only
async def user_password(request: web.Request) -> web.StreamResponse:
    account = await _account_of(request)
    if account is None:
        return not_found(request)
    password, generated = _password(await request.post())
    factory = app_of(request).factory
    try:
        await db(users.update_account, factory, account.id, password=password)
    except UserError as e:
        return await _user_page(request, account, error=e.vi)
    await db(request.app[SESSIONS_KEY].end_all, account.id)  # whoever held the old password is out
    actor = staff_of(request).account.username
    await db(auth.audit, factory, actor, "user_password", account.username, "mật khẩu tự sinh" if generated else None)
    if account.id == staff_of(request).account.id:
        return see_other(f"{PREFIX}/login")  # their own sessions ended too
    if not generated:
        return see_other(f"{PREFIX}/users/{account.id}?done=user_password")
    return await _user_page(request, account, shown={"username": account.username, "password": password})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{PREFIX}/settings", settings_page)
    router.add_get(f"{PREFIX}/audit", audit_page)
    router.add_get(f"{PREFIX}/users", users_page)
    router.add_post(f"{PREFIX}/users", user_add)
    router.add_get(f"{PREFIX}/users/{{id}}", user_page)
    router.add_post(f"{PREFIX}/users/{{id}}", user_edit)
    router.add_post(f"{PREFIX}/users/{{id}}/password", user_password)
