"""The staff inbox (/admin/inbox): ordering, filters, text search, pagination, queue scoping, saved views, bulk
claim / assign / transfer, and the domain's `assign`. On SQLite and PostgreSQL (one app per module, so each test
works in queues of its own)."""

import asyncio
import html
import re
import uuid
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dashboard_util import account, login
from feedback_util import MONDAY, audit_rows, file_item, outbox_rows, row
from yarl import URL

from bot.users import by_name, update_account
from bot.web import make_web_app
from dashboard import saved_views
from feedback import service as fs
from feedback import workdays
from feedback.outbox import utcnow

CONTENT = "Cán bộ bộ phận một cửa đòi thêm giấy xác nhận cư trú dù quy định không yêu cầu, hồ sơ bị trả lại {tag}."
HX = {"HX-Request": "true", "HX-Target": "inbox-results"}


def new_queue(app, days: int = 5) -> tuple[str, str]:
    """A queue of its own and a procedure code that routes there: (queue name, procedure code)."""
    tag = uuid.uuid4().hex[:8]
    name = f"Phòng {tag}"
    code = f"9.{int(tag, 16) % 10**6:06d}"
    fs.add_queue(app.factory, name, days)
    fs.add_rule(app.factory, name, procedure_code=code, priority=1)
    return name, code


def file_in(app, procedure: str, now=MONDAY, **over) -> str:
    return file_item(app.factory, now=now, procedure_code=procedure, **over).code


def queue_id(app, name: str) -> int:
    return next(q["id"] for q in fs.list_queues(app.factory) if q["name"] == name)


def codes_on(page: str) -> list[str]:
    """The item codes of the inbox's rows, top to bottom."""
    return re.findall(r'<tr data-code="([^"]+)"', page)


def report_of(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<li>(PA-[^<]+)</li>", page)]


async def get_inbox(dash, query: str = "", headers=None, status: int = 200) -> str:
    r = await dash.get(f"/admin/inbox?{query}", headers=headers or {}, allow_redirects=False)
    body = await r.text()
    assert r.status == status, body
    return body


async def as_user(dash, app, role: str = "supervisor", queues=()) -> tuple[str, str]:
    """A new account, logged in on `dash`: (username, CSRF token)."""
    name = account(app, role, queues)
    dash.session.cookie_jar.clear()  # another browser
    return name, await login(dash, name)


# --- the domain's assign ---


def test_assign_sets_the_assignee_with_an_audit_entry_and_no_state_change(dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    worker = account(dash_app, "staff", [queue])
    before = row(dash_app.factory, code)
    version = fs.assign(dash_app.factory, code, "boss.x", worker, version=before.version)
    it = row(dash_app.factory, code)
    assert (it.state, it.assigned_to, it.version) == ("received", worker, before.version + 1)
    assert version == it.version
    last = audit_rows(dash_app.factory, code)[-1]
    assert (last.action, last.actor, last.from_state, last.to_state) == ("assign", "boss.x", "received", "received")
    assert worker in last.note
    sent = outbox_rows(dash_app.factory, code)
    assert len(sent) == 1  # the receipt only: an assignment is not the citizen's business
    entries = len(audit_rows(dash_app.factory, code))
    assert fs.assign(dash_app.factory, code, "boss.x", worker) == version  # already theirs: nothing changes
    assert len(audit_rows(dash_app.factory, code)) == entries
    assert outbox_rows(dash_app.factory, code) == sent


def test_assign_refuses_bad_assignees_stale_versions_and_finished_items(dash_app):
    queue, proc = new_queue(dash_app)
    other, _ = new_queue(dash_app)
    code = file_in(dash_app, proc)
    stranger = account(dash_app, "staff", [other])
    boss = account(dash_app, "supervisor")
    for bad in (stranger, "no-such-user", ""):
        with pytest.raises(fs.InvalidAssignee):
            fs.assign(dash_app.factory, code, "boss.x", bad)
    disabled = account(dash_app, "staff", [queue])
    update_account(dash_app.factory, by_name(dash_app.factory, disabled).id, active=False)
    with pytest.raises(fs.InvalidAssignee):
        fs.assign(dash_app.factory, code, "boss.x", disabled)
    with pytest.raises(fs.Conflict):
        fs.assign(dash_app.factory, code, "boss.x", boss, version=row(dash_app.factory, code).version + 5)
    fs.assign(dash_app.factory, code, "boss.x", boss)  # a supervisor works on every queue
    assert row(dash_app.factory, code).assigned_to == boss
    fs.transfer(dash_app.factory, code, "boss.x", "UBND huyện Đông Anh")
    with pytest.raises(fs.IllegalTransition):
        fs.assign(dash_app.factory, code, "boss.x", boss)
    assert [a.action for a in audit_rows(dash_app.factory, code)] == ["submit", "assign", "transfer"]


# --- the inbox page ---


async def test_the_inbox_needs_a_session(dash):
    for path in ("/admin/inbox", "/admin/inbox?overdue=1"):
        r = await dash.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login?next=")
    for path in ("/admin/inbox/bulk", "/admin/views", "/admin/views/1/delete"):
        r = await dash.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/admin/login", path


async def test_items_by_deadline_with_age_days_left_and_colours(dash, dash_app):
    slow, slow_proc = new_queue(dash_app, days=5)
    quick, quick_proc = new_queue(dash_app, days=1)
    field = f"Lĩnh vực {uuid.uuid4().hex[:6]}"
    now = utcnow()
    fresh = file_in(dash_app, slow_proc, now=now, field=field)
    old = file_in(dash_app, slow_proc, now=now - timedelta(days=30), field=field)
    soon = file_in(dash_app, quick_proc, now=now, field=field)
    await as_user(dash, dash_app)
    page = await get_inbox(dash, f"field={field}")
    assert codes_on(page) == [old, soon, fresh]
    assert re.search(rf'<tr data-code="{old}" class="overdue">', page)
    assert re.search(rf'<tr data-code="{soon}" class="soon">', page)
    assert re.search(rf'<tr data-code="{fresh}">', page)
    today = workdays.local_date(now)
    late = workdays.working_days_between(row(dash_app.factory, old).deadline, today)
    assert f"Quá hạn {late} ngày làm việc" in page and "Còn 1 ngày làm việc" in page
    assert "Còn 5 ngày làm việc" in page and "(30 ngày)" in page and "(0 ngày)" in page
    assert f'href="/admin/items/{old}"' in page and 'id="inbox-table"' in page and 'id="filters"' in page
    assert 'id="q"' in page and slow in page and quick in page
    assert "0912" not in page and "Nguyễn Văn Bình" not in page and "Lê Lợi" not in page  # no personal data
    assert "tôi nộp hồ sơ đăng ký khai sinh" in page and "dù quy định" not in page  # an excerpt


async def test_each_filter(dash, dash_app):
    queue, proc = new_queue(dash_app)
    other, other_proc = new_queue(dash_app)
    field = f"Chứng thực {uuid.uuid4().hex[:6]}"
    now = utcnow()
    late = file_in(dash_app, proc, now=now - timedelta(days=30), field=field)
    mine = file_in(dash_app, proc, now=now, field=field)
    gone = file_in(dash_app, proc, now=now, field=field)
    elsewhere = file_in(dash_app, other_proc, now=now, field=field)
    boss, _ = await as_user(dash, dash_app)
    fs.claim(dash_app.factory, mine, boss)
    fs.transfer(dash_app.factory, gone, "lan.tt", "UBND huyện Gia Lâm")
    assert set(codes_on(await get_inbox(dash, f"field={field}"))) == {late, mine, elsewhere}  # open items
    assert set(codes_on(await get_inbox(dash, f"field={field}&state=all"))) == {late, mine, gone, elsewhere}
    assert codes_on(await get_inbox(dash, f"field={field}&state=transferred")) == [gone]
    assert codes_on(await get_inbox(dash, f"field={field}&state=in_processing")) == [mine]
    assert set(codes_on(await get_inbox(dash, f"queue={queue_id(dash_app, other)}"))) == {elsewhere}
    assert set(codes_on(await get_inbox(dash, f"procedure={proc}&state=all"))) == {late, mine, gone}
    assert codes_on(await get_inbox(dash, f"field={field}&overdue=1")) == [late]
    assert codes_on(await get_inbox(dash, f"field={field}&mine=1")) == [mine]
    assert set(codes_on(await get_inbox(dash, f"field={field}&unassigned=1"))) == {late, elsewhere}
    assert codes_on(await get_inbox(dash, f"field={field}&unassigned=1&overdue=1&queue={queue_id(dash_app, queue)}"))
    page = await get_inbox(dash, f"field={field}&mine=1")
    assert 'id="mine" name="mine" value="1" checked' in page  # the form shows the view it is
    await get_inbox(dash, "state=nonsense", status=400)
    for bad in ("abc", "²", "9" * 20):
        await get_inbox(dash, f"queue={bad}", status=400)


async def test_search_ignores_case_and_diacritics_and_finds_codes(dash, dash_app):
    _, proc = new_queue(dash_app)
    tag = uuid.uuid4().hex[:6]
    hit = file_in(dash_app, proc, content=CONTENT.format(tag=f"ở phường Ỷ Lan {tag}"))
    miss = file_in(dash_app, proc, content=CONTENT.format(tag=f"ở xã Đông Hội {tag}"))
    await as_user(dash, dash_app)
    for q in ("Y LAN", "ỷ lan", "phuong y lan", "DOI THEM giay", "Đòi thêm"):
        found = codes_on(await get_inbox(dash, str(URL.build(query={"q": f"{q} {tag}"}))[1:]))
        assert set(found) == ({hit} if "lan" in q.lower() else {hit, miss}), q
    assert codes_on(await get_inbox(dash, str(URL.build(query={"q": hit.lower()}))[1:])) == [hit]
    assert codes_on(await get_inbox(dash, f"q=dong+hoi+{tag}")) == [miss]
    letters = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
    every = file_in(dash_app, proc, content=CONTENT.format(tag=f"{letters} {letters.lower()} {tag}"))
    folded = "a" * 17 + "d" + "e" * 11 + "i" * 5 + "o" * 17 + "u" * 11 + "y" * 5
    assert codes_on(await get_inbox(dash, f"q={folded}+{folded.upper()}+{tag}")) == [every]
    for wild in ("%", "_", "%25"):  # LIKE's wildcards are plain characters
        assert codes_on(await get_inbox(dash, str(URL.build(query={"q": f"{wild} {tag}"}))[1:])) == []


async def test_pages_of_fifty_with_the_total(dash, dash_app):
    _, proc = new_queue(dash_app)
    filed = [file_in(dash_app, proc, now=MONDAY + timedelta(minutes=i)) for i in range(53)]
    await as_user(dash, dash_app)
    first = await get_inbox(dash, f"procedure={proc}")
    assert codes_on(first) == filed[:50]
    assert "53 hồ sơ · trang 1/2" in first and f"procedure={proc}&amp;page=2" in first
    second = await get_inbox(dash, f"procedure={proc}&page=2")
    assert codes_on(second) == filed[50:] and "Trang trước" in second
    assert codes_on(await get_inbox(dash, f"procedure={proc}&page=99")) == filed[50:]  # past the end: the last
    assert codes_on(await get_inbox(dash, f"procedure={proc}&page=x")) == filed[:50]


async def test_htmx_gets_only_the_results(dash, dash_app):
    _, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    await as_user(dash, dash_app)
    part = await get_inbox(dash, f"procedure={proc}", headers=HX)
    assert part.lstrip().startswith('<div id="inbox-results">') and "<html" not in part
    assert codes_on(part) == [code]
    whole = await get_inbox(dash, f"procedure={proc}", headers=HX | {"HX-History-Restore-Request": "true"})
    assert "<html" in whole and 'id="filters"' in whole


async def test_staff_see_only_their_queues(dash, dash_app):
    mine, proc = new_queue(dash_app)
    theirs, their_proc = new_queue(dash_app)
    field = f"Hộ tịch {uuid.uuid4().hex[:6]}"
    visible = file_in(dash_app, proc, field=field)
    hidden = file_in(dash_app, their_proc, field=field)
    await as_user(dash, dash_app, "staff", [mine])
    page = await get_inbox(dash, f"field={field}")
    assert codes_on(page) == [visible] and theirs not in page
    assert codes_on(await get_inbox(dash, f"queue={queue_id(dash_app, theirs)}&state=all")) == []
    assert codes_on(await get_inbox(dash, f"q={hidden}&state=all")) == []
    assert codes_on(await get_inbox(dash, f"procedure={their_proc}&state=all")) == []


async def test_content_is_inert(dash, dash_app):
    _, proc = new_queue(dash_app)
    evil = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">bấm</a> '
    code = file_in(dash_app, proc, content=evil + CONTENT.format(tag="x"))
    await as_user(dash, dash_app)
    query = str(URL.build(query={"procedure": proc, "q": "<script>alert(2)</script>"}))[1:]
    for page in (await get_inbox(dash, f"procedure={proc}"), await get_inbox(dash, f"procedure={proc}", headers=HX)):
        assert code in page
        assert "<script>alert" not in page and "<img src=x" not in page and 'href="javascript:' not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    page = await get_inbox(dash, query + "&done=claim&r=%3Cscript%3Ealert(3)~ok")
    assert "<script>alert" not in page and "&lt;script&gt;alert(2)" in page


# --- saved views ---


async def test_saved_views_are_the_owners_alone(dash, dash_app):
    owner, csrf = await as_user(dash, dash_app, "staff")
    r = await dash.post(
        "/admin/views",
        data={"csrf": csrf, "name": "Quá hạn <b>của tôi</b>", "query": "overdue=1&mine=1&junk=x&page=3"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/admin/inbox?overdue=1&mine=1"
    [view] = saved_views.list_views(dash_app.factory, by_name(dash_app.factory, owner).id)
    assert view["query"] == "overdue=1&mine=1"
    page = await get_inbox(dash)
    assert 'href="/admin/inbox?overdue=1&amp;mine=1">Quá hạn &lt;b&gt;của tôi&lt;/b&gt;</a>' in page
    r = await dash.post("/admin/views", data={"name": "x", "query": ""}, allow_redirects=False)
    assert r.status == 403  # no CSRF token
    r = await dash.post("/admin/views", data={"csrf": csrf, "name": " ", "query": ""}, allow_redirects=False)
    assert r.status == 400 and "đặt tên" in await r.text()

    _, other_csrf = await as_user(dash, dash_app, "admin")
    assert "Quá hạn &lt;b&gt;" not in await get_inbox(dash)
    r = await dash.post(f"/admin/views/{view['id']}/delete", data={"csrf": other_csrf}, allow_redirects=False)
    assert r.status == 404
    assert saved_views.list_views(dash_app.factory, by_name(dash_app.factory, owner).id) == [view]

    dash.session.cookie_jar.clear()
    csrf = await login(dash, owner)
    r = await dash.post(f"/admin/views/{view['id']}/delete", data={"csrf": "wrong"}, allow_redirects=False)
    assert r.status == 403
    r = await dash.post(f"/admin/views/{view['id']}/delete", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    assert saved_views.list_views(dash_app.factory, by_name(dash_app.factory, owner).id) == []


# --- bulk actions ---


async def bulk(dash, csrf, action, codes, headers=None, status=303, **fields):
    data = [("csrf", csrf), ("action", action), *[("code", c) for c in codes], *fields.items()]
    r = await dash.post("/admin/inbox/bulk", data=data, headers=headers or {}, allow_redirects=False)
    body = await r.text()
    assert r.status == status, body
    if status == 303:
        return await get_inbox(dash, r.headers["Location"].partition("?")[2])
    return body


async def test_bulk_claim_reports_each_item(dash, dash_app):
    queue, proc = new_queue(dash_app)
    _, their_proc = new_queue(dash_app)
    free = file_in(dash_app, proc)
    taken = file_in(dash_app, proc)
    theirs = file_in(dash_app, their_proc)
    fs.claim(dash_app.factory, taken, "lan.tt")
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    page = await bulk(dash, csrf, "claim", [free, taken, theirs, "PA-ZZZZZZZZ"], back=f"procedure={proc}")
    assert report_of(page) == [
        f"{free}: đã nhận xử lý.",
        f"{taken}: không thể nhận xử lý vì đang ở trạng thái “Đang xử lý”.",
        f"{theirs}: không thể nhận xử lý — không tìm thấy hoặc không thuộc hàng đợi của bạn.",
        "PA-ZZZZZZZZ: không thể nhận xử lý — không tìm thấy hoặc không thuộc hàng đợi của bạn.",
    ]
    assert "1 hồ sơ thực hiện được, 3 hồ sơ bị từ chối" in page
    assert (row(dash_app.factory, free).state, row(dash_app.factory, free).assigned_to) == ("in_processing", name)
    assert row(dash_app.factory, taken).assigned_to == "lan.tt" and row(dash_app.factory, theirs).state == "received"
    assert len(outbox_rows(dash_app.factory, free)) == 2  # the receipt, then "being processed"
    assert set(codes_on(page)) == {free, taken}  # back on the view it came from


async def test_bulk_claim_and_transfer_wake_the_outbox(dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    wake = asyncio.Event()
    async with TestClient(TestServer(make_web_app(dash_app, wake=wake))) as client:
        _, csrf = await as_user(client, dash_app, "staff", [queue])
        await bulk(client, csrf, "claim", ["PA-ZZZZZZZZ"])
        assert not wake.is_set()  # nothing was sent
        await bulk(client, csrf, "claim", [code])
        assert wake.is_set()
        wake.clear()
        await bulk(client, csrf, "transfer", [code], agency="UBND huyện Gia Lâm")
        assert wake.is_set() and row(dash_app.factory, code).state == "transferred"


async def test_bulk_with_htmx_swaps_the_results_and_keeps_the_view(dash, dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    part = await bulk(dash, csrf, "claim", [code], headers=HX, status=200, back=f"procedure={proc}&state=all")
    assert part.lstrip().startswith('<div id="inbox-results">') and "<html" not in part
    assert report_of(part) == [f"{code}: đã nhận xử lý."] and codes_on(part) == [code]
    part = await bulk(dash, csrf, "claim", [], headers=HX, status=200)
    assert "Chưa chọn hồ sơ nào." in part
    await bulk(dash, csrf, "claim", [], status=400)
    await bulk(dash, csrf, "dance", [code], status=400)


async def test_bulk_assign_is_for_supervisors_and_checks_the_assignee(dash, dash_app):
    queue, proc = new_queue(dash_app)
    _, other_proc = new_queue(dash_app)
    ours = file_in(dash_app, proc)
    foreign = file_in(dash_app, other_proc)
    done = file_in(dash_app, proc)
    fs.transfer(dash_app.factory, done, "lan.tt", "UBND huyện Gia Lâm")
    worker = account(dash_app, "staff", [queue])
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    await bulk(dash, csrf, "assign", [ours], status=403, assignee=worker)
    assert row(dash_app.factory, ours).assigned_to is None
    assert 'id="bulk-assign"' not in await get_inbox(dash, f"procedure={proc}")

    _, csrf = await as_user(dash, dash_app, "supervisor")
    page = await get_inbox(dash, f"procedure={proc}")
    assert f'<option value="{worker}">' in page
    await bulk(dash, csrf, "assign", [ours], status=400)  # nobody chosen
    page = await bulk(dash, csrf, "assign", [ours, foreign, done], assignee=worker)
    assert report_of(page) == [
        f"{ours}: đã phân công cho {worker}.",
        f"{foreign}: không thể phân công — tài khoản {worker} không xử lý hàng đợi của hồ sơ này hoặc đã bị khóa.",
        f"{done}: không thể phân công vì đang ở trạng thái “Đã chuyển cơ quan có thẩm quyền”.",
    ]
    assert [row(dash_app.factory, c).assigned_to for c in (ours, foreign)] == [worker, None]
    assert row(dash_app.factory, ours).state == "received"


async def test_bulk_transfer_needs_an_agency_and_reports_refusals(dash, dash_app):
    queue, proc = new_queue(dash_app)
    first, second, answered = (file_in(dash_app, proc) for _ in range(3))
    fs.claim(dash_app.factory, answered, "lan.tt")
    fs.answer(dash_app.factory, answered, "lan.tt", "Đã chỉ đạo UBND phường giải quyết ngay.")
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    page = await bulk(dash, csrf, "transfer", [first], status=400, agency="  ")
    assert "Chưa nhập tên cơ quan" in page
    await bulk(dash, csrf, "transfer", [first], status=400, agency="x" * 301)
    page = await bulk(dash, csrf, "transfer", [first, second, answered], agency="UBND huyện <Gia Lâm>")
    assert report_of(page) == [
        f"{first}: đã chuyển.",
        f"{second}: đã chuyển.",
        f"{answered}: không thể chuyển vì đang ở trạng thái “Đã có trả lời”.",
    ]
    assert row(dash_app.factory, first).transferred_to == "UBND huyện <Gia Lâm>"
    assert row(dash_app.factory, answered).state == "answered"
    assert "<Gia Lâm>" in outbox_rows(dash_app.factory, second)[-1].text


async def test_bulk_needs_the_csrf_token(dash, dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    for token in (None, "wrong", csrf[:-1]):
        data = {"action": "claim", "code": code} | ({"csrf": token} if token else {})
        r = await dash.post("/admin/inbox/bulk", data=data, allow_redirects=False)
        assert r.status == 403
    assert row(dash_app.factory, code).state == "received"
    r = await dash.post(
        "/admin/inbox/bulk", data={"action": "claim", "code": code}, headers={"X-CSRF-Token": csrf} | HX
    )
    assert r.status == 200 and row(dash_app.factory, code).state == "in_processing"
