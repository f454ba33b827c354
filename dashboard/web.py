"""What every dashboard page shares: the app keys, rendering, role checks, the security middlewares."""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from bot.app import App
from dashboard.auth import Sessions, StaffSession, Throttle

APP_KEY = web.AppKey("dashboard_app", App)
SESSIONS_KEY = web.AppKey("dashboard_sessions", Sessions)
THROTTLE_KEY = web.AppKey("dashboard_throttle", Throttle)
WAKE_KEY = web.AppKey("dashboard_wake", asyncio.Event)
SECURE_KEY = web.AppKey("dashboard_secure", bool)

STAFF_KEY = web.RequestKey("dashboard_staff", StaffSession)
LOGIN_CSRF_KEY = web.RequestKey("dashboard_login_csrf", str)
PREFIX = "/admin"
SESSION_COOKIE = "tthc_staff"
LOGIN_COOKIE = "tthc_login"  # the login form's CSRF token (double submit: cookie and form must agree)
OPEN_PATHS = (f"{PREFIX}/login", f"{PREFIX}/static/")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BAD_TOKEN = "Phiên làm việc không hợp lệ hoặc đã hết hạn. Hãy tải lại trang và thử lại."
TOO_LARGE = "Dữ liệu gửi lên quá lớn: tối đa {mb} MB. Không có gì được lưu."
FORM_ROOM = 2**20  # bytes of a form around an uploaded file
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_of(request: web.Request) -> App:
    return request.app[APP_KEY]


def staff_of(request: web.Request) -> StaffSession:
    return request[STAFF_KEY]


def wake_outbox(request: web.Request) -> None:
    """A change the citizen must hear of: the outbox worker sends it now, not at its next round."""
    wake = request.app.get(WAKE_KEY)
    if wake is not None:
        wake.set()


def render(request: web.Request, template: str, context: dict | None = None, status: int = 200) -> web.Response:
    staff = request.get(STAFF_KEY)
    shared = {
        "staff": staff.account if staff else None,
        "csrf": staff.csrf if staff else request.get(LOGIN_CSRF_KEY, ""),
        "path": request.path,
    }
    return aiohttp_jinja2.render_template(template, request, shared | (context or {}), status=status)


def page_error(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def forbidden(request: web.Request) -> web.Response:
    return page_error(request, 403, "Tài khoản của bạn không có quyền xem trang này.")


def not_found(request: web.Request) -> web.Response:
    return page_error(request, 404, "Không tìm thấy trang hoặc hồ sơ này.")


def requires(role: str) -> Callable[[Handler], Handler]:
    """Only accounts of `role` or above; others get 403."""

    def deco(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not staff_of(request).account.at_least(role):
                return forbidden(request)
            return await handler(request)

        return wrapped

    return deco


def accepts_upload(max_bytes: int) -> Callable[[Handler], Handler]:
    """A route taking a file of up to `max_bytes` (other requests may send 1 MB): its multipart body is read with
    that limit (and room for the form); a larger body is refused on a page (400) before the handler runs."""

    def deco(handler: Handler) -> Handler:
        handler.max_upload = max_bytes  # read by _guarded
        return handler

    return deco


def text(form: MultiDictProxy, key: str) -> str:
    """A form field as text; a file sent where text was expected counts as nothing."""
    value = form.get(key, "")
    return value if isinstance(value, str) else ""


def client_ip(request: web.Request) -> str:
    """Who asked: behind a proxy of TRUSTED_PROXIES (nginx on this host), the last address of X-Forwarded-For
    that is not one of them; else the connection's address."""
    remote = request.remote or "?"
    trusted = request.app[APP_KEY].settings.proxies
    if remote not in trusted:
        return remote
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted:
            return hop[:64]
    return remote


def _to_login(request: web.Request) -> web.StreamResponse:
    target = f"{PREFIX}/login?next={quote(request.path_qs, safe='')}" if request.method == "GET" else f"{PREFIX}/login"
    if request.headers.get("HX-Request"):
        return web.Response(status=401, headers={"HX-Redirect": target})
    return see_other(target)


def _token_ok(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def see_other(location: str) -> web.Response:
    """A redirect after a POST (or to the login page)."""
    return web.Response(status=303, headers={"Location": location})


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(f"{PREFIX}/static/"):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For every dashboard path: the session (or the way to the login page), the CSRF check of every unsafe
    request, and the security headers."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        response = await _guarded(request, handler)
    except web.HTTPNotFound:
        response = not_found(request)
    except web.HTTPException as e:
        _secure(request, e)
        raise
    _secure(request, response)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = getattr(request.match_info.handler, "max_upload", 0)
    if limit:
        request = request.clone(client_max_size=limit + FORM_ROOM)
    sessions = request.app[SESSIONS_KEY]
    staff = await asyncio.to_thread(sessions.load, request.cookies.get(SESSION_COOKIE))
    if staff is not None:
        request[STAFF_KEY] = staff
    open_path = request.path.startswith(OPEN_PATHS)
    if staff is None and not open_path:
        return _to_login(request)
    if request.method in UNSAFE:
        # the login form comes before any session: its token is the one in the login cookie
        expected = request.cookies.get(LOGIN_COOKIE, "") if open_path else staff.csrf
        given = request.headers.get("X-CSRF-Token")
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                given = (await request.post()).get("csrf")
            except web.HTTPRequestEntityTooLarge:
                mb = max(1, (limit or request.client_max_size) // 2**20)
                return page_error(request, 400, TOO_LARGE.format(mb=mb))
        if not _token_ok(expected, given if isinstance(given, str) else None):
            return page_error(request, 403, BAD_TOKEN)
    return await handler(request)


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="Lax",
        secure=request.app[SECURE_KEY] or request.secure,
    )
