"""Dashboard access: login, sessions kept on the server, throttling, CSRF, cookies and security headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dashboard_util import PASSWORD, account, csrf_of, login
from sqlalchemy import func, select, update
from yarl import URL

from bot import users
from dashboard import auth
from dashboard.tables import sessions, staff_audit
from dashboard.web import CSP, SESSION_COOKIE
from feedback.outbox import utcnow


def _session_count(app, username: str) -> int:
    acc = users.by_name(app.factory, username)
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(sessions).where(sessions.c.user_id == acc.id))


async def _post_login(client, username, password, token=None, next_=None):
    if token is None:
        token = csrf_of(await (await client.get("/admin/login")).text())
    data = {"csrf": token, "username": username, "password": password}
    if next_ is not None:
        data["next"] = next_
    return await client.post("/admin/login", data=data, allow_redirects=False)


async def test_without_a_session_every_page_leads_to_login(dash):
    for path in ("/admin", "/admin/inbox", "/admin/reports", "/admin/users", "/admin/items/PA-AAAAAAAA"):
        r = await dash.get(path, allow_redirects=False)
        assert r.status == 303, path
        assert r.headers["Location"].startswith("/admin/login"), path
    r = await dash.get("/admin/inbox?state=received", allow_redirects=False)
    assert URL(r.headers["Location"]).query["next"] == "/admin/inbox?state=received"
    # htmx asks for a fragment: it is told where to go instead of receiving the login page inside the table
    r = await dash.get("/admin/inbox", headers={"HX-Request": "true"}, allow_redirects=False)
    assert r.status == 401 and r.headers["HX-Redirect"].startswith("/admin/login")
    r = await dash.post("/admin/logout", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/admin/login"


async def test_login_sets_a_fresh_httponly_session_and_goes_where_asked(dash, dash_app):
    name = account(dash_app, "staff")
    r = await dash.get("/admin/login")
    login_cookie = r.cookies["tthc_login"]
    assert login_cookie["httponly"] and login_cookie["samesite"] == "Lax"
    r = await _post_login(dash, name, PASSWORD, next_="/admin/inbox?overdue=1")
    assert r.status == 303 and r.headers["Location"] == "/admin/inbox?overdue=1"
    cookie = r.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
    assert not cookie["secure"]  # plain http on localhost; see the https test below
    first = cookie.value
    # logging in from a browser that holds a session gives a new token, and the old one is gone on the server
    dash.session.cookie_jar.clear()
    token = csrf_of(await (await dash.get("/admin/login")).text())
    r = await dash.post(
        "/admin/login",
        data={"csrf": token, "username": name, "password": PASSWORD},
        cookies={SESSION_COOKIE: first},
        allow_redirects=False,
    )
    second = r.cookies[SESSION_COOKIE].value
    assert second != first
    assert dash_app.factory and _session_count(dash_app, name) == 1
    with dash_app.factory() as s:
        assert s.scalar(select(sessions.c.token_hash).where(sessions.c.token_hash == auth.token_hash(first))) is None
        assert s.scalar(select(sessions.c.token_hash).where(sessions.c.token_hash == auth.token_hash(second)))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/elsewhere", "/admin\\@evil", ""])
async def test_next_never_leaves_the_dashboard(dash, dash_app, target):
    name = account(dash_app, "staff")
    r = await _post_login(dash, name, PASSWORD, next_=target)
    assert r.headers["Location"] == "/admin/inbox"


async def test_wrong_password_and_unknown_name_get_the_same_answer(dash, dash_app):
    name = account(dash_app, "staff")
    bad = await _post_login(dash, name, "sai-mat-khau-roi")
    ghost = await _post_login(dash, "khong-ton-tai", "sai-mat-khau-roi")
    assert bad.status == ghost.status == 401
    for r in (bad, ghost):
        body = await r.text()
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in body and SESSION_COOKIE not in r.cookies
    with dash_app.factory() as s:
        actions = set(s.scalars(select(staff_audit.c.action).where(staff_audit.c.actor == name)))
    assert "login_failed" in actions


async def test_repeated_failures_lock_the_name_even_with_the_right_password(dash, dash_app):
    name = account(dash_app, "staff")
    for _ in range(auth.USER_FAILURES):
        assert (await _post_login(dash, name, "sai-mat-khau-roi")).status == 401
    r = await _post_login(dash, name, PASSWORD)
    assert r.status == 429 and "tạm khóa" in await r.text()
    # another account is not locked by it (the address limit is higher)
    other = account(dash_app, "staff")
    assert (await _post_login(dash, other, PASSWORD)).status == 303
    # after the window the name may try again
    later = utcnow() + auth.WINDOW + timedelta(seconds=1)
    assert not auth.Throttle(dash_app.factory).locked(name, "127.0.0.1", now=later)


async def test_a_disabled_account_cannot_log_in_and_loses_its_sessions(dash, dash_app):
    name = account(dash_app, "staff")
    await login(dash, name)
    acc = users.by_name(dash_app.factory, name)
    users.update_account(dash_app.factory, acc.id, active=False)
    r = await dash.get("/admin/inbox", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
    assert (await _post_login(dash, name, PASSWORD)).status == 401


async def test_logout_ends_the_session_on_the_server(dash, dash_app):
    name = account(dash_app, "staff")
    token = await login(dash, name)
    stolen = dash.session.cookie_jar.filter_cookies(dash.make_url("/admin/"))[SESSION_COOKIE].value
    r = await dash.post("/admin/logout", data={"csrf": token}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/admin/login"
    assert _session_count(dash_app, name) == 0
    # the old cookie, replayed, opens nothing
    r = await dash.get("/admin/inbox", cookies={SESSION_COOKIE: stolen}, allow_redirects=False)
    assert r.status == 303


async def test_an_idle_session_ends(dash, dash_app):
    name = account(dash_app, "staff")
    await login(dash, name)
    idle = timedelta(minutes=dash_app.settings.dashboard_idle_minutes)
    with dash_app.factory.begin() as s:
        acc = users.by_name(dash_app.factory, name)
        s.execute(update(sessions).where(sessions.c.user_id == acc.id).values(seen_at=utcnow() - idle - timedelta(1)))
    r = await dash.get("/admin/inbox", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
    assert _session_count(dash_app, name) == 0


def test_sessions_end_after_their_lifetime_even_when_used(dash_app):
    acc = users.by_name(dash_app.factory, account(dash_app, "staff"))
    store = auth.Sessions(dash_app.factory, idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    start = utcnow()
    token, _ = store.create(acc, now=start)
    for minutes in range(20, 12 * 60, 20):  # used every 20 minutes: kept
        assert store.load(token, now=start + timedelta(minutes=minutes)) is not None
    assert store.load(token, now=start + timedelta(hours=12, minutes=1)) is None
    assert store.load("x" * 500) is None and store.load("") is None


async def test_every_post_needs_the_session_csrf_token(dash, dash_app):
    name = account(dash_app, "staff")
    token = await login(dash, name)
    for data, headers in (({}, {}), ({"csrf": "sai"}, {}), ({}, {"X-CSRF-Token": "sai"})):
        r = await dash.post("/admin/logout", data=data, headers=headers, allow_redirects=False)
        assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text()
    assert _session_count(dash_app, name) == 1  # nothing happened
    # the login form's token: a form posted from elsewhere (no login cookie) is refused
    dash.session.cookie_jar.clear()
    r = await dash.post("/admin/login", data={"csrf": "abc", "username": name, "password": PASSWORD})
    assert r.status == 403
    # htmx sends the token as a header (from <body hx-headers>)
    token = await login(dash, name)
    r = await dash.post("/admin/logout", headers={"X-CSRF-Token": token}, allow_redirects=False)
    assert r.status == 303


async def test_security_headers_on_every_dashboard_response(dash, dash_app):
    await login(dash, account(dash_app, "staff"))
    for path in ("/admin/login", "/admin/inbox", "/admin/no-such-page", "/admin/static/app.css"):
        r = await dash.get(path, allow_redirects=False)
        assert r.headers["Content-Security-Policy"] == CSP, path
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    r = await dash.get("/admin/inbox")
    assert r.headers["Cache-Control"] == "no-store"
    body = await r.text()
    assert "<script>" not in body and " style=" not in body and "hx-on" not in body  # nothing inline for the CSP
    assert 'hx-headers=\'{"X-CSRF-Token": "' in body


async def test_cookies_are_secure_behind_https(dash_app):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import App
    from bot.web import make_web_app

    https = App(**{**dash_app.__dict__, "settings": dash_app.settings.model_copy(
        update={"public_base_url": "https://pakn.example.gov.vn"})})  # fmt: skip
    async with TestClient(TestServer(make_web_app(https))) as client:
        r = await client.get("/admin/login")
        login_cookie = r.cookies["tthc_login"]
        assert login_cookie["secure"]
        name = account(dash_app, "staff")
        r = await client.post(
            "/admin/login",
            data={"csrf": csrf_of(await r.text()), "username": name, "password": PASSWORD},
            cookies={"tthc_login": login_cookie.value},  # the test client speaks http: it keeps no Secure cookie
            allow_redirects=False,
        )
        assert r.cookies[SESSION_COOKIE]["secure"]


async def test_logins_and_logouts_are_audited(dash, dash_app):
    name = account(dash_app, "supervisor")
    token = await login(dash, name)
    await dash.post("/admin/logout", data={"csrf": token})
    with dash_app.factory() as s:
        actions = list(s.scalars(select(staff_audit.c.action).where(staff_audit.c.actor == name)))
    assert actions == ["login", "logout"]


async def test_behind_the_proxy_the_client_address_counts_and_a_forged_header_does_not(dash_app):
    """nginx on this host (a trusted proxy) names the client in X-Forwarded-For: the address limit applies to that
    client, not to everyone behind the proxy; a header sent by anyone else is ignored."""
    import dataclasses

    from aiohttp.test_utils import TestClient, TestServer

    from bot.settings import load_settings
    from bot.web import make_web_app
    from dashboard.tables import login_attempts

    async def failed_login_from(app, forwarded: str) -> str:
        async with TestClient(TestServer(make_web_app(app))) as client:
            token = csrf_of(await (await client.get("/admin/login")).text())
            name = f"khach-{forwarded.replace('.', '-')}"
            data = {"csrf": token, "username": name, "password": "sai-mat-khau-roi"}
            headers = {"X-Forwarded-For": f"198.51.100.9, {forwarded}"}  # the client may forge the first hop
            r = await client.post("/admin/login", data=data, headers=headers, allow_redirects=False)
            assert r.status == 401
        with dash_app.factory() as s:
            return s.scalar(select(login_attempts.c.ip).where(login_attempts.c.username == name))

    assert await failed_login_from(dash_app, "203.0.113.7") == "203.0.113.7"  # nginx appended the real client
    direct = dataclasses.replace(
        dash_app, settings=load_settings(database_url=dash_app.settings.db_url, trusted_proxies="10.0.0.1")
    )
    assert await failed_login_from(direct, "203.0.113.8") == "127.0.0.1"  # not from a proxy: the header is ignored
