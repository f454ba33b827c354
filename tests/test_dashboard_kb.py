"""Procedures for admins (/admin/kb): the list (the bot's search, filters by field, level and problem), a record as
citizens see it, edits through a diff, history and revert; an edit is live in the dialog at once. Over HTTP on
SQLite and PostgreSQL (one app per module, so these edits stay here)."""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser

import pytest
from citizen import Citizen
from dashboard_util import account, login
from markupsafe import escape
from multidict import MultiDict
from sqlalchemy import desc, select

from dashboard.tables import staff_audit
from handlers.state import State
from knowledge import editing, integrity, store
from knowledge.model import Channel, Document, Procedure

KHAI_SINH = "1.001193"  # Thủ tục đăng ký khai sinh: "Miễn phí" on each channel, "1" without a unit as its time
DAMAGED = "3.000224"  # its portal page shows 1.014023
FEE_QUESTION = "lệ phí đăng ký khai sinh bao nhiêu"
NEW_FEE = "8.000 đồng/trường hợp"
HOSTILE = "9.900001"
SCRIPT, IMG, JS = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)"


class FormFields(HTMLParser):
    """The fields the page's edit form (#kb-form) submits, as a browser would (unticked boxes left out)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.inside, self.fields, self._area = False, [], None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "kb-form"
        elif self.inside and tag == "input" and a.get("name"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append([a["name"], a.get("value") or ""])
        elif self.inside and tag == "textarea":
            self._area = [a["name"], ""]

    def handle_data(self, data):
        if self._area is not None:
            self._area[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._area is not None:
            name, value = self._area
            self.fields.append([name, value.removeprefix("\n")])  # the parser drops the first line end too
            self._area = None
        elif tag == "form":
            self.inside = False

    def set(self, name: str, value: str, nth: int = 0) -> FormFields:
        [pair for pair in self.fields if pair[0] == name][nth][1] = value
        return self

    def get(self, name: str) -> str:
        return next(v for k, v in self.fields if k == name)

    def data(self, token: str, **extra) -> MultiDict:
        return MultiDict([("csrf", token), *[(k, v) for k, v in self.fields if k != "csrf"], *extra.items()])


@pytest.fixture
async def admin(dash, dash_app):
    """`dash` logged in as a new admin: (username, CSRF token)."""
    name = account(dash_app, "admin")
    return name, await login(dash, name)


async def form_of(dash, code: str) -> FormFields:
    r = await dash.get(f"/admin/kb/{code}/edit")
    assert r.status == 200
    return FormFields(await r.text())


def stored(app, code: str) -> tuple[Procedure, str]:
    with app.factory() as s:
        return editing.load(s, code)


def changes(app, code: str) -> list[dict]:
    with app.factory() as s:
        return store.history(s, code)


def last_audit(app, action: str):
    with app.factory() as s:
        q = select(staff_audit).where(staff_audit.c.action == action).order_by(desc(staff_audit.c.id)).limit(1)
        return s.execute(q).first()


def fee_answer(app) -> str:
    """What a new citizen is told when asking the fee of the birth registration."""
    return Citizen(app.conversations).say(FEE_QUESTION).text


async def edit(dash, token: str, code: str, form: FormFields):
    """Preview, then save what was previewed: the save's response."""
    r = await dash.post(f"/admin/kb/{code}/preview", data=form.data(token))
    assert r.status == 200, await r.text()
    previewed = FormFields(await r.text())
    return await dash.post(f"/admin/kb/{code}", data=previewed.data(token), allow_redirects=False)


# ---- access ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_staff_and_supervisors_get_403_everywhere_and_change_nothing(dash, dash_app, role):
    token = await login(dash, account(dash_app, role, ["Sở Tư pháp"]))
    before = stored(dash_app, KHAI_SINH)
    for path in ("/admin/kb", "/admin/kb?q=khai+sinh", f"/admin/kb/{KHAI_SINH}", f"/admin/kb/{KHAI_SINH}/edit"):
        r = await dash.get(path)
        assert r.status == 403 and "không có quyền" in await r.text(), path
    for path in (f"/admin/kb/{KHAI_SINH}/preview", f"/admin/kb/{KHAI_SINH}", f"/admin/kb/{KHAI_SINH}/revert/1"):
        r = await dash.post(path, data={"csrf": token, "hash": before[1], "name": "Đổi tên"})
        assert r.status == 403, path
    assert stored(dash_app, KHAI_SINH) == before


async def test_every_post_needs_the_csrf_token(dash, dash_app, admin):
    form = await form_of(dash, KHAI_SINH)
    before = stored(dash_app, KHAI_SINH)
    form.set("name", "Tên mới")
    for token in (None, "giả-mạo"):
        for path in (f"/admin/kb/{KHAI_SINH}/preview", f"/admin/kb/{KHAI_SINH}", f"/admin/kb/{KHAI_SINH}/revert/1"):
            data = form.data(token or "")
            if token is None:
                data.popall("csrf")
            r = await dash.post(path, data=data, allow_redirects=False)
            assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text(), path
    assert stored(dash_app, KHAI_SINH) == before


# ---- the list --------------------------------------------------------------------------------------------------


def codes_of(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([\d.]+)"', html)


async def test_search_like_the_bot_and_by_exact_code(dash, dash_app, admin):
    question = "làm giấy khai sinh cho con"
    html = await (await dash.get("/admin/kb", params={"q": question})).text()
    assert codes_of(html)[0] == KHAI_SINH and codes_of(html) == dash_app.kb.search(question, k=50).codes
    assert codes_of(await (await dash.get("/admin/kb", params={"q": KHAI_SINH})).text())[0] == KHAI_SINH
    # a damaged record is found by its code (search leaves it out), and shown as damaged
    html = await (await dash.get("/admin/kb", params={"q": DAMAGED})).text()
    assert codes_of(html)[0] == DAMAGED and f'<tr data-code="{DAMAGED}" class="damaged">' in html
    r = await dash.get("/admin/kb", params={"q": "x" * 301})
    assert r.status == 400 and "Từ khóa tìm kiếm quá dài" in await r.text()


async def test_filters_by_field_level_and_problem_with_pages(dash, dash_app, admin):
    with dash_app.factory() as s:
        procs = {p.code: p for p in store.load_all(s)}
    html = await (await dash.get("/admin/kb", params={"domain": "Hộ tịch", "level": "Cấp xã"})).text()
    expected = sorted(c for c, p in procs.items() if p.domain == "Hộ tịch" and "Cấp xã" in p.levels)
    assert 0 < len(expected) <= 50 and codes_of(html) == expected
    html = await (await dash.get("/admin/kb", params={"problem": "damaged"})).text()
    assert codes_of(html) == sorted(c for c, p in procs.items() if p.flags) and "Hỏng, không dùng để trả lời" in html
    html = await (await dash.get("/admin/kb", params={"problem": "time"})).text()
    assert KHAI_SINH in codes_of(html) and "Thời hạn không có đơn vị" in html  # the filter's own label
    first = await (await dash.get("/admin/kb", params={"problem": "any"})).text()
    assert f"{len({p.code for p in integrity.check(procs.values())})} thủ tục" in first
    assert 'rel="next" href="/admin/kb?problem=any&amp;page=2"' in first
    second = await (await dash.get("/admin/kb", params={"problem": "any", "page": "2"})).text()
    assert len(codes_of(first)) == 50 and not set(codes_of(first)) & set(codes_of(second))
    assert 'rel="prev" href="/admin/kb?problem=any"' in second
    assert (await dash.get("/admin/kb", params={"page": "nhiều"})).status == 200  # a bad page number: the first


# ---- one record ------------------------------------------------------------------------------------------------


async def test_record_page_shows_the_bots_cards_its_fields_problems_and_history(dash, dash_app, admin):
    html = await (await dash.get(f"/admin/kb/{KHAI_SINH}")).text()
    card = dash_app.dialog.answers.card(State(), KHAI_SINH)
    fee_card = dash_app.dialog.answers.card(State(), KHAI_SINH, ("fee",))
    for reply in (card, fee_card):
        assert f'<div class="pre bot-text">{escape(reply.text)}</div>' in html
    for b in card.buttons:  # plain labels: nothing to press, no link
        assert f'<span class="chip">{escape(b.label)}</span>' in html
    assert '<a href="https://dichvucong' not in html
    assert "Thời hạn không có đơn vị" in html and "Trực tuyến" in html  # integrity.check's problem, where
    assert "Trình tự thực hiện" in html and "Tạo mới" in html and "bundle" in html  # fields; the history
    damaged = await (await dash.get(f"/admin/kb/{DAMAGED}")).text()
    assert 'id="damaged"' in damaged and "bot-text" not in damaged and "1.014023" in damaged
    assert (await dash.get("/admin/kb/9.999999")).status == 404
    assert (await dash.get("/admin/kb/không-phải-mã")).status == 404


async def test_record_text_is_shown_inert(dash, dash_app, admin):
    hostile = Procedure(
        code=HOSTILE,
        name=f"Thủ tục thử {SCRIPT}",
        url=JS,
        levels=["Cấp xã"],
        domain=f"Lĩnh vực {IMG}",
        steps=[f'Bấm <a href="{JS}">vào đây</a>'],
        documents=[Document(name=f"Tờ khai {IMG}")],
        channels=[Channel(name="Trực tiếp", time="5 ngày", fee=f"Miễn phí {SCRIPT}")],
    )
    store.save_procedures(dash_app.factory, [hostile], actor=f"nhập {SCRIPT}")
    dash_app.kb.refresh()
    _, token = admin
    form = await form_of(dash, HOSTILE)
    preview = await dash.post(f"/admin/kb/{HOSTILE}/preview", data=form.set("name", f"Tên {IMG}").data(token))
    pages = [await (await dash.get(p)).text() for p in ("/admin/kb?q=" + HOSTILE, f"/admin/kb/{HOSTILE}")]
    pages += [await (await dash.get(f"/admin/kb/{HOSTILE}/edit")).text(), await preview.text()]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript' not in html.lower()
        assert "&lt;script&gt;" in html or "&lt;img" in html
    assert "bot-text" in pages[1]  # the card is there, as text


# ---- edits -----------------------------------------------------------------------------------------------------


async def test_a_form_saved_unchanged_changes_nothing(dash, dash_app, admin):
    _, token = admin
    for code in ("2.001538", KHAI_SINH, DAMAGED):  # the largest record, tables and all; a damaged one
        before, n = stored(dash_app, code), len(changes(dash_app, code))
        form = await form_of(dash, code)
        r = await dash.post(f"/admin/kb/{code}/preview", data=form.data(token))
        html = await r.text()
        assert r.status == 200 and 'id="no-change"' in html and 'id="save-button"' not in html
        r = await dash.post(f"/admin/kb/{code}", data=form.data(token), allow_redirects=False)
        assert r.status == 200 and 'id="no-change"' in await r.text()
        assert stored(dash_app, code) == before and len(changes(dash_app, code)) == n


async def test_preview_shows_the_diff_and_changes_nothing(dash, dash_app, admin):
    _, token = admin
    before, n = stored(dash_app, KHAI_SINH), len(changes(dash_app, KHAI_SINH))
    form = await form_of(dash, KHAI_SINH)
    form.set("channels-fee", NEW_FEE).set("aliases", "làm giấy khai sinh cho bé")
    r = await dash.post(f"/admin/kb/{KHAI_SINH}/preview", data=form.data(token))
    html = await r.text()
    assert r.status == 200 and 'id="save-button"' in html
    diff = html.split('id="kb-diff"')[1].split("</section>")[0]
    assert "Cách thức thực hiện: thời hạn, phí, lệ phí" in diff and "Tên gọi khác" in diff
    assert "<del>Miễn phí</del>" in diff and f"<ins>{NEW_FEE}</ins>" in diff and "làm giấy khai sinh cho bé" in diff
    assert "Tên thủ tục" not in diff  # only what changed
    r = await dash.post(f"/admin/kb/{KHAI_SINH}", data=form.data(token), allow_redirects=False)  # not previewed
    assert r.status == 200 and "Bạn đã sửa thêm sau lần xem trước" in await r.text()
    assert stored(dash_app, KHAI_SINH) == before and len(changes(dash_app, KHAI_SINH)) == n
    assert "Miễn phí" in fee_answer(dash_app)


async def test_an_edit_is_live_and_a_revert_brings_the_old_fee_back(dash, dash_app, admin):
    me, token = admin
    assert "Miễn phí" in fee_answer(dash_app) and NEW_FEE not in fee_answer(dash_app)
    form = await form_of(dash, KHAI_SINH)
    for i in range(3):  # each channel: Trực tuyến, Dịch vụ bưu chính, Trực tiếp
        form.set("channels-fee", NEW_FEE, nth=i)
    r = await edit(dash, token, KHAI_SINH, form)
    assert r.status == 303 and r.headers["Location"] == f"/admin/kb/{KHAI_SINH}?done=kb_edit"
    change = changes(dash_app, KHAI_SINH)[-1]
    assert (change["actor"], change["action"], change["fields"]) == (me, "update", ["channels"])
    assert {c["fee"] for c in change["before"]["channels"]} == {"Miễn phí"}
    entry = last_audit(dash_app, "kb_edit")
    assert (entry.actor, entry.target) == (me, KHAI_SINH) and "Cách thức thực hiện" in entry.detail
    answer = fee_answer(dash_app)
    assert NEW_FEE in answer and "Miễn phí" not in answer  # live: no restart
    page = await (await dash.get(r.headers["Location"])).text()
    assert "Đã lưu." in page and NEW_FEE in page
    revert = re.search(rf'action="(/admin/kb/{KHAI_SINH}/revert/{change["id"]})"', page).group(1)
    digest = re.search(r'name="hash" value="([0-9a-f]{64})"', page).group(1)
    r = await dash.post(revert, data={"csrf": token, "hash": digest}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/admin/kb/{KHAI_SINH}?done=kb_revert"
    back = changes(dash_app, KHAI_SINH)[-1]
    assert (back["actor"], back["fields"]) == (me, ["channels"]) and back["id"] > change["id"]
    assert {c["fee"] for c in back["before"]["channels"]} == {NEW_FEE}
    assert f"khôi phục thay đổi #{change['id']}" in last_audit(dash_app, "kb_revert").detail
    answer = fee_answer(dash_app)
    assert "Miễn phí" in answer and NEW_FEE not in answer
    r = await dash.post(revert, data={"csrf": token, "hash": stored(dash_app, KHAI_SINH)[1]}, allow_redirects=False)
    assert r.headers["Location"].endswith("?done=kb_none")  # reverted already: nothing to do


async def test_a_stale_form_is_refused_with_what_changed_meanwhile(dash, dash_app, admin):
    _, token = admin
    form = await form_of(dash, KHAI_SINH)
    store.add_text(dash_app.factory, KHAI_SINH, "questions", "đăng ký khai sinh ở đâu", actor="cli")
    meanwhile = stored(dash_app, KHAI_SINH)
    form.set("name", "Thủ tục đăng ký khai sinh (đã sửa)")
    for path in (f"/admin/kb/{KHAI_SINH}/preview", f"/admin/kb/{KHAI_SINH}"):
        r = await dash.post(path, data=form.data(token, previewed="x"), allow_redirects=False)
        html = await r.text()
        assert r.status == 409 and "người khác sửa" in html
        theirs = html.split('id="kb-theirs"')[1].split("</section>")[0]
        assert "Câu hỏi mẫu" in theirs and "đăng ký khai sinh ở đâu" in theirs
        assert "(đã sửa)" in html.split('id="kb-diff"')[1].split("</section>")[0]
        assert stored(dash_app, KHAI_SINH) == meanwhile
    again = FormFields(html)  # the edit re-applied on the new version, with its hash
    assert again.get("hash") == meanwhile[1] and "đăng ký khai sinh ở đâu" in again.get("questions")
    r = await dash.post(f"/admin/kb/{KHAI_SINH}", data=again.data(token), allow_redirects=False)
    assert r.status == 303
    proc = stored(dash_app, KHAI_SINH)[0]
    assert proc.name.endswith("(đã sửa)") and "đăng ký khai sinh ở đâu" in proc.questions  # both kept
    r = await dash.post(
        f"/admin/kb/{KHAI_SINH}/revert/{changes(dash_app, KHAI_SINH)[-1]['id']}",
        data={"csrf": token, "hash": meanwhile[1]},
    )
    assert r.status == 409 and "chưa khôi phục" in await r.text()
    assert stored(dash_app, KHAI_SINH)[0].name.endswith("(đã sửa)")


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "   ", "Tên thủ tục không được để trống."),
        ("name", "Tên " * 600, "quá dài: 2.400 ký tự (tối đa 2.000)"),
        ("conditions", "điều kiện " * 7000, "“Yêu cầu, điều kiện” quá dài"),
        ("url", JS, "Đường dẫn phải là một địa chỉ web"),
        ("page_code", "không phải mã", "Mã thủ tục trên trang Cổng phải có dạng"),
        ("documents-name", "", "“Thành phần hồ sơ”, dòng 1: thiếu tên giấy tờ."),
        ("levels", "Cấp vũ trụ", "“Cấp thực hiện”: giá trị “Cấp vũ trụ” không có trong danh sách."),
        ("result", "kết quả\x00\x01nhị phân", "chứa dữ liệu không phải văn bản"),
        ("documents-quantity", None, "Biểu mẫu gửi lên không đầy đủ"),
    ],
)
async def test_bad_input_is_refused_in_vietnamese_and_changes_nothing(dash, dash_app, admin, field, value, message):
    _, token = admin
    before = stored(dash_app, KHAI_SINH)
    form = await form_of(dash, KHAI_SINH)
    if value is not None and field != "levels":
        form.set(field, value)
    data = form.data(token)
    if value is None:  # one cell more in a column than the others: not the page's form
        data.add(field, "1 bản chính")
    elif field == "levels":
        data.add(field, value)
    for path in (f"/admin/kb/{KHAI_SINH}/preview", f"/admin/kb/{KHAI_SINH}"):
        r = await dash.post(path, data=data)
        assert r.status == 400 and message in await r.text(), (path, await r.text())
    assert stored(dash_app, KHAI_SINH) == before


async def test_revert_refuses_a_creation_and_an_unknown_change(dash, dash_app, admin):
    _, token = admin
    created = changes(dash_app, DAMAGED)[0]
    digest = stored(dash_app, DAMAGED)[1]
    r = await dash.post(f"/admin/kb/{DAMAGED}/revert/{created['id']}", data={"csrf": token, "hash": digest})
    assert r.status == 400 and "lần tạo thủ tục" in await r.text()
    r = await dash.post(f"/admin/kb/{KHAI_SINH}/revert/{created['id']}", data={"csrf": token, "hash": digest})
    assert r.status == 404  # another record's change
    assert stored(dash_app, DAMAGED)[1] == digest


# ---- the form itself, over every bundled record -----------------------------------------------------------------


def as_form(values: dict) -> MultiDict:
    form = MultiDict()
    for name, value in values.items():
        if editing.BY_NAME[name].kind == "table":
            for row in value:
                for column, _, _ in editing.COLUMNS[name]:
                    form.add(f"{name}-{column}", row[column])
        elif isinstance(value, list):
            for v in value:
                form.add(name, v)
        else:
            form.add(name, value)
    return form


def test_every_bundled_record_reads_back_unchanged_from_its_form():
    with gzip.open(store.BUNDLED_KB, "rt", encoding="utf-8") as f:
        procs = [Procedure.from_dict(json.loads(line)) for line in f]
    for p in procs:
        assert store.stored_data(
            editing.read_form(editing.typed(as_form(editing.form_values(p))), p)
        ) == store.stored_data(p)
    p = next(p for p in procs if p.code == KHAI_SINH)
    values = editing.form_values(p)
    values["channels"][2]["fee"] = NEW_FEE
    values["channels"][0]["time"] = "1 ngày làm việc"
    edited = editing.read_form(editing.typed(as_form(values)), p)
    assert [c.fee for c in edited.channels] == ["Miễn phí", "Miễn phí", NEW_FEE]
    assert (edited.channels[0].time_value, edited.channels[1].time_value) == ("", "1")  # the parser's reading goes
    assert [d.field for d in editing.diff(p, edited)] == ["channels"]
