"""Login and logout."""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from bot import users
from dashboard import auth
from dashboard.web import (
    LOGIN_COOKIE,
    LOGIN_CSRF_KEY,
    PREFIX,
    SESSION_COOKIE,
    SESSIONS_KEY,
    STAFF_KEY,
    THROTTLE_KEY,
    app_of,
    client_ip,
    render,
    see_other,
    set_cookie,
    staff_of,
)

BAD_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng."
LOCKED = "Đăng nhập tạm khóa vì nhập sai nhiều lần. Vui lòng thử lại sau 15 phút hoặc liên hệ quản trị viên."


def _next(value: str | None) -> str:
    """Where to go after login: a dashboard path only (never another site)."""
    v = value or ""
    if v.startswith(f"{PREFIX}/") and not v.startswith("//") and "\\" not in v and "\n" not in v and "\r" not in v:
        return v
    return f"{PREFIX}/inbox"


def _login_page(
    request: web.Request, error: str | None = None, status: int = 200, username: str = "", nxt: str = ""
) -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    request[LOGIN_CSRF_KEY] = token
    nxt = _next(request.query.get("next") or nxt)
    response = render(request, "login.html", {"error": error, "next": nxt, "username": username}, status=status)
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.get(STAFF_KEY) is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    nxt = str(form.get("next", ""))
    ip = client_ip(request)
    app = app_of(request)
    throttle = request.app[THROTTLE_KEY]
    if await asyncio.to_thread(throttle.locked, username, ip):
        return _login_page(request, LOCKED, status=429, username=username, nxt=nxt)
    account = await asyncio.to_thread(users.authenticate, app.factory, username, password)
    await asyncio.to_thread(throttle.record, username, ip, account is not None)
    if account is None:
        await asyncio.to_thread(auth.audit, app.factory, username or "?", "login_failed", ip)
        return _login_page(request, BAD_LOGIN, status=401, username=username, nxt=nxt)
    sessions = request.app[SESSIONS_KEY]
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await asyncio.to_thread(sessions.end, old)
    token, _ = await asyncio.to_thread(sessions.create, account)
    await asyncio.to_thread(auth.audit, app.factory, account.username, "login", ip)
    response = see_other(_next(nxt))
    set_cookie(request, response, SESSION_COOKIE, token, max_age=None)
    response.del_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    staff = staff_of(request)
    await asyncio.to_thread(request.app[SESSIONS_KEY].end, request.cookies.get(SESSION_COOKIE, ""))
    await asyncio.to_thread(auth.audit, app_of(request).factory, staff.account.username, "logout")
    response = see_other(f"{PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{PREFIX}/login", login_form)
    router.add_post(f"{PREFIX}/login", login)
    router.add_post(f"{PREFIX}/logout", logout)
