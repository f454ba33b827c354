"""Procedures for admins (/admin/kb): search and list, one record as citizens see it beside its fields, edits with
a diff before saving, history and revert.

The list searches with the bot's own search (`app.kb.search`) plus an exact code, and filters by field, level and
the problems `kb check` finds (`knowledge.integrity.check`), damaged records included and marked. A record's page
shows the cards the dialog sends (`Answers.card`, the same function), its text inert and its buttons as plain
labels. An edit goes form → preview (the diff field by field) → save; the form carries the record's content hash,
and a record saved meanwhile by someone else is refused (409) with what they changed and the edit re-applied on
top of it. Saving goes through `store.save_procedures` (change history, revision bump) and `app.kb.refresh()`, so
the bot answers from the edit at once; every save and revert is in the staff audit log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlencode
from weakref import WeakKeyDictionary

from aiohttp import web

from bot.app import App
from dashboard.admin import admin_only, changed, db, path_id, text
from dashboard.filters import moment
from dashboard.web import PREFIX, app_of, not_found, render, see_other, staff_of
from handlers.state import State
from knowledge import editing, integrity, store
from knowledge.answer import ASPECT_TITLES
from knowledge.editing import CODE, EditError, Stale
from knowledge.kb import KnowledgeBase
from knowledge.model import Procedure
from knowledge.store import content_hash

PER_PAGE = 50
SEARCH_HITS = 50
MAX_QUERY = 300
LONG = 800  # characters: a field longer than this is folded on the record page
# What `kb check` finds, by kind (the field of an integrity.Problem; "gaps" for an aspect the portal page holds).
PROBLEMS = {
    "damaged": "Hồ sơ hỏng: không được tìm, không dùng để trả lời",
    "page_code": "Trang Cổng hiển thị mã của thủ tục khác",
    "name": "Tên trống hoặc trùng tên thủ tục khác",
    "fee": "Phí ghi “Miễn phí” nhưng ghi chú nêu mức thu, văn bản hoặc do tỉnh quy định",
    "time": "Thời hạn không có đơn vị (ngày, giờ…)",
    "documents": "Thành phần hồ sơ lẫn nội dung các bước",
    "gaps": "Trang Cổng có nội dung này nhưng hồ sơ không có",
}
DONE = {
    "kb_edit": "Đã lưu. Trợ lý trả lời theo nội dung mới ngay từ câu hỏi tiếp theo.",
    "kb_revert": "Đã khôi phục các giá trị cũ. Trợ lý trả lời theo nội dung này ngay từ câu hỏi tiếp theo.",
    "kb_none": "Không có gì để khôi phục: các trường của thay đổi đó đang có đúng giá trị trước thay đổi.",
}
STALE = "Thủ tục vừa được người khác sửa trong lúc bạn sửa, nên chưa lưu. Dưới đây là điều họ đã đổi và thay đổi của bạn áp vào bản mới nhất: hãy xem lại rồi lưu."  # noqa: E501
STALE_REVERT = "Thủ tục vừa được người khác sửa, nên chưa khôi phục. Trang đã cập nhật bản mới nhất: hãy xem lại lịch sử rồi khôi phục nếu vẫn cần."  # noqa: E501
LOOK_AGAIN = "Bạn đã sửa thêm sau lần xem trước: hãy xem lại thay đổi dưới đây rồi lưu."


# ---- the list: every record with its problems, rebuilt when the KB's revision changes ----------------------------


@dataclass(frozen=True, slots=True)
class Shown:
    """A problem as the page says it: its kind, where in the record, and `kb check`'s own words."""

    kind: str
    label: str
    where: str
    detail: str
    damaged: bool


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    name: str
    domain: str
    levels: tuple[str, ...]
    damaged: bool
    problems: tuple[Shown, ...]

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems} | ({"damaged"} if self.damaged else set())


@dataclass(frozen=True, slots=True)
class Catalog:
    revision: int
    entries: tuple[Entry, ...]
    by_code: dict[str, Entry]
    domains: tuple[str, ...]
    levels: tuple[str, ...]


_CATALOGS: WeakKeyDictionary[KnowledgeBase, Catalog] = WeakKeyDictionary()


def shown_problem(problem: integrity.Problem, p: Procedure) -> Shown:
    field, _, where = problem.field.partition(" (")
    if problem.field in p.page_gaps:
        return Shown("gaps", PROBLEMS["gaps"], ASPECT_TITLES.get(problem.field, problem.field), problem.message, False)
    label = PROBLEMS.get(field, field)  # a kind `kb check` learns later shows under its field's name
    label = f"{PROBLEMS['damaged']} — {label}" if problem.damaged else label
    return Shown(field, label, where.rstrip(")"), problem.message, problem.damaged)


def catalog(app: App) -> Catalog:
    """Every record (damaged ones too) with its problems, judged over the whole KB; kept until the revision
    changes."""
    with app.factory() as session:
        revision = store.current_revision(session)
        cached = _CATALOGS.get(app.kb)
        if cached is not None and cached.revision == revision:
            return cached
        procs = store.load_all(session)
    found = defaultdict(list)
    for problem in integrity.check(procs):
        found[problem.code].append(problem)
    entries = tuple(
        Entry(
            p.code, p.name, p.domain, tuple(p.levels), bool(p.flags), tuple(shown_problem(x, p) for x in found[p.code])
        )
        for p in procs
    )
    domains = tuple(sorted({e.domain for e in entries if e.domain}))
    levels = editing.LEVELS + tuple(sorted({lv for p in procs for lv in p.levels} - set(editing.LEVELS)))
    made = Catalog(revision, entries, {e.code: e for e in entries}, domains, levels)
    _CATALOGS[app.kb] = made
    return made


def _found(app: App, cat: Catalog, q: str) -> list[Entry]:
    """The bot's search, an exact code first."""
    codes = [q] if CODE.fullmatch(q) else []
    codes += app.kb.search(q, k=SEARCH_HITS).codes
    return [cat.by_code[c] for c in dict.fromkeys(codes) if c in cat.by_code]


@admin_only
async def list_page(request: web.Request) -> web.StreamResponse:
    app = app_of(request)
    query = {k: request.query.get(k, "").strip() for k in ("q", "domain", "level", "problem")}
    if len(query["q"]) > MAX_QUERY:
        return _list(request, None, query, [], f"Từ khóa tìm kiếm quá dài (tối đa {MAX_QUERY} ký tự).")
    cat = await db(catalog, app)
    entries = await db(_found, app, cat, query["q"]) if query["q"] else list(cat.entries)
    if query["domain"]:
        entries = [e for e in entries if e.domain == query["domain"]]
    if query["level"]:
        entries = [e for e in entries if query["level"] in e.levels]
    if query["problem"] == "any":
        entries = [e for e in entries if e.kinds]
    elif query["problem"]:
        entries = [e for e in entries if query["problem"] in e.kinds]
    return _list(request, cat, query, entries)


def _list(request: web.Request, cat: Catalog | None, query: dict, entries: list[Entry], error: str | None = None):
    raw = request.query.get("page", "1")
    pages = max(1, -(-len(entries) // PER_PAGE))
    page = min(int(raw), pages) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1
    kept = {k: v for k, v in query.items() if v}
    context = {
        "query": query,
        "entries": entries[(page - 1) * PER_PAGE : page * PER_PAGE],
        "total": len(entries),
        "page": page,
        "pages": pages,
        "page_url": lambda n: f"{PREFIX}/kb?" + urlencode(kept | ({"page": n} if n > 1 else {})),
        "domains": cat.domains if cat else (),
        "levels": cat.levels if cat else editing.LEVELS,
        "problems": PROBLEMS,
        "error": error,
    }
    return render(request, "kb_list.html", context, status=400 if error else 200)


# ---- one record ------------------------------------------------------------------------------------------------


def _code(request: web.Request) -> str:
    code = request.match_info["code"]
    if not CODE.fullmatch(code) or len(code) > 32:
        raise web.HTTPNotFound()
    return code


def _cards(app: App, code: str) -> list[tuple[str, object]]:
    """The cards the bot sends for this procedure: asked by name, then asked about each aspect."""
    if app.kb.get(code) is None:
        return []
    card = app.dialog.answers.card
    cards = [("Khi người dân hỏi tên thủ tục", card(State(), code))]
    cards += [(f"Khi hỏi về: {title.lower()}", card(State(), code, (a,))) for a, title in ASPECT_TITLES.items()]
    return cards


def _record(app: App, code: str) -> dict | None:
    with app.factory() as session:
        found = editing.load(session, code)
        if found is None:
            return None
        proc, digest = found
        history = editing.history(session, code)
    data = store.stored_data(proc)
    fields = [(f.label, editing.display(f.name, data.get(f.name))) for f in editing.FIELDS]
    entry = catalog(app).by_code.get(code)
    return {
        "proc": proc,
        "hash": digest,
        "fields": fields + [(editing.LABELS["flags"], editing.display("flags", data.get("flags")))],
        "problems": entry.problems if entry else (),
        "history": history,
        "cards": _cards(app, code),
        "long": LONG,
    }


async def _record_page(request: web.Request, code: str, error: str | None = None, status: int = 200):
    context = await db(_record, app_of(request), code)
    if context is None:
        return not_found(request)
    done = None if error else DONE.get(request.query.get("done", ""))
    return render(request, "kb_record.html", context | {"error": error, "done": done}, status=status)


@admin_only
async def record_page(request: web.Request) -> web.StreamResponse:
    return await _record_page(request, _code(request))


# ---- editing ---------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """A submitted edit read against the stored record: what the page shows next."""

    current: Procedure
    digest: str  # the current content hash (the one the next form carries)
    proposal: Procedure  # the record the edit makes (re-applied on the current one after a conflict)
    stale: bool = False
    theirs: list | None = None  # what someone else changed meanwhile (when their starting point is known)
    both: list[str] | None = None  # labels of fields both changed


def _read(app: App, code: str, values: dict, digest: str) -> Outcome | None:
    with app.factory() as session:
        found = editing.load(session, code)
        if found is None:
            return None
        current, now = found
        base = current if digest == now else editing.version(session, code, digest)
    edited = editing.read_form(values, base or current)
    if digest == now:
        return Outcome(current, now, edited)
    if base is None:  # too old or not a hash of this record: the whole form is taken as the edit
        return Outcome(current, now, edited, stale=True)
    proposal, both = editing.rebased(base, edited, current)
    labels = [editing.LABELS[k] for k in both]
    return Outcome(current, now, proposal, stale=True, theirs=editing.diff(base, current), both=labels)


def _edit_page(request: web.Request, code: str, context: dict, status: int = 200) -> web.Response:
    shared = {
        "code": code,
        "fields": editing.FIELDS,
        "columns": editing.COLUMNS,
        "aspects": ASPECT_TITLES,
        "diff": None,
        "previewed": "",
        "error": None,
        "notice": None,
        "outcome": None,
    }
    return render(request, "kb_edit.html", shared | context, status=status)


def _choices(app: App) -> dict:
    cat = catalog(app)
    return {"domains": cat.domains, "levels": cat.levels}


@admin_only
async def edit_page(request: web.Request) -> web.StreamResponse:
    code, app = _code(request), app_of(request)

    def load():
        with app.factory() as session:
            return editing.load(session, code)

    found = await db(load)
    if found is None:
        return not_found(request)
    proc, digest = found
    context = {"values": editing.form_values(proc), "hash": digest} | await db(_choices, app)
    return _edit_page(request, code, context)


def _shown_outcome(outcome: Outcome) -> dict:
    """The edit page after a submission: the diff against the stored record, the form holding the proposal."""
    proposal = outcome.proposal
    return {
        "values": editing.form_values(proposal),
        "hash": outcome.digest,
        "diff": editing.diff(outcome.current, proposal),
        "previewed": content_hash(store.stored_data(proposal)),
        "outcome": outcome,
        "error": STALE if outcome.stale else None,
    }


async def _submitted(request: web.Request, code: str, saving: bool) -> web.StreamResponse:
    app = app_of(request)
    form = await request.post()
    digest = text(form, "hash")
    try:
        values = editing.typed(form)
    except EditError as e:  # not a whole form, or not text: nothing of it can be shown back
        return await _record_page(request, code, e.vi, status=400)
    choices = await db(_choices, app)
    try:
        outcome = await db(_read, app, code, values, digest)
    except EditError as e:
        return _edit_page(request, code, {"values": values, "hash": digest, "error": e.vi} | choices, status=400)
    if outcome is None:
        return not_found(request)
    page = _shown_outcome(outcome) | choices
    if outcome.stale:
        return _edit_page(request, code, page, status=409)
    if not saving or not page["diff"]:
        return _edit_page(request, code, page)
    if text(form, "previewed") != page["previewed"]:
        return _edit_page(request, code, page | {"notice": LOOK_AGAIN})
    proposal = outcome.proposal
    try:
        fields = await db(editing.save, app.factory, proposal, outcome.digest, staff_of(request).account.username)
    except Stale:  # saved by someone else between the check and the write: read against their version
        outcome = await db(_read, app, code, values, digest)
        return _edit_page(request, code, _shown_outcome(outcome) | choices, status=409)
    app.kb.refresh()
    detail = f"{proposal.name[:100]} — sửa: {', '.join(editing.LABELS[k] for k in fields)}"
    return await changed(request, "kb_edit", code, detail, f"{PREFIX}/kb/{code}")


@admin_only
async def preview(request: web.Request) -> web.StreamResponse:
    return await _submitted(request, _code(request), saving=False)


@admin_only
async def save(request: web.Request) -> web.StreamResponse:
    return await _submitted(request, _code(request), saving=True)


@admin_only
async def revert(request: web.Request) -> web.StreamResponse:
    code, change_id, app = _code(request), path_id(request), app_of(request)
    digest = text(await request.post(), "hash")

    def load():
        with app.factory() as session:
            return editing.load(session, code), editing.change(session, code, change_id)

    found, past = await db(load)
    if found is None or past is None:
        return not_found(request)
    if past["action"] != "update" or not past["before"]:
        return await _record_page(
            request, code, "Thay đổi này là lần tạo thủ tục: không có giá trị cũ để khôi phục.", 400
        )
    try:
        proc = editing.reverted(found[0], past["before"])
        actor = staff_of(request).account.username
        fields = await db(editing.save, app.factory, proc, digest, actor)
    except EditError as e:
        return await _record_page(request, code, e.vi, status=400)
    except Stale:
        return await _record_page(request, code, STALE_REVERT, status=409)
    if not fields:
        return see_other(f"{PREFIX}/kb/{code}?done=kb_none")
    app.kb.refresh()
    labels = ", ".join(editing.LABELS[k] for k in fields)
    detail = f"khôi phục thay đổi #{change_id} ({past['actor']}, {moment(past['at'])}): {labels}"
    return await changed(request, "kb_revert", code, detail, f"{PREFIX}/kb/{code}")


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/kb", list_page)
    router.add_get(f"{PREFIX}/kb/{{code}}", record_page)
    router.add_post(f"{PREFIX}/kb/{{code}}", save)
    router.add_get(f"{PREFIX}/kb/{{code}}/edit", edit_page)
    router.add_post(f"{PREFIX}/kb/{{code}}/preview", preview)
    router.add_post(f"{PREFIX}/kb/{{code}}/revert/{{id}}", revert)
