"""What the bot failed to answer (/admin/unanswered) and answer quality (/admin/quality), admins only: the questions
kept by the dialog (none, not_listed, no_aspect, unhelpful) grouped by similarity, filtered, attached to a procedure
(as a sample question or an alias) or marked out of scope; the ratings per procedure, sorted and paginated. Over HTTP
on SQLite and PostgreSQL. Tests that change the knowledge base build a fresh app."""

from __future__ import annotations

import contextlib
import html as htmlmod
import re
import uuid
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from citizen import Citizen
from conftest import postgres_database
from dashboard_util import account, csrf_of, login
from sqlalchemy import desc, func, insert, select, update

from bot.app import build
from bot.settings import load_settings
from bot.web import make_web_app
from dashboard.tables import staff_audit
from handlers import texts
from handlers.store import Journal, answer_ratings, now, review_questions
from knowledge import store

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "javascript:alert(1)"
DAMAGED = "1.002544"  # flagged in the bundled knowledge base: its portal page is another procedure's
SECTION = re.compile(r'<section class="card review-group" id="group-\d+".*?</section>', re.S)
IDS = re.compile(r'name="ids" value="([\d,]+)"')
PICKS = re.compile(r'name="pick" value="([\d.]+)"')
ROW_CODE = re.compile(r'<tr data-code="([\d.]+)">')
FOOD = "xin chứng nhận vệ sinh an toàn thực phẩm cho bếp ăn"  # no procedure found today (checked below)
FOOD_CODE = "2.001827"  # Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm …


def tag() -> str:
    return uuid.uuid4().hex[:8]


def kept(app, question: str, reason: str = "none", code: str | None = None, missing: str | None = None,
         days_ago: int = 0) -> int:  # fmt: skip
    """A question kept for review as the dialog keeps it (the same Journal, the same redaction)."""
    with app.engine.begin() as c:
        rid = Journal(c, "test").review(reason, question, code, missing)
        if days_ago:
            earlier = now() - timedelta(days=days_ago)
            c.execute(update(review_questions).where(review_questions.c.id == rid).values(at=earlier))
    return rid


def rows_of(app, ids) -> list:
    with app.engine.connect() as c:
        q = select(review_questions).where(review_questions.c.id.in_(list(ids))).order_by(review_questions.c.id)
        return c.execute(q).all()


def last_audit(app, action: str):
    with app.factory() as s:
        q = select(staff_audit).where(staff_audit.c.action == action).order_by(desc(staff_audit.c.id)).limit(1)
        return s.execute(q).first()


def groups_of(html: str) -> list[tuple[set[int], str]]:
    """The page's open groups: (question ids, the section's HTML)."""
    out = []
    for section in SECTION.findall(html):
        m = IDS.search(section)
        out.append(({int(i) for i in m.group(1).split(",")} if m else set(), section))
    return out


def group_holding(html: str, rid: int) -> tuple[set[int], str]:
    found = [g for g in groups_of(html) if rid in g[0]]
    assert len(found) == 1, f"question {rid} is in {len(found)} groups"
    return found[0]


async def resolve(client, token, questions, **data):
    data = {"csrf": token, "ids": ",".join(map(str, questions))} | data
    return await client.post("/admin/unanswered/resolve", data=data, allow_redirects=False)


@pytest.fixture
async def admin(dash, dash_app):
    """`dash` logged in as a new admin: (username, CSRF token)."""
    name = account(dash_app, "admin")
    return name, await login(dash, name)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request, tmp_path):
    """A new app with the bundled knowledge base, for a test that changes it."""
    with contextlib.ExitStack() as stack:
        sqlite = f"sqlite:///{tmp_path / 'app.db'}"
        url = sqlite if request.param == "sqlite" else stack.enter_context(postgres_database())
        built = build(load_settings(database_url=url, data_dir=tmp_path / "data"))
        yield built
        built.engine.dispose()


@pytest.fixture
async def fresh_admin(fresh):
    """An HTTP client of the fresh app's server, logged in as an admin: (client, username, CSRF token)."""
    client = TestClient(TestServer(make_web_app(fresh)))
    await client.start_server()
    name = account(fresh, "admin")
    token = await login(client, name)
    yield client, name, token
    await client.close()


# ---- access ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_staff_and_supervisors_get_403_and_resolve_nothing(dash, dash_app, role):
    rid = kept(dash_app, f"câu hỏi kiểm tra quyền {tag()}")
    token = await login(dash, account(dash_app, role, ["Sở Tư pháp"] if role == "staff" else []))
    for path in ("/admin/unanswered", "/admin/quality", "/admin/quality?sort=share"):
        r = await dash.get(path)
        assert r.status == 403 and "không có quyền" in await r.text(), path
    r = await resolve(dash, token, [rid], resolution="out_of_scope")
    assert r.status == 403
    assert rows_of(dash_app, [rid])[0].resolution is None


async def test_resolving_needs_the_csrf_token(dash, dash_app, admin):
    rid = kept(dash_app, f"câu hỏi kiểm tra mã chống giả mạo {tag()}")
    for token in (None, "giả-mạo"):
        data = {"ids": str(rid), "resolution": "out_of_scope"} | ({"csrf": token} if token else {})
        r = await dash.post("/admin/unanswered/resolve", data=data, allow_redirects=False)
        assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text()
    assert rows_of(dash_app, [rid])[0].resolution is None


# ---- what is kept, and how it is grouped -------------------------------------------------------------------------


def test_the_dialog_keeps_a_card_that_lacks_the_aspect_asked(dash_app):
    """An answer saying the record does not hold the aspect asked ("chưa có thông tin") is kept as no_aspect,
    with the code and the aspect, redacted like the others; an aspect the record holds is not kept."""
    citizen = Citizen(dash_app.conversations)
    reply = citizen.say("đăng ký hộ kinh doanh mất bao lâu, gọi 0912 345 678")
    assert "Mã thủ tục: 1.001612" in reply.text and "chưa có thông tin" in reply.text
    with dash_app.engine.connect() as c:
        row = c.execute(select(review_questions).order_by(desc(review_questions.c.id)).limit(1)).first()
    assert (row.reason, row.code, row.missing) == ("no_aspect", "1.001612", "Thời hạn giải quyết")
    assert "0912" not in row.question and "[số điện thoại]" in row.question
    citizen.say("đăng ký khai tử lệ phí bao nhiêu")  # the record states its fee
    with dash_app.engine.connect() as c:
        assert c.scalar(select(func.max(review_questions.c.id))) == row.id


async def test_similar_questions_are_one_group_unrelated_ones_apart(dash, dash_app, admin):
    alike = [
        kept(dash_app, "thủ tục xin giấy phép khai thác cát sỏi lòng sông"),
        kept(dash_app, "thu tuc xin giay phep khai thac cat soi long song", "not_listed"),
        kept(dash_app, "cho em hỏi xin giấy phép khai thác cát sổi lòng sôngg cần giấy tờ gì ạ"),  # typos
        kept(dash_app, "giấy phép khai thác cát sỏi lòng sông", "unhelpful", "1.000028", "thiếu mẫu đơn"),
    ]
    apart = [
        kept(dash_app, "đăng ký nuôi chim yến trong nhà phố"),
        kept(dash_app, "xin giấy phép"),  # a short need held whole inside the others is not theirs
    ]
    html = await (await dash.get("/admin/unanswered")).text()
    ids, section = group_holding(html, alike[0])
    assert set(alike) <= ids and not set(apart) & ids
    assert group_holding(html, apart[0])[0] != group_holding(html, apart[1])[0]
    assert "4 câu hỏi" in section
    for label in ("Không tìm thấy thủ tục: 2", "Không có trong các thủ tục gợi ý: 1", "“Chưa hữu ích”: 1"):
        assert label in htmlmod.unescape(section)
    assert "thiếu mẫu đơn" in section and 'href="/admin/kb/1.000028"' in section
    # the picker: the assistant's own candidates for the group's question
    assert PICKS.findall(section)


async def test_filters_reason_period_and_state(dash, dash_app, admin):
    word = f"kiểm tra bộ lọc {tag()}"
    new_none = kept(dash_app, f"{word} một")
    old_none = kept(dash_app, f"{word} hai", days_ago=40)
    aspect = kept(dash_app, f"{word} ba", "no_aspect", "1.001612", "Thời hạn giải quyết")

    async def shown(query: str) -> set[int]:
        r = await dash.get(f"/admin/unanswered?{query}")
        assert r.status == 200
        return set().union(*(ids for ids, _ in groups_of(await r.text())))

    assert {new_none, old_none, aspect} <= await shown("")
    assert {new_none, old_none} & await shown("reason=no_aspect") == set()
    assert aspect in await shown("reason=no_aspect")
    assert old_none not in await shown("period=30") and new_none in await shown("period=30")
    _, token = admin
    assert (await resolve(dash, token, [new_none], resolution="out_of_scope")).status == 303
    assert new_none not in await shown("")  # open ones only, by default
    resolved = await (await dash.get("/admin/unanswered?state=resolved&reason=none")).text()
    assert f"{word} một" in resolved and "Ngoài phạm vi" in resolved
    for bad in ("reason=khac", "period=1000", "state=x", "by=x", "page=0"):
        r = await dash.get(f"/admin/unanswered?{bad}")
        assert r.status == 400 and 'id="form-error"' in await r.text(), bad


async def test_questions_are_rendered_inert(dash, dash_app, admin):
    rid = kept(dash_app, f"{SCRIPT} {IMG} {LINK} xin phép nuôi kỳ đà {tag()}", "unhelpful", "1.000028", SCRIPT + IMG)
    html = await (await dash.get("/admin/unanswered")).text()
    _, section = group_holding(html, rid)
    assert "<script>alert" not in section and "<img" not in section and 'href="javascript' not in section
    assert "&lt;script&gt;" in section and "&lt;img src=x onerror=alert(1)&gt;" in section
    with dash_app.engine.begin() as c:
        c.execute(insert(answer_ratings).values(at=now(), channel="test", code="1.000028", helpful=False))
    page = await (await dash.get("/admin/quality?sort=code&dir=asc")).text()
    assert "<script>alert" not in page and "<img" not in page and "&lt;script&gt;" in page


# ---- resolving ---------------------------------------------------------------------------------------------------


async def test_out_of_scope_resolves_every_question_of_the_group_and_is_audited(dash, dash_app, admin):
    me, token = admin
    ids = [kept(dash_app, "xin giấy phép bắn pháo hoa đám cưới"), kept(dash_app, "xin giay phep ban phao hoa dam cuoi")]
    html = await (await dash.get("/admin/unanswered")).text()
    group, _ = group_holding(html, ids[0])
    assert set(ids) <= group
    r = await resolve(dash, csrf_of(html), sorted(group), resolution="out_of_scope")
    assert r.status == 303 and r.headers["Location"] == "/admin/unanswered?done=unanswered_out_of_scope"
    for row in rows_of(dash_app, group):
        assert (row.resolution, row.resolved_code, row.resolved_by) == ("out_of_scope", None, me)
        assert row.resolved_at is not None
    entry = last_audit(dash_app, "unanswered_out_of_scope")
    assert entry.actor == me and entry.detail.startswith(f"{len(group)} câu hỏi")
    assert "Đánh dấu câu hỏi ngoài phạm vi" in await (await dash.get("/admin/audit")).text()
    page = await (await dash.get(r.headers["Location"])).text()
    assert "Đã đánh dấu các câu hỏi là ngoài phạm vi." in page and f'value="{ids[0]}' not in page
    again = await resolve(dash, token, ids, resolution="out_of_scope")  # resolved already: nothing left to do
    assert again.status == 400 and "đã được xử lý" in await again.text()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "9.999999"}, "Không có thủ tục mã 9.999999 trong dữ liệu."),
        ({"code": DAMAGED}, f"Thủ tục {DAMAGED} đang bị đánh dấu lỗi dữ liệu"),
        ({"code": "abc<script>"}, "Mã thủ tục không hợp lệ"),
        ({}, "Hãy chọn một thủ tục trong danh sách gợi ý hoặc nhập mã thủ tục."),
        ({"code": "1.000656", "text": "  ?! "}, "Hãy nhập câu hỏi mẫu hoặc tên gọi"),
        ({"code": "1.000656", "text": "x" * 301}, "dài quá 300 ký tự"),
        ({"code": "1.000656", "resolution": "delete"}, "Hãy chọn cách xử lý"),
        ({"code": "1.000656", "ids": "1,abc"}, "Danh sách câu hỏi không hợp lệ"),
    ],
)
async def test_a_bad_code_or_form_is_refused_in_vietnamese(dash, dash_app, admin, data, message):
    _, token = admin
    rid = kept(dash_app, "câu hỏi bị từ chối gắn vào thủ tục")  # one group: each case adds a question to it
    group, _ = group_holding(await (await dash.get("/admin/unanswered")).text(), rid)
    data = {"resolution": "question", "text": "câu hỏi mẫu"} | data
    with dash_app.factory() as s:
        before = store.current_revision(s)
    r = await resolve(dash, token, sorted(group), **data)
    html = await r.text()
    assert r.status == 400 and message in htmlmod.unescape(html) and 'id="form-error"' in html
    assert all(row.resolution is None for row in rows_of(dash_app, group))
    with dash_app.factory() as s:
        assert store.current_revision(s) == before  # nothing attached
    if "ids" not in data:  # what was typed stays in the group's form
        _, section = group_holding(html, rid)
        assert re.search(r'name="code"[^>]*value="([^"]*)"', section).group(1) == htmlmod.escape(data.get("code", ""))
        assert htmlmod.escape(data["text"]) in section


async def test_attached_then_the_next_such_question_is_answered(fresh, fresh_admin):
    """End to end: a citizen's question finds no procedure; an admin attaches the group to the procedure the page
    offers; the same question, and one typed without diacritics, now get that procedure's card."""
    client, me, _ = fresh_admin
    first = Citizen(fresh.conversations)
    assert first.say(FOOD).text == texts.NOT_FOUND
    assert Citizen(fresh.conversations).say(FOOD.replace("ă", "a")).text == texts.NOT_FOUND  # a second citizen
    html = await (await client.get("/admin/unanswered")).text()
    [(ids, section)] = groups_of(html)
    assert len(ids) == 2 and FOOD in section
    assert FOOD_CODE in PICKS.findall(section)  # the bot's own candidate, offered in the picker
    r = await resolve(client, csrf_of(html), sorted(ids), resolution="question", pick=FOOD_CODE, text=FOOD)
    assert r.status == 303 and r.headers["Location"] == "/admin/unanswered?done=unanswered_attach"
    for row in rows_of(fresh, ids):
        assert (row.resolution, row.resolved_code, row.resolved_by) == ("question", FOOD_CODE, me)
    with fresh.factory() as s:
        assert FOOD in store.get(s, FOOD_CODE).questions
    entry = last_audit(fresh, "unanswered_attach")
    assert (entry.actor, entry.target) == (me, FOOD_CODE) and FOOD in entry.detail
    for question in (FOOD, "xin chung nhan ve sinh an toan thuc pham cho bep an tap the"):
        reply = Citizen(fresh.conversations).say(question)
        assert f"Mã thủ tục: {FOOD_CODE}" in reply.text, reply.text
    page = await (await client.get(r.headers["Location"])).text()
    assert "Đã gắn các câu hỏi vào thủ tục" in page and not groups_of(page)


async def test_attached_as_an_alias_with_a_typed_code(fresh, fresh_admin):
    client, me, token = fresh_admin
    ids = [kept(fresh, "làm giấy đi biển cho tàu cá"), kept(fresh, "lam giay di bien cho tau ca")]
    html = await (await client.get("/admin/unanswered")).text()
    group, _ = group_holding(html, ids[0])
    assert group == set(ids)
    code = "1.004359"  # Cấp, cấp lại Giấy phép khai thác thủy sản: typed, and a candidate picked too (typed wins)
    with fresh.factory() as s:
        proc = store.get(s, code)
    assert proc is not None and not proc.flags
    r = await resolve(client, token, ids, resolution="alias", pick="1.000656", code=f" {code} ", text="giấy đi biển")
    assert r.status == 303
    for row in rows_of(fresh, ids):
        assert (row.resolution, row.resolved_code, row.resolved_by) == ("alias", code, me)
    with fresh.factory() as s:
        assert "giấy đi biển" in store.get(s, code).aliases and "giấy đi biển" not in store.get(s, "1.000656").aliases
    assert "tên gọi khác" in last_audit(fresh, "unanswered_attach").detail


# ---- quality -----------------------------------------------------------------------------------------------------


RATED = {"1.000656": (5, 1), "1.000894": (2, 6), "1.001612": (9, 3)}  # code: (helpful, unhelpful)


@pytest.fixture(scope="module")
def rated(dash_app):
    """Ratings for three procedures (and one 40 days old), what was missing for one of them, and one rating each
    for 55 more procedures (so the table has a second page)."""
    t = now()
    values = [
        {"at": t, "channel": "test", "code": code, "helpful": helpful}
        for code, (yes, no) in RATED.items()
        for helpful in [True] * yes + [False] * no
    ]
    values.append({"at": t - timedelta(days=40), "channel": "test", "code": "1.000894", "helpful": True})
    with dash_app.factory() as s:
        others = [p.code for p in store.load_all(s) if p.code not in RATED and p.code != "1.000028"][:55]
    values += [{"at": t, "channel": "test", "code": code, "helpful": True} for code in others]
    with dash_app.engine.begin() as c:
        c.execute(insert(answer_ratings), values)
    missing = "thiếu danh sách giấy tờ dịch thuật"
    kept(dash_app, "đăng ký kết hôn với người nước ngoài", "unhelpful", "1.000894", missing)
    return RATED


async def test_quality_counts_shares_and_what_was_missing(dash, admin, rated):
    r = await dash.get("/admin/quality?period=30&sort=unhelpful&dir=desc")
    html = await r.text()
    assert r.status == 200 and 'href="/admin/kb/1.000894"' in html
    row = html.split('<tr data-code="1.000894">')[1].split("</tr>")[0]
    cells = re.findall(r'class="num">([^<]*)<', row)
    assert cells[:4] == ["2", "6", "8", "25,0 %"]  # the old rating is outside the last 30 days
    assert "thiếu danh sách giấy tờ dịch thuật" in row and "1 ý kiến" in row
    everything = await (await dash.get("/admin/quality?period=all&sort=unhelpful&dir=desc")).text()
    row = everything.split('<tr data-code="1.000894">')[1].split("</tr>")[0]
    assert re.findall(r'class="num">([^<]*)<', row)[:3] == ["3", "6", "9"]


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("sort=helpful&dir=desc", ["1.001612", "1.000656", "1.000894"]),
        ("sort=helpful&dir=asc", ["1.000894", "1.000656", "1.001612"]),
        ("sort=unhelpful&dir=desc", ["1.000894", "1.001612", "1.000656"]),
        ("sort=share&dir=asc", ["1.000894", "1.001612", "1.000656"]),
        ("sort=total&dir=desc", ["1.001612", "1.000894", "1.000656"]),
        ("sort=name&dir=asc", ["1.001612", "1.000894", "1.000656"]),  # Đăng ký thành lập…, Thủ tục đăng ký k…
    ],
)
async def test_the_quality_page_sorts_by_any_column(dash, admin, rated, query, order):
    codes = []
    for page in (1, 2):
        r = await dash.get(f"/admin/quality?period=30&{query}&page={page}")
        assert r.status == 200
        codes += ROW_CODE.findall(await r.text())
    assert [c for c in codes if c in rated] == order
    assert len(codes) == len(set(codes)) >= 58  # two pages, every procedure once


async def test_the_quality_page_paginates_and_refuses_bad_parameters(dash, admin, rated):
    first = await (await dash.get("/admin/quality?sort=code&dir=asc")).text()
    assert len(ROW_CODE.findall(first)) == 50 and "Trang 1/2" in first and 'rel="next"' in first
    link = re.search(r'<a href="([^"]*)" id="sort-share"', first).group(1)
    assert "sort=share" in link and "dir=desc" in link  # a figure sorts largest first
    refused = {
        "sort=drop": "Cột sắp xếp không hợp lệ.",
        "dir=up": "Chiều sắp xếp không hợp lệ.",
        "period=2": "Khoảng thời gian không hợp lệ",
        "page=x": "Số trang không hợp lệ.",
    }
    for bad, message in refused.items():
        r = await dash.get(f"/admin/quality?{bad}")
        assert r.status == 400 and message in await r.text(), bad
