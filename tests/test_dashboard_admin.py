"""Administration pages (admins only): accounts, queues, routing rules, reject reasons, answer templates, the staff
audit log; and `python -m bot user add`. Over HTTP on SQLite and PostgreSQL (one app per module)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dashboard_util import PASSWORD, account, csrf_of, login
from feedback_util import migrated
from sqlalchemy import desc, func, select

from bot import users
from bot.web import make_web_app
from dashboard.tables import staff_audit
from feedback import routing
from feedback import templates as tpl
from feedback.tables import queues, routing_rules

SCRIPT = "<script>alert(1)</script>"
AUDIT_ROW = re.compile(r'<td data-label="Tài khoản">([^<]*)</td>\s*<td data-label="Thao tác">([^<]*)</td>')
IMG = "<img src=x onerror=alert(1)>"
GET_PAGES = (
    "/admin/settings",
    "/admin/users",
    "/admin/users/1",
    "/admin/queues",
    "/admin/queues/1",
    "/admin/rules",
    "/admin/rules/1",
    "/admin/rules/try?content=x",
    "/admin/reasons",
    "/admin/reasons/ngon_ngu",
    "/admin/templates",
    "/admin/templates/1",
    "/admin/audit",
)
POSTS = (
    "/admin/users",
    "/admin/users/1",
    "/admin/users/1/password",
    "/admin/queues",
    "/admin/queues/1",
    "/admin/rules",
    "/admin/rules/1",
    "/admin/reasons",
    "/admin/reasons/ngon_ngu",
    "/admin/templates",
    "/admin/templates/1",
)


def tag() -> str:
    return uuid.uuid4().hex[:8]


def last_audit(app, action: str):
    with app.factory() as s:
        q = select(staff_audit).where(staff_audit.c.action == action).order_by(desc(staff_audit.c.id)).limit(1)
        return s.execute(q).first()


def count(app, table) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(table))


def queue_of(app, name: str) -> dict | None:
    return next((q for q in routing.list_queues(app.factory) if q["name"] == name), None)


@pytest.fixture
async def admin(dash, dash_app):
    """`dash` logged in as a new admin: (username, CSRF token)."""
    name = account(dash_app, "admin")
    return name, await login(dash, name)


@pytest.fixture
async def other(dash_app):
    """A second client of the same server setup, not logged in."""
    client = TestClient(TestServer(make_web_app(dash_app)))
    await client.start_server()
    yield client
    await client.close()


async def post(client, path: str, token: str | None, **data):
    if token is not None:
        data["csrf"] = token
    return await client.post(path, data=data, allow_redirects=False)


# ---- access ----------------------------------------------------------------------------------------------------


async def test_without_a_session_every_admin_page_leads_to_login(dash):
    for path in GET_PAGES:
        r = await dash.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login?next="), path
    for path in POSTS:
        r = await dash.post(path, data={"name": "x"}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/admin/login", path


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_staff_and_supervisors_get_403_and_change_nothing(dash, dash_app, role):
    token = await login(dash, account(dash_app, role, ["Sở Tư pháp"]))
    home = await dash.get("/admin/inbox")
    assert 'href="/admin/settings"' not in await home.text()  # no admin link in their menu
    for path in GET_PAGES:
        r = await dash.get(path)
        assert r.status == 403, path
        assert "không có quyền" in await r.text()
    name = f"Hàng đợi {tag()}"
    before = users.list_accounts(dash_app.factory)
    for path in POSTS:
        data = {"name": name, "deadline_days": "5", "username": f"x-{tag()}", "role": "admin", "password": "p" * 12}
        r = await post(dash, path, token, **data)
        assert r.status == 403, path
    assert queue_of(dash_app, name) is None and users.list_accounts(dash_app.factory) == before


async def test_every_post_needs_the_csrf_token(dash, dash_app, admin):
    name = f"Hàng đợi {tag()}"
    for token in (None, "wrong-token"):
        for path in POSTS:
            r = await post(dash, path, token, name=name, deadline_days="5", label="x", position="1")
            assert r.status == 403, path
            assert "Phiên làm việc không hợp lệ" in await r.text()
    assert queue_of(dash_app, name) is None


async def test_settings_page_links_every_section(dash, admin):
    r = await dash.get("/admin/settings")
    html = await r.text()
    assert r.status == 200
    for section in ("users", "queues", "rules", "reasons", "templates", "audit"):
        assert f'id="go-{section}"' in html and f'href="/admin/{section}"' in html
    assert 'href="/admin/settings" aria-current="page">Quản trị' in html


# ---- accounts --------------------------------------------------------------------------------------------------


async def test_add_account_with_queues_and_a_typed_password(dash, dash_app, admin):
    me, token = admin
    routing.add_queue(dash_app.factory, qname := f"Phòng {tag()}", 5)
    qid = queue_of(dash_app, qname)["id"]
    name = f"cb-{tag()}"
    r = await post(dash, "/admin/users", token, username=name, role="staff", queues=str(qid), password=PASSWORD)
    assert r.status == 303 and r.headers["Location"] == "/admin/users?done=user_add"
    acc = users.by_name(dash_app.factory, name)
    assert (acc.role, acc.active, acc.queue_ids) == ("staff", True, frozenset({qid}))
    assert users.authenticate(dash_app.factory, name, PASSWORD) is not None
    entry = last_audit(dash_app, "user_add")
    assert (entry.actor, entry.target) == (me, name) and qname in entry.detail and PASSWORD not in entry.detail
    html = await (await dash.get(r.headers["Location"])).text()
    assert "Đã thêm tài khoản." in html and f'id="user-{acc.id}"' in html and name in html


async def test_add_account_with_a_generated_password_shown_once(dash, dash_app, admin):
    _, token = admin
    name = f"ld-{tag()}"
    r = await post(dash, "/admin/users", token, username=name, role="supervisor", password="")
    html = await r.text()
    assert r.status == 200 and 'id="one-time-password"' in html
    password = html.split('<code class="secret">')[1].split("</code>")[0]
    assert len(password) >= 10 and users.authenticate(dash_app.factory, name, password).role == "supervisor"
    again = await (await dash.get("/admin/users")).text()
    assert password not in again and "one-time-password" not in again


@pytest.mark.parametrize(
    "data,message",
    [
        ({"username": "Ab", "role": "staff", "password": PASSWORD}, "Tên đăng nhập: 3–64 ký tự"),
        ({"role": "staff", "password": "ngan"}, "Mật khẩu phải có ít nhất 10 ký tự."),
        ({"role": "chief", "password": PASSWORD}, "Vai trò không hợp lệ."),
        ({"role": "staff", "password": PASSWORD, "queues": "999999"}, "Không có hàng đợi"),
    ],
)
async def test_add_account_refused_in_vietnamese_and_nothing_changes(dash, dash_app, admin, data, message):
    _, token = admin
    data = {"username": f"cb-{tag()}"} | data
    before = users.list_accounts(dash_app.factory)
    r = await post(dash, "/admin/users", token, **data)
    html = await r.text()
    assert r.status == 400 and message in html and 'id="form-error"' in html
    assert users.list_accounts(dash_app.factory) == before
    if data["username"] != "Ab":
        assert f'value="{data["username"]}"' in html  # what was typed stays in the form


async def test_an_existing_username_is_refused(dash, dash_app, admin):
    _, token = admin
    name = account(dash_app, "staff")
    r = await post(dash, "/admin/users", token, username=name, role="admin", password=PASSWORD)
    assert r.status == 400 and f"Tên đăng nhập “{name}” đã có." in await r.text()
    assert users.by_name(dash_app.factory, name).role == "staff"


async def test_edit_account_role_queues_and_disable_ends_their_sessions(dash, dash_app, admin, other):
    me, token = admin
    routing.add_queue(dash_app.factory, qname := f"Phòng {tag()}", 5)
    qid = queue_of(dash_app, qname)["id"]
    name = account(dash_app, "staff")
    acc = users.by_name(dash_app.factory, name)
    await login(other, name)
    assert (await other.get("/admin/inbox", allow_redirects=False)).status == 200
    page = await dash.get(f"/admin/users/{acc.id}")
    assert page.status == 200 and 'id="edit-user"' in await page.text()
    r = await post(dash, f"/admin/users/{acc.id}", token, role="supervisor", queues=str(qid), active="1")
    assert r.status == 303 and r.headers["Location"] == f"/admin/users/{acc.id}?done=user_edit"
    acc = users.by_name(dash_app.factory, name)
    assert (acc.role, acc.queue_ids, acc.active) == ("supervisor", frozenset({qid}), True)
    assert (await other.get("/admin/reports", allow_redirects=False)).status != 403  # the session carries on
    entry = last_audit(dash_app, "user_edit")
    assert (entry.actor, entry.target) == (me, name) and "Lãnh đạo phòng" in entry.detail and qname in entry.detail
    r = await post(dash, f"/admin/users/{acc.id}", token, role="supervisor")  # no "active": disabled
    assert r.status == 303 and not users.by_name(dash_app.factory, name).active
    assert "đã khóa" in last_audit(dash_app, "user_edit").detail
    r = await other.get("/admin/inbox", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
    assert users.authenticate(dash_app.factory, name, PASSWORD) is None


async def test_reset_password_ends_their_sessions(dash, dash_app, admin, other):
    me, token = admin
    name = account(dash_app, "staff")
    acc = users.by_name(dash_app.factory, name)
    await login(other, name)
    r = await post(dash, f"/admin/users/{acc.id}/password", token, password="ngan")
    assert r.status == 400 and "Mật khẩu phải có ít nhất 10 ký tự." in await r.text()
    assert (await other.get("/admin/inbox", allow_redirects=False)).status == 200  # refused: nothing happened
    new = "mat-khau-moi-rat-dai"
    r = await post(dash, f"/admin/users/{acc.id}/password", token, password=new)
    assert r.status == 303 and r.headers["Location"] == f"/admin/users/{acc.id}?done=user_password"
    assert (await other.get("/admin/inbox", allow_redirects=False)).status == 303
    assert users.authenticate(dash_app.factory, name, PASSWORD) is None
    assert users.authenticate(dash_app.factory, name, new) is not None
    entry = last_audit(dash_app, "user_password")
    assert (entry.actor, entry.target) == (me, name) and new not in (entry.detail or "")
    r = await post(dash, f"/admin/users/{acc.id}/password", token, password="")
    html = await r.text()
    generated = html.split('<code class="secret">')[1].split("</code>")[0]
    assert r.status == 200 and users.authenticate(dash_app.factory, name, generated) is not None


async def test_an_admin_cannot_disable_or_demote_themselves(dash, dash_app, admin):
    me, token = admin
    acc = users.by_name(dash_app.factory, me)
    page = await (await dash.get(f"/admin/users/{acc.id}")).text()
    assert "bạn không thể tự khóa hoặc hạ quyền" in page
    for data in ({"role": "admin"}, {"role": "supervisor", "active": "1"}):
        r = await post(dash, f"/admin/users/{acc.id}", token, **data)
        assert r.status == 400 and "Bạn không thể tự khóa hoặc hạ quyền" in await r.text()
    assert users.by_name(dash_app.factory, me) == acc
    assert (await dash.get("/admin/users")).status == 200  # still logged in, still admin


def test_the_last_active_admin_stays(any_url):
    engine, factory = migrated(any_url)
    try:
        first = users.add_user(factory, "qt-mot", PASSWORD, "admin")
        second = users.add_user(factory, "qt-hai", PASSWORD, "admin")
        users.update_account(factory, first, active=False, actor_id=second)
        for change in ({"active": False}, {"role": "staff"}):
            with pytest.raises(users.UserError) as e:
                users.update_account(factory, second, **change)
            assert e.value.vi == "Phải còn ít nhất một tài khoản quản trị đang hoạt động."
        assert users.get(factory, second).active and users.get(factory, second).role == "admin"
        users.update_account(factory, first, active=True, actor_id=second)
        users.update_account(factory, second, role="supervisor", actor_id=first)
        with pytest.raises(users.UserError, match="no queue"):
            users.update_account(factory, second, queue_ids=[12345])
    finally:
        engine.dispose()


# ---- queues ----------------------------------------------------------------------------------------------------


async def test_queues_add_edit_default_and_deactivate(dash, dash_app, admin):
    me, token = admin
    name = f"Văn phòng UBND tỉnh {tag()}"
    r = await post(dash, "/admin/queues", token, name=name, deadline_days="7")
    assert r.status == 303 and r.headers["Location"] == "/admin/queues?done=queue_add"
    q = queue_of(dash_app, name)
    assert (q["deadline_days"], q["is_default"], q["active"]) == (7, False, True)
    entry = last_audit(dash_app, "queue_add")
    assert (entry.actor, entry.target, entry.detail) == (me, name, "7 ngày làm việc; hoạt động")
    html = await (await dash.get(r.headers["Location"])).text()
    assert 'id="add-queue"' in html and f'id="queue-{q["id"]}"' in html and "Đã thêm hàng đợi." in html
    old_default = next(x for x in routing.list_queues(dash_app.factory) if x["is_default"])
    r = await post(dash, f"/admin/queues/{q['id']}", token, deadline_days="12", default="1", active="1")
    assert r.status == 303
    q = queue_of(dash_app, name)
    assert (q["deadline_days"], q["is_default"]) == (12, True)
    assert not queue_of(dash_app, old_default["name"])["is_default"]
    assert last_audit(dash_app, "queue_edit").detail == "12 ngày làm việc; mặc định, hoạt động"
    # the default queue stays active
    r = await post(dash, f"/admin/queues/{q['id']}", token, deadline_days="12")
    html = await r.text()
    assert r.status == 400 and "là hàng đợi mặc định" in html and queue_of(dash_app, name)["active"]
    # give the default back, then this one may rest
    r = await post(dash, f"/admin/queues/{old_default['id']}", token, deadline_days="10", default="1", active="1")
    assert r.status == 303
    r = await post(dash, f"/admin/queues/{q['id']}", token, deadline_days="12")
    assert r.status == 303 and not queue_of(dash_app, name)["active"]
    assert last_audit(dash_app, "queue_edit").detail == "12 ngày làm việc; ngừng sử dụng"
    # an inactive queue cannot become the default
    r = await post(dash, f"/admin/queues/{q['id']}", token, deadline_days="12", default="1")
    assert r.status == 400 and "Hàng đợi mặc định phải đang được sử dụng." in await r.text()
    assert (await dash.get("/admin/queues/999999")).status == 404


@pytest.mark.parametrize(
    "data,message",
    [
        ({"deadline_days": "0"}, "Thời hạn xử lý: từ 1 đến 60 ngày làm việc."),
        ({"deadline_days": "61"}, "Thời hạn xử lý: từ 1 đến 60 ngày làm việc."),
        ({"deadline_days": "năm"}, "Thời hạn xử lý: từ 1 đến 60 ngày làm việc."),
        ({"name": "   ", "deadline_days": "5"}, "Tên hàng đợi: từ 1 đến 200 ký tự."),
        ({"name": "Sở Tư pháp", "deadline_days": "5"}, "Hàng đợi “Sở Tư pháp” đã có."),
    ],
)
async def test_queue_refused_in_vietnamese_and_nothing_changes(dash, dash_app, admin, data, message):
    _, token = admin
    before = routing.list_queues(dash_app.factory)
    r = await post(dash, "/admin/queues", token, **({"name": f"Phòng {tag()}"} | data))
    assert r.status == 400 and message in await r.text()
    assert routing.list_queues(dash_app.factory) == before


async def test_queue_edit_refused_keeps_the_queue(dash, dash_app, admin):
    _, token = admin
    default = next(x for x in routing.list_queues(dash_app.factory) if x["is_default"])
    r = await post(dash, f"/admin/queues/{default['id']}", token, deadline_days="99", active="1")
    assert r.status == 400 and "từ 1 đến 60 ngày làm việc" in await r.text()
    assert queue_of(dash_app, default["name"]) == default


def test_the_last_active_queue_stays_active(any_url):
    engine, factory = migrated(any_url)
    try:
        only = routing.list_queues(factory)[0]
        with pytest.raises(routing.ConfigError) as e:
            routing.update_queue(factory, only["id"], active=False)
        assert "mặc định" in e.value.vi
        routing.add_queue(factory, "Văn phòng UBND tỉnh", 5, default=True)
        routing.update_queue(factory, only["name"], active=False)  # by name, as the CLI does
        with pytest.raises(routing.ConfigError, match="default"):
            routing.update_queue(factory, "Văn phòng UBND tỉnh", active=False)
        assert [q["active"] for q in routing.list_queues(factory)] == [False, True]
    finally:
        engine.dispose()


# ---- routing rules ---------------------------------------------------------------------------------------------


async def test_rules_add_list_in_order_edit_and_deactivate(dash, dash_app, admin):
    me, token = admin
    routing.add_queue(dash_app.factory, qname := f"Phòng công chứng {tag()}", 5)
    qid = queue_of(dash_app, qname)["id"]
    code = f"7.{tag()[:6]}"
    r = await post(
        dash, "/admin/rules", token, priority="5", queue=str(qid), field="", procedure_code=code, keywords=""
    )
    assert r.status == 303 and r.headers["Location"] == "/admin/rules?done=rule_add"
    rule = next(x for x in routing.list_rules(dash_app.factory) if x["procedure_code"] == code)
    assert (rule["priority"], rule["queue"], rule["active"]) == (5, qname, True)
    entry = last_audit(dash_app, "rule_add")
    assert (entry.actor, entry.target) == (me, f"quy tắc #{rule['id']}") and code in entry.detail
    words = f"công chứng {tag()}, chứng thực bản sao"
    r = await post(dash, "/admin/rules", token, priority="1", queue=str(qid), keywords=words)
    assert r.status == 303
    first = next(x for x in routing.list_rules(dash_app.factory) if x["keywords"] == words)
    html = await (await dash.get("/admin/rules")).text()
    assert html.index(f'id="rule-{first["id"]}"') < html.index(f'id="rule-{rule["id"]}"')  # tried first
    r = await post(
        dash, f"/admin/rules/{rule['id']}", token, priority="9", queue=str(qid), procedure_code=code, keywords=""
    )  # not "active": stops applying
    assert r.status == 303 and r.headers["Location"] == f"/admin/rules/{rule['id']}?done=rule_edit"
    rule = next(x for x in routing.list_rules(dash_app.factory) if x["id"] == rule["id"])
    assert (rule["priority"], rule["active"]) == (9, False)
    assert "ngừng áp dụng" in last_audit(dash_app, "rule_edit").detail
    edit = await (await dash.get(f"/admin/rules/{rule['id']}")).text()
    assert 'id="edit-rule"' in edit and f'<option value="{qid}" selected>' in edit


@pytest.mark.parametrize(
    "data,message",
    [
        ({"priority": "1"}, "Quy tắc cần ít nhất một điều kiện"),
        ({"priority": "-1", "keywords": "x"}, "Thứ tự ưu tiên: số từ 0 đến 10000."),
        ({"priority": "cao", "keywords": "x"}, "Thứ tự ưu tiên: số từ 0 đến 10000."),
        ({"priority": "1", "procedure_code": "1.00 11"}, "Mã thủ tục không hợp lệ"),
        ({"priority": "1", "keywords": "x", "queue": "999999"}, "Không tìm thấy hàng đợi này."),
    ],
)
async def test_rule_refused_in_vietnamese_and_nothing_changes(dash, dash_app, admin, data, message):
    _, token = admin
    before = count(dash_app, routing_rules)
    r = await post(dash, "/admin/rules", token, **({"queue": "1"} | data))
    html = await r.text()
    assert r.status == 400 and message in html
    assert count(dash_app, routing_rules) == before
    if "keywords" in data:
        assert f'value="{data["keywords"]}"' in html


async def test_rule_edit_refused_keeps_the_rule(dash, dash_app, admin):
    _, token = admin
    rid = routing.add_rule(dash_app.factory, "Sở Tư pháp", keywords=["lý lịch tư pháp"], priority=50)
    before = routing.list_rules(dash_app.factory)
    r = await post(dash, f"/admin/rules/{rid}", token, priority="50", queue="1", keywords="", active="1")
    html = await r.text()
    assert r.status == 400 and "Quy tắc cần ít nhất một điều kiện" in html
    assert routing.list_rules(dash_app.factory) == before
    routing.edit_rule(dash_app.factory, rid, 1, None, None, ["lý lịch tư pháp"], 50, active=False)


async def test_try_a_route_shows_the_queue_and_rule_and_writes_nothing(dash, dash_app, admin):
    routing.add_queue(dash_app.factory, qname := f"Phòng hộ tịch {tag()}", 5)
    code = f"8.{tag()[:6]}"
    rid = routing.add_rule(dash_app.factory, qname, procedure_code=code, priority=2)
    rules, queue_rows = count(dash_app, routing_rules), count(dash_app, queues)
    r = await dash.get("/admin/rules/try", params={"procedure_code": code, "content": "Cán bộ hẹn nhiều lần"})
    html = await r.text()
    assert r.status == 200 and f"<strong>{qname}</strong>" in html and f'href="/admin/rules/{rid}"' in html
    assert 'id="try-route"' in html and "<html" in html
    r = await dash.get(
        "/admin/rules/try", params={"procedure_code": "", "content": "Khác hẳn"}, headers={"HX-Request": "true"}
    )
    html = await r.text()
    assert r.status == 200 and "<html" not in html and 'id="route-answer"' in html and "mặc định" in html
    assert (count(dash_app, routing_rules), count(dash_app, queues)) == (rules, queue_rows)


# ---- reject reasons --------------------------------------------------------------------------------------------


async def test_reasons_add_edit_and_deactivate(dash, dash_app, admin):
    me, token = admin
    code = f"ly_do_{tag()}"
    label = "Nội dung đã được chuyển cơ quan khác trả lời"
    r = await post(dash, "/admin/reasons", token, code=code, label=label, position="")
    assert r.status == 303 and r.headers["Location"] == "/admin/reasons?done=reason_add"
    reasons = routing.all_reject_reasons(dash_app.factory)
    assert reasons[-1]["code"] == code and reasons[-1]["position"] == max(x["position"] for x in reasons)
    assert (code, label) in routing.list_reject_reasons(dash_app.factory)
    entry = last_audit(dash_app, "reason_add")
    assert (entry.actor, entry.target) == (me, code) and label in entry.detail
    r = await post(dash, f"/admin/reasons/{code}", token, label="Nhãn mới", position="0", active="1")
    assert r.status == 303
    assert routing.list_reject_reasons(dash_app.factory)[0] == (code, "Nhãn mới")
    r = await post(dash, f"/admin/reasons/{code}", token, label="Nhãn mới", position="0")
    assert r.status == 303 and code not in dict(routing.list_reject_reasons(dash_app.factory))
    assert any(x["code"] == code and not x["active"] for x in routing.all_reject_reasons(dash_app.factory))
    assert "ngừng dùng" in last_audit(dash_app, "reason_edit").detail
    assert (await dash.get("/admin/reasons/khong_co")).status == 404


@pytest.mark.parametrize(
    "data,message",
    [
        ({"code": "Có Dấu", "label": "x"}, "Mã lý do: 2–32 ký tự"),
        ({"code": "ngon_ngu", "label": "x"}, "Mã lý do “ngon_ngu” đã có."),
        ({"label": "  "}, "Nội dung lý do: từ 1 đến 300 ký tự."),
        ({"label": "x", "position": "1001"}, "Vị trí: số từ 0 đến 1000."),
    ],
)
async def test_reason_refused_in_vietnamese_and_nothing_changes(dash, dash_app, admin, data, message):
    _, token = admin
    before = routing.all_reject_reasons(dash_app.factory)
    r = await post(dash, "/admin/reasons", token, **({"code": f"m_{tag()}", "position": ""} | data))
    assert r.status == 400 and message in await r.text()
    assert routing.all_reject_reasons(dash_app.factory) == before


def test_the_last_active_reason_stays(any_url):
    engine, factory = migrated(any_url)
    try:
        *others, (last, label) = routing.list_reject_reasons(factory)
        for code, text in others:
            routing.edit_reject_reason(factory, code, text, 1, active=False)
        with pytest.raises(routing.ConfigError) as e:
            routing.edit_reject_reason(factory, last, label, 1, active=False)
        assert e.value.vi == "Phải còn ít nhất một lý do từ chối."
        assert routing.list_reject_reasons(factory) == [(last, label)]
    finally:
        engine.dispose()


# ---- answer templates ------------------------------------------------------------------------------------------


async def test_templates_add_edit_and_deactivate(dash, dash_app, admin):
    me, token = admin
    title = f"Hướng dẫn nộp hồ sơ trực tuyến {tag()}"
    body = "Ông/Bà có thể nộp hồ sơ trực tuyến tại Cổng dịch vụ công: [đường dẫn]."
    r = await post(dash, "/admin/templates", token, action="answer", kind="kien_nghi", title=title, body=body)
    assert r.status == 303 and r.headers["Location"] == "/admin/templates?done=template_add"
    found = [t for t in tpl.active_for(dash_app.factory, "answer", "kien_nghi") if t["title"] == title]
    assert found and found[0]["body"] == body
    assert not [t for t in tpl.active_for(dash_app.factory, "answer", "phan_anh") if t["title"] == title]
    tid = found[0]["id"]
    entry = last_audit(dash_app, "template_add")
    assert (entry.actor, entry.target) == (me, f"mẫu #{tid}") and "Trả lời; kiến nghị" in entry.detail
    r = await post(dash, f"/admin/templates/{tid}", token, action="ask_info", kind="", title=title, body=body)
    assert r.status == 303 and r.headers["Location"] == f"/admin/templates/{tid}?done=template_edit"
    assert not [t for t in tpl.active_for(dash_app.factory, "ask_info", "phan_anh") if t["id"] == tid]  # inactive
    assert any(t["id"] == tid and t["action"] == "ask_info" for t in tpl.list_templates(dash_app.factory))
    assert "ngừng dùng" in last_audit(dash_app, "template_edit").detail
    r = await post(dash, f"/admin/templates/{tid}", token, action="ask_info", title=title, body=body, active="1")
    assert r.status == 303 and [t["id"] for t in tpl.active_for(dash_app.factory, "ask_info", "phan_anh")].count(tid)


async def test_template_refused_in_vietnamese_keeps_what_was_typed(dash, dash_app, admin):
    _, token = admin
    before = tpl.list_templates(dash_app.factory)
    r = await post(dash, "/admin/templates", token, action="answer", kind="", title="", body="Nội dung")
    assert r.status == 400 and "Tên mẫu: từ 1 đến 120 ký tự." in await r.text()
    r = await post(dash, "/admin/templates", token, action="publish", kind="", title="x", body="y")
    assert r.status == 400 and "Hãy chọn thao tác của mẫu." in await r.text()
    tid = before[0]["id"]
    r = await post(dash, f"/admin/templates/{tid}", token, action="answer", title="Tên", body="x" * 4001, active="1")
    html = await r.text()
    assert r.status == 400 and "Nội dung mẫu: từ 1 đến 4000 ký tự." in html and 'value="Tên"' in html
    assert tpl.list_templates(dash_app.factory) == before
    assert (await dash.get("/admin/templates/999999")).status == 404


# ---- the audit log and escaping --------------------------------------------------------------------------------


async def test_audit_log_shows_logins_logouts_failures_and_changes_newest_first(dash, dash_app, admin, other):
    me, token = admin
    stranger = account(dash_app, "staff")
    assert (await post(other, "/admin/logout", await login(other, stranger))).status == 303
    login_token = csrf_of(await (await other.get("/admin/login")).text())
    await other.post("/admin/login", data={"csrf": login_token, "username": stranger, "password": "sai-mat-khau"})
    await post(dash, "/admin/queues", token, name=f"Phòng {tag()}", deadline_days="5")
    html = await (await dash.get("/admin/audit")).text()
    rows = AUDIT_ROW.findall(html)
    order = [rows.index(x) for x in [(me, "Thêm hàng đợi"), (stranger, "Đăng nhập sai"), (stranger, "Đăng xuất")]]
    assert order == sorted(order) and (stranger, "Đăng nhập") in rows[order[-1] :]
    assert len(rows) == min(count(dash_app, staff_audit), 200)


async def test_script_in_names_and_bodies_is_shown_as_text(dash, dash_app, admin):
    _, token = admin
    qname = f"Phòng {SCRIPT} {tag()}"
    assert (await post(dash, "/admin/queues", token, name=qname, deadline_days="5")).status == 303
    qid = queue_of(dash_app, qname)["id"]
    r = await post(dash, "/admin/rules", token, priority="3", queue=str(qid), keywords=f"{IMG}, javascript:alert(1)")
    assert r.status == 303
    r = await post(dash, "/admin/templates", token, action="reject", kind="", title=SCRIPT, body=f"{IMG}\n{SCRIPT}")
    assert r.status == 303
    code = f"xss_{tag()}"
    r = await post(dash, "/admin/reasons", token, code=code, label=f"{SCRIPT} javascript:alert(1)", position="")
    assert r.status == 303
    tid = next(t["id"] for t in tpl.list_templates(dash_app.factory) if t["title"] == SCRIPT)
    pages = ["/admin/queues", f"/admin/queues/{qid}", "/admin/rules", "/admin/templates", f"/admin/templates/{tid}"]
    pages += ["/admin/reasons", f"/admin/reasons/{code}", "/admin/audit", "/admin/users"]
    pages += [f"/admin/rules/try?content={SCRIPT}&field={IMG}"]
    for path in pages:
        html = await (await dash.get(path)).text()
        assert SCRIPT not in html and IMG not in html, path
        assert 'href="javascript:' not in html, path
    html = await (await dash.get("/admin/queues")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---- the CLI ---------------------------------------------------------------------------------------------------


def cli(app, *args, stdin=PASSWORD + "\n"):
    env = {**os.environ, "DATABASE_URL": app.settings.db_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_user_add_with_role_and_queue(dash_app):
    routing.add_queue(dash_app.factory, qname := f"Phòng {tag()}", 5)
    name = f"ld-{tag()}"
    r = cli(dash_app, "user", "add", name, "--role", "supervisor", "--queue", qname)
    assert r.returncode == 0, r.stderr
    assert f"user {name} added (supervisor)" in r.stdout
    acc = users.by_name(dash_app.factory, name)
    assert (acc.role, acc.queue_ids) == ("supervisor", frozenset({queue_of(dash_app, qname)["id"]}))
    assert users.authenticate(dash_app.factory, name, PASSWORD) is not None
    r = cli(dash_app, "user", "add", f"cb-{tag()}", "--queue", "Không có phòng này")
    assert r.returncode == 2 and "no queue" in r.stderr and "Traceback" not in r.stderr
