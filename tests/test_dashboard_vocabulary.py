"""Life events and everyday names edited by admins (/admin/vocabulary): the bundled files until a version is saved;
checked (every code a searchable procedure, no empty title or phrase, no duplicate id, sizes capped) with every
problem listed and nothing saved; a save is a new version with its history, bumps the KB revision and changes what
the search and the dialog do; revert; audited. Over HTTP, and an edit in a real browser (the screenshot
vocabulary.png), on SQLite and PostgreSQL (one app per module: the tests run in order, the first one sees no version
saved)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from browser_util import log_in, shoot, url
from citizen import Citizen
from dashboard_util import account, login
from playwright.async_api import expect
from sqlalchemy import desc, func, insert, select

from dashboard.tables import staff_audit
from knowledge import store
from knowledge import vocabulary as vocab
from knowledge.events import bundled as bundled_events
from knowledge.events import bundled_data
from knowledge.kb import KnowledgeBase
from knowledge.text import everyday_names
from knowledge.vocabulary import EVERYDAY, LIFE_EVENTS, VocabularyError, kb_vocabulary

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS = "javascript:alert(1)"
BIRTH = "1.001193"  # Đăng ký khai sinh
INVENTED = "tờ hồng điều"  # an everyday name nobody uses: the search finds nothing for it today
ASKED = f"xin {INVENTED}"
EVENT_TOLD = "nhà mình vừa đón bé về nuôi"
GET_PAGES = (
    "/admin/vocabulary",
    "/admin/vocabulary/events/sinh_con",
    "/admin/vocabulary/everyday",
    f"/admin/vocabulary/everyday/{BIRTH}",
    "/admin/vocabulary/history/life_events",
    "/admin/vocabulary/history/everyday",
)
POSTS = (
    "/admin/vocabulary/events",
    "/admin/vocabulary/events/sinh_con",
    "/admin/vocabulary/everyday",
    f"/admin/vocabulary/everyday/{BIRTH}",
    "/admin/vocabulary/history/everyday/revert",
)


def versions(app) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(kb_vocabulary))


def revision(app) -> int:
    with app.factory() as s:
        return store.current_revision(s)


def newest(app, kind: str) -> dict | None:
    with app.factory() as s:
        return vocab.newest(s, kind)


def last_audit(app, action: str):
    with app.factory() as s:
        q = select(staff_audit).where(staff_audit.c.action == action).order_by(desc(staff_audit.c.id)).limit(1)
        return s.execute(q).first()


@pytest.fixture(scope="module")
def damaged(dash_app) -> str:
    """The code of a damaged record of the bundled KB (kept out of search)."""
    with dash_app.factory() as s:
        return next(p.code for p in store.load_all(s) if p.flags)


@pytest.fixture
async def admin(dash, dash_app):
    name = account(dash_app, "admin")
    return name, await login(dash, name)


async def post(client, path: str, token: str | None, **data):
    if token is not None:
        data["csrf"] = token
    return await client.post(path, data=data, allow_redirects=False)


# ---- the bundled data, access ----------------------------------------------------------------------------------


async def test_the_bundled_data_is_in_use_while_nothing_is_saved(dash, dash_app, admin):
    assert versions(dash_app) == 0
    assert dash_app.kb.events is bundled_events()
    with dash_app.factory() as s:
        assert vocab.load(s).everyday is everyday_names()
    html = await (await dash.get("/admin/vocabulary")).text()
    assert "dữ liệu gốc kèm phần mềm (chưa ai sửa)" in html
    for event in bundled_data():
        assert f'id="event-{event["id"]}"' in html and event["title"] in html
    html = await (await dash.get("/admin/vocabulary/everyday")).text()
    assert f"{len(everyday_names())} thủ tục có tên gọi." in html and "làm giấy khai sinh" in html
    html = await (await dash.get("/admin/vocabulary/everyday?q=giay khai sinh")).text()  # without diacritics
    assert f'id="names-{BIRTH}"' in html and 'id="names-1.000656"' not in html
    html = await (await dash.get("/admin/vocabulary/events/sinh_con")).text()
    assert f"{BIRTH} — nếu chỉ làm khai sinh" in html and 'id="edit-active" checked' in html
    html = await (await dash.get("/admin/vocabulary/history/everyday")).text()
    assert 'id="version-bundled"' in html and "Đang dùng" in html
    assert (await dash.get("/admin/vocabulary/events/khong_co")).status == 404
    assert (await dash.get("/admin/vocabulary/everyday/9.999999")).status == 404
    assert (await dash.get("/admin/vocabulary/history/lexicon")).status == 404


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_staff_and_supervisors_get_403_and_change_nothing(dash, dash_app, role):
    token = await login(dash, account(dash_app, role, ["Sở Tư pháp"]))
    for path in GET_PAGES:
        r = await dash.get(path)
        assert r.status == 403 and "không có quyền" in await r.text(), path
    before = versions(dash_app)
    data = {"id": "moi", "title": "Mới", "triggers": "x", "steps": BIRTH, "code": BIRTH, "names": "y", "version": "1"}
    for path in POSTS:
        assert (await post(dash, path, token, **data)).status == 403, path
    assert versions(dash_app) == before


async def test_every_post_needs_the_csrf_token(dash, dash_app, admin):
    before = versions(dash_app)
    for token in (None, "wrong-token"):
        for path in POSTS:
            r = await post(dash, path, token, code=BIRTH, names="tên mới", version="bundled")
            assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text(), path
    assert versions(dash_app) == before


# ---- everyday names --------------------------------------------------------------------------------------------


async def test_an_everyday_name_saved_changes_the_search_and_revert_takes_it_back(dash, dash_app, admin):
    me, token = admin
    kb = dash_app.kb
    before = kb.search(ASKED)
    assert not (before.decision == "answer" and before.codes[0] == BIRTH)  # not found today
    assert f"Mã thủ tục: {BIRTH}" not in Citizen(dash_app.conversations).say(ASKED).text
    other_process = KnowledgeBase(dash_app.factory)
    other_process.search("khởi động")
    rev = revision(dash_app)
    r = await post(dash, "/admin/vocabulary/everyday", token, code=BIRTH, names=f"{INVENTED}\n\n", note="Tên ở quê")
    assert r.status == 303 and r.headers["Location"] == "/admin/vocabulary/everyday?done=vocabulary_save"
    saved = newest(dash_app, EVERYDAY)
    assert saved["data"][BIRTH] == [*everyday_names()[BIRTH], INVENTED] and saved["actor"] == me
    assert saved["note"] == "Tên ở quê" and revision(dash_app) == rev + 1
    entry = last_audit(dash_app, "vocabulary_save")
    assert (entry.actor, entry.target) == (me, f"tên gọi {BIRTH}")
    assert f"phiên bản #{saved['id']}" in entry.detail and f"+ {BIRTH}: “{INVENTED}”" in entry.detail
    # this process at once, another one within REVISION_CHECK_INTERVAL: no restart
    after = kb.search(ASKED)
    assert after.decision == "answer" and after.codes[0] == BIRTH
    other_process.refresh()
    assert other_process.search(ASKED).codes[0] == BIRTH
    assert Citizen(dash_app.conversations).say(ASKED).text.startswith(f"Thủ tục đăng ký khai sinh\nMã thủ tục: {BIRTH}")
    html = await (await dash.get(r.headers["Location"])).text()
    assert "Đã lưu phiên bản mới" in html and f"phiên bản #{saved['id']}, lưu bởi {me}" in html
    html = await (await dash.get(f"/admin/vocabulary/everyday?q={INVENTED}")).text()
    assert f'id="names-{BIRTH}"' in html and "1 trong" in html
    history = await (await dash.get("/admin/vocabulary/history/everyday")).text()
    assert f'id="version-{saved["id"]}"' in history and me in history and "Tên ở quê" in history
    assert f"{BIRTH}: “{INVENTED}”" in history and 'class="added"' in history
    # revert: the bundled file saved anew
    r = await post(dash, "/admin/vocabulary/history/everyday/revert", token, version="bundled")
    assert r.status == 303 and r.headers["Location"] == "/admin/vocabulary/history/everyday?done=vocabulary_revert"
    reverted = newest(dash_app, EVERYDAY)
    assert reverted["data"] == vocab.bundled(EVERYDAY) and reverted["note"] == "Khôi phục dữ liệu gốc kèm phần mềm"
    entry = last_audit(dash_app, "vocabulary_revert")
    assert (entry.actor, entry.target) == (me, "Tên gọi thường dùng: dữ liệu gốc") and f"- {BIRTH}" in entry.detail
    assert kb.search(ASKED).codes[:1] == before.codes[:1]
    html = await (await dash.get(r.headers["Location"])).text()
    assert "Đã khôi phục" in html and 'class="removed"' in html
    # and the version with the name is there to go back to
    r = await post(dash, "/admin/vocabulary/history/everyday/revert", token, version=str(saved["id"]))
    assert r.status == 303 and newest(dash_app, EVERYDAY)["data"] == saved["data"]
    assert newest(dash_app, EVERYDAY)["note"] == f"Khôi phục phiên bản #{saved['id']}"
    r = await post(dash, "/admin/vocabulary/history/everyday/revert", token, version=str(saved["id"]))
    assert r.headers["Location"].endswith("?done=unchanged")  # it is the one in use: no new version
    r = await post(dash, "/admin/vocabulary/history/life_events/revert", token, version=str(saved["id"]))
    assert r.status == 404  # a version of the other kind
    # no name left: the procedure leaves the table
    r = await post(dash, f"/admin/vocabulary/everyday/{BIRTH}", token, names=" \n")
    assert r.status == 303 and BIRTH not in newest(dash_app, EVERYDAY)["data"]
    assert f"- {BIRTH}: “làm giấy khai sinh”" in last_audit(dash_app, "vocabulary_save").detail
    r = await post(dash, "/admin/vocabulary/history/everyday/revert", token, version="bundled")
    assert r.status == 303 and newest(dash_app, EVERYDAY)["data"] == vocab.bundled(EVERYDAY)


async def test_saving_what_is_in_use_saves_nothing(dash, dash_app, admin):
    _, token = admin
    page = await (await dash.get(f"/admin/vocabulary/everyday/{BIRTH}")).text()
    names = page.split('name="names" class="tall">')[1].split("</textarea>")[0]
    before, rev = versions(dash_app), revision(dash_app)
    r = await post(dash, f"/admin/vocabulary/everyday/{BIRTH}", token, names=names)
    assert r.status == 303 and r.headers["Location"].endswith("?done=unchanged")
    assert (versions(dash_app), revision(dash_app)) == (before, rev)
    assert "Không có gì thay đổi" in await (await dash.get(r.headers["Location"])).text()


# ---- life events -----------------------------------------------------------------------------------------------


async def test_a_life_event_added_edited_and_deactivated(dash, dash_app, admin):
    me, token = admin
    event_id = f"nhan_nuoi_{uuid.uuid4().hex[:6]}"
    assert dash_app.kb.events.detect(EVENT_TOLD) is None
    steps = f"{BIRTH} — khai sinh cho bé nếu chưa có\n1.004222 – thường trú cho bé"
    r = await post(
        dash,
        "/admin/vocabulary/events",
        token,
        id=event_id,
        title="Nhận con nuôi",
        triggers="vừa đón bé về nuôi",
        steps=steps,
    )
    assert r.status == 303 and r.headers["Location"] == "/admin/vocabulary?done=vocabulary_save"
    saved = newest(dash_app, LIFE_EVENTS)
    assert saved["data"][-1] == {
        "id": event_id,
        "title": "Nhận con nuôi",
        "triggers": ["vừa đón bé về nuôi"],
        "steps": [
            {"code": BIRTH, "note": "khai sinh cho bé nếu chưa có"},
            {"code": "1.004222", "note": "thường trú cho bé"},
        ],
    }
    assert saved["data"][:-1] == bundled_data()
    entry = last_audit(dash_app, "vocabulary_save")
    assert (entry.actor, entry.target) == (me, f"sự kiện {event_id}") and "+ sự kiện “Nhận con nuôi”" in entry.detail
    assert dash_app.kb.events.detect(EVENT_TOLD).id == event_id
    reply = Citizen(dash_app.conversations).say(EVENT_TOLD)
    assert reply.text.startswith("Nhận con nuôi: thường cần làm các thủ tục sau")
    html = await (await dash.get(f"/admin/vocabulary/events/{event_id}")).text()
    assert "1.004222 — thường trú cho bé" in html and 'id="edit-active" checked' in html
    # edit: a new title and phrase, then deactivate
    r = await post(
        dash,
        f"/admin/vocabulary/events/{event_id}",
        token,
        title="Nhận nuôi con",
        active="1",
        triggers="vừa đón bé về nuôi\nnhận nuôi bé",
        steps=steps,
        note="đổi tên",
    )
    assert r.status == 303 and r.headers["Location"] == f"/admin/vocabulary/events/{event_id}?done=vocabulary_save"
    detail = last_audit(dash_app, "vocabulary_save").detail
    assert "~ " in detail and "“Nhận con nuôi” → “Nhận nuôi con”" in detail and "+ " in detail and "đổi tên" in detail
    r = await post(
        dash, f"/admin/vocabulary/events/{event_id}", token, title="Nhận nuôi con", triggers="x", steps=steps
    )
    assert r.status == 303 and newest(dash_app, LIFE_EVENTS)["data"][-1]["active"] is False
    assert dash_app.kb.events.detect(EVENT_TOLD) is None and event_id not in dash_app.kb.events.events
    html = await (await dash.get("/admin/vocabulary")).text()
    assert f'id="event-{event_id}"' in html and "Ngừng dùng" in html
    history = await (await dash.get("/admin/vocabulary/history/life_events")).text()
    assert f"{event_id}: ngừng dùng" in history and f"{event_id}: cụm từ “nhận nuôi bé”" in history
    assert (
        await post(dash, "/admin/vocabulary/events/khong_co", token, title="x", triggers="y", steps=BIRTH)
    ).status == 404


REFUSED = [
    # (path, form, what the page says)
    ("/admin/vocabulary/events", {"steps": "9.999999 — không có"}, "bước 1: không có thủ tục nào mã “9.999999”."),
    ("/admin/vocabulary/events", {"steps": "DAMAGED"}, "đang bị đánh dấu hỏng dữ liệu"),
    ("/admin/vocabulary/events", {"steps": "khai sinh cho con"}, "“khai sinh cho con” không phải mã thủ tục"),
    ("/admin/vocabulary/events", {"triggers": " \n "}, "cần ít nhất một cụm từ nhận biết."),
    ("/admin/vocabulary/events", {"triggers": "!!!"}, "cụm từ nhận biết “!!!” không có chữ nào."),
    ("/admin/vocabulary/events", {"triggers": "mới sinh"}, "cụm từ “mới sinh” đã dùng cho sự kiện “sinh_con”."),
    ("/admin/vocabulary/events", {"title": "  "}, "thiếu tên sự kiện."),
    ("/admin/vocabulary/events", {"steps": ""}, "cần ít nhất một bước (một thủ tục)."),
    ("/admin/vocabulary/events", {"id": "sinh_con"}, "Mã sự kiện “sinh_con” bị trùng."),
    ("/admin/vocabulary/events", {"id": "Sinh Con"}, "mã sự kiện gồm 1–40 chữ thường không dấu"),
    ("/admin/vocabulary/events", {"triggers": "a" * 30_000}, "Ô “Cụm từ nhận biết” dài quá 20.000 ký tự."),
    ("/admin/vocabulary/events", {"triggers": "\n".join(f"cụm {i}" for i in range(60))}, "tối đa 50 cụm từ"),
    ("/admin/vocabulary/events", {"triggers": "dài " * 60}, "dài quá 150 ký tự."),
    ("/admin/vocabulary/events", {"note": "n" * 600}, "Ghi chú thay đổi dài quá 500 ký tự."),
    ("/admin/vocabulary/events/sinh_con", {"steps": "9.999999"}, "Sự kiện “sinh_con”, bước 1: không có thủ tục"),
    ("/admin/vocabulary/events/sinh_con", {"triggers": ""}, "Sự kiện “sinh_con”: cần ít nhất một cụm từ"),
    ("/admin/vocabulary/everyday", {"code": "9.999999", "names": "tên"}, "Tên gọi của mã “9.999999”: không có thủ tục"),
    ("/admin/vocabulary/everyday", {"code": "DAMAGED", "names": "tên"}, "đang bị đánh dấu hỏng dữ liệu"),
    ("/admin/vocabulary/everyday", {"code": "abc", "names": "tên"}, "“abc” không phải mã thủ tục"),
    ("/admin/vocabulary/everyday", {"code": BIRTH, "names": " \n"}, "Cần ít nhất một tên gọi."),
    ("/admin/vocabulary/everyday", {"code": "1.000656", "names": "x" * 25_000}, "Ô “Tên gọi” dài quá 20.000 ký tự."),
    (f"/admin/vocabulary/everyday/{BIRTH}", {"names": "\n".join(f"tên {i}" for i in range(40))}, "tối đa 30 tên gọi"),
]


@pytest.mark.parametrize("path,typed,message", REFUSED)
async def test_refused_with_every_problem_in_vietnamese_and_nothing_saved(
    dash, dash_app, admin, damaged, path, typed, message
):
    _, token = admin
    form = {"id": f"su_kien_{uuid.uuid4().hex[:6]}", "title": "Sự kiện thử", "triggers": "một việc thử lần nữa"}
    form |= {"steps": BIRTH, "active": "1"} | {k: v.replace("DAMAGED", damaged) for k, v in typed.items()}
    message = message.replace("DAMAGED", damaged)
    before, rev = versions(dash_app), revision(dash_app)
    r = await post(dash, path, token, **form)
    html = await r.text()
    assert r.status == 400 and 'id="form-error"' in html and "Chưa lưu gì, vì:" in html
    assert message in html, html[html.find('id="form-error"') :][:600]
    assert (versions(dash_app), revision(dash_app)) == (before, rev)
    shown = [form[k].split("\n")[0] for k in typed if form[k].strip() and len(form[k]) < 1000]
    assert all(v in html for v in shown)  # what was typed stays in the form


async def test_every_problem_is_listed_at_once(dash, dash_app, admin):
    _, token = admin
    before = versions(dash_app)
    r = await post(dash, "/admin/vocabulary/events", token, id="sinh_con", title="", triggers="!!", steps="9.9\nabc")
    html = await r.text()
    assert r.status == 400 and html.count("<li>") >= 5
    for message in ("bị trùng", "thiếu tên sự kiện", "không có chữ nào", "bước 1: không có thủ tục", "bước 2: “abc”"):
        assert message in html
    assert versions(dash_app) == before


def test_the_domain_refuses_malformed_data_and_saves_nothing(dash_app):
    before, rev = versions(dash_app), revision(dash_app)
    cases = [
        (LIFE_EVENTS, {"sinh_con": {}}, "Dữ liệu sự kiện phải là một danh sách."),
        (LIFE_EVENTS, ["sinh_con"], "Sự kiện thứ 1: dữ liệu không hợp lệ."),
        (LIFE_EVENTS, [{"id": "x", "title": "T", "triggers": "abc", "steps": [BIRTH]}], "phải là một danh sách"),
        (LIFE_EVENTS, [{"id": "x", "title": "T", "triggers": ["a"], "steps": [{"code": 5}]}], "bước 1: dữ liệu không"),
        (LIFE_EVENTS, [{"id": "x", "title": 7, "triggers": [None], "steps": [{"code": BIRTH}]}], "thiếu tên sự kiện"),
        (EVERYDAY, [BIRTH], "Dữ liệu tên gọi phải là một bảng"),
        (EVERYDAY, {BIRTH: "làm khai sinh"}, "tên gọi phải là một danh sách"),
        (EVERYDAY, {f"1.{i:06d}": ["x"] for i in range(2001)}, "Tối đa 2000 thủ tục có tên gọi."),
    ]
    for kind, data, message in cases:
        with pytest.raises(VocabularyError) as e:
            vocab.edit(dash_app.factory, kind, lambda _, data=data: data, "kiem-thu")
        assert any(message in p for p in e.value.problems), (message, e.value.problems)
    with pytest.raises(LookupError):
        vocab.revert(dash_app.factory, EVERYDAY, 10**8, "kiem-thu")
    assert (versions(dash_app), revision(dash_app)) == (before, rev)


def test_the_table_matches_its_migration(dash_app):
    with dash_app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    assert [d for d in diff if "kb_vocabulary" in repr(d)] == []


# ---- in a real browser -------------------------------------------------------------------------------------------


async def test_an_admin_adds_a_phrase_to_an_event_in_the_browser(dash_app, server, page, screenshots):
    await log_in(page, server, account(dash_app, "admin"))
    await page.goto(url(server, "/admin/vocabulary"))
    await page.locator("#event-sinh_con").get_by_role("link", name="Sửa").click()
    await expect(page.get_by_role("heading", name="Sự kiện sinh_con")).to_be_visible()
    triggers = page.get_by_label("Cụm từ nhận biết")
    await triggers.fill(await triggers.input_value() + "\nnhà vừa có thêm thành viên")
    steps = page.get_by_label("Các bước theo thứ tự")
    await steps.fill(await steps.input_value() + "\n9.999999 — không có")
    await page.get_by_role("button", name="Lưu sự kiện").click()
    await expect(page.get_by_role("alert")).to_contain_text("bước 4: không có thủ tục nào mã “9.999999”")
    await expect(triggers).to_have_value(re.compile("nhà vừa có thêm thành viên$"))  # what was typed is kept
    await steps.fill((await steps.input_value()).rsplit("\n", 1)[0])
    await page.get_by_label("Ghi chú thay đổi").fill("Người dân hay nói vậy")
    await page.get_by_role("button", name="Lưu sự kiện").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã lưu phiên bản mới")
    assert dash_app.kb.events.detect("nhà vừa có thêm thành viên").id == "sinh_con"
    await page.get_by_role("link", name="Xem lịch sử").click()
    await expect(page.locator("#versions li.card").first).to_contain_text("Người dân hay nói vậy")
    await expect(page.locator("#versions li.card").first.locator("li.added")).to_contain_text(
        "sinh_con: cụm từ “nhà vừa có thêm thành viên”"
    )
    await shoot(page, screenshots, dash_app, "vocabulary.png")


# ---- kb check --------------------------------------------------------------------------------------------------------


async def test_kb_check_lists_the_codes_of_the_vocabulary_in_use_and_revert_checks_too(dash, dash_app, admin):
    """`kb check` reads the versions in use, not the bundled files: a version naming a code that is no longer a
    searchable procedure (stored here without the checks, as if the procedure had gone since) is reported; and
    reverting to it is refused."""
    with dash_app.factory() as s:
        in_use = {kind: vocab.in_use(s, kind) for kind in (LIFE_EVENTS, EVERYDAY)}
    gone = "9.999998"
    event = {"id": "cu", "title": "Cũ", "triggers": ["việc cũ"], "steps": [{"code": gone, "note": ""}]}
    broken = {LIFE_EVENTS: [*in_use[LIFE_EVENTS], event], EVERYDAY: in_use[EVERYDAY] | {gone: ["tên cũ"]}}
    at = datetime.now(UTC)
    try:
        with dash_app.factory.begin() as s:
            for kind, data in broken.items():
                s.execute(insert(kb_vocabulary).values(kind=kind, data=data, at=at, actor="kiem-thu"))
        broken_id = newest(dash_app, EVERYDAY)["id"]
        r = subprocess.run(
            [sys.executable, "-m", "bot", "kb", "check"],
            env={**os.environ, "DATABASE_URL": dash_app.settings.db_url, "DATA_DIR": str(dash_app.settings.data_dir)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        assert f"everyday name of {gone}: no such procedure" in r.stdout
        assert f"life event cu: no procedure {gone}" in r.stdout
    finally:
        with dash_app.factory.begin() as s:
            for kind, data in in_use.items():
                s.execute(insert(kb_vocabulary).values(kind=kind, data=data, at=at, actor="kiem-thu"))
    before = versions(dash_app)
    r = await post(dash, "/admin/vocabulary/history/everyday/revert", admin[1], version=str(broken_id))
    html = await r.text()
    assert r.status == 400 and f"Tên gọi của mã “{gone}”: không có thủ tục nào mã “{gone}”." in html
    assert versions(dash_app) == before


# ---- inert rendering ---------------------------------------------------------------------------------------------


async def test_markup_in_titles_phrases_names_and_notes_is_shown_inert(dash, dash_app, admin):
    _, token = admin
    event_id = f"thu_{uuid.uuid4().hex[:6]}"
    r = await post(
        dash,
        "/admin/vocabulary/events",
        token,
        id=event_id,
        title=f"{SCRIPT} sự kiện",
        triggers=f"{IMG} việc lạ",
        steps=f"{BIRTH} — {JS}",
        note=SCRIPT,
    )
    assert r.status == 303
    r = await post(dash, "/admin/vocabulary/everyday", token, code="1.000656", names=f"{IMG}\n{JS} tên", note=IMG)
    assert r.status == 303
    pages = (
        "/admin/vocabulary",
        f"/admin/vocabulary/events/{event_id}",
        "/admin/vocabulary/everyday",
        "/admin/vocabulary/everyday/1.000656",
        "/admin/vocabulary/history/life_events",
        "/admin/vocabulary/history/everyday",
        "/admin/audit",
    )
    for path in pages:
        html = await (await dash.get(path)).text()
        assert SCRIPT not in html and IMG not in html and 'href="javascript:' not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    # a refused form shows the typed markup inert too
    r = await post(dash, "/admin/vocabulary/events", token, id=event_id, title=SCRIPT, triggers=IMG, steps=JS)
    html = await r.text()
    assert r.status == 400 and SCRIPT not in html and IMG not in html and "&lt;script&gt;" in html
