"""Every dashboard route, taken from the app's router (a route added later is covered, or this test fails until
it is classified): no session → the login page; a POST without the session's CSRF token → 403; a role below the
route's → 403; staff of another queue → 403 on everything about an item."""

from __future__ import annotations

import pytest
from dashboard_util import account, login
from feedback_util import BOB, draft

from bot.web import make_web_app
from feedback import routing
from feedback import service as fs

OPEN = ("/admin/login", "/admin/static")  # reachable without a session (the login form, CSS and scripts)
ADMIN_ONLY = (
    "/admin/settings",
    "/admin/audit",
    "/admin/users",
    "/admin/queues",
    "/admin/rules",
    "/admin/reasons",
    "/admin/templates",
    "/admin/kb",
    "/admin/imports",
    "/admin/export",
    "/admin/unanswered",
    "/admin/quality",
    "/admin/vocabulary",
)
SUPERVISOR = ("/admin/reports",)
ITEM = "/admin/items/"
ANY_STAFF = ("/admin", "/admin/", "/admin/inbox", "/admin/views", "/admin/logout")


def _routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every dashboard route but the open ones, HEAD left out (it follows GET)."""
    out = []
    for r in make_web_app(app).router.routes():
        path = r.resource.canonical
        if r.method != "HEAD" and path.startswith("/admin") and not path.startswith(OPEN):
            out.append((r.method, path))
    return out


def _role_needed(path: str) -> str:
    if path.startswith(ADMIN_ONLY):
        return "admin"
    if path.startswith(SUPERVISOR):
        return "supervisor"
    if path.startswith(ITEM) or path in ANY_STAFF or path.startswith(("/admin/inbox/", "/admin/views/")):
        return "staff"
    raise AssertionError(f"{path}: a new dashboard route; say which role it needs in {__name__}")


def _concrete(path: str, code: str) -> str:
    return (
        path.replace("{code}", code)
        .replace("{file_id}", "1")
        .replace("{action}", "claim")
        .replace("{view_id}", "1")
        .replace("{id}", "1")
        .replace("{token}", "0" * 32)
    )


@pytest.fixture(scope="module")
def other_queue_item(dash_app) -> str:
    """An item routed to a queue of its own, which the plain staff account below does not work on."""
    routing.add_queue(dash_app.factory, "Hàng đợi riêng của bài kiểm tra tuyến", 10)
    routing.add_rule(dash_app.factory, "Hàng đợi riêng của bài kiểm tra tuyến", keywords=["tuyến kiểm tra"])
    consent = fs.record_consent(dash_app.factory, BOB)
    content = "Phản ánh dùng cho tuyến kiểm tra quyền truy cập: cán bộ hẹn trả kết quả nhưng không trả đúng hẹn."
    return fs.submit(dash_app.factory, draft(content=content), BOB, consent).code


def test_every_route_is_classified(dash_app):
    routes = _routes(dash_app)
    assert len(routes) > 30
    for _, path in routes:
        _role_needed(path)


async def test_without_a_session_every_route_leads_to_login(dash, dash_app, other_queue_item):
    for method, path in _routes(dash_app):
        r = await dash.request(method, _concrete(path, other_queue_item), allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login"), (method, path, r.status)


async def test_every_post_without_the_csrf_token_is_refused(dash, dash_app, other_queue_item):
    await login(dash, account(dash_app, "admin"))
    posts = [p for m, p in _routes(dash_app) if m == "POST"]
    assert len(posts) > 10
    for path in posts:
        for data in ({}, {"csrf": "giả-mạo"}):
            r = await dash.post(_concrete(path, other_queue_item), data=data, allow_redirects=False)
            assert r.status == 403, (path, data, r.status)
    assert fs.view(dash_app.factory, other_queue_item).item["state"] == "received"  # nothing was done


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_a_role_below_the_route_gets_403(dash, dash_app, other_queue_item, role):
    queues = [] if role == "supervisor" else ["Sở Tư pháp"]
    token = await login(dash, account(dash_app, role, queues))
    checked = 0
    for method, path in _routes(dash_app):
        needed = _role_needed(path)
        if needed == "staff" and not path.startswith(ITEM):
            continue
        if needed == "staff" and role == "supervisor":
            continue  # supervisors see every queue
        if needed == "supervisor" and role == "supervisor":
            continue
        url = _concrete(path, other_queue_item)
        r = await dash.request(method, url, data={"csrf": token} if method == "POST" else None, allow_redirects=False)
        assert r.status == 403, (role, method, path, r.status)
        checked += 1
    assert checked > (5 if role == "supervisor" else 20)
    assert fs.view(dash_app.factory, other_queue_item).item["state"] == "received"
