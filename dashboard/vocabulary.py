"""The life-event map and the everyday names of procedures the search uses (/admin/vocabulary), edited and validated
by admins, with history (admins only).

Life events are edited one per form (title, trigger phrases one per line, steps as "code — note" one per line,
active or not), everyday names one procedure per form (names one per line): an admin changes one thing at a time
and never has to write JSON. Each save is a whole new version of its kind (knowledge.vocabulary), checked against
the procedures; a refused one shows every problem (400) and saves nothing. A save bumps the KB revision, so every
process searches with it from its next question; it is written to the staff audit log with what it changed.
"""

from __future__ import annotations

import re

from aiohttp import web
from multidict import MultiDictProxy

from dashboard.admin import admin_only, changed, db, text
from dashboard.web import PREFIX, app_of, not_found, render, see_other, staff_of
from knowledge import vocabulary as vocab
from knowledge.text import fold
from knowledge.vocabulary import EVERYDAY, KINDS, LIFE_EVENTS, VocabularyError

HERE = f"{PREFIX}/vocabulary"
MAX_FIELD, MAX_FIELD_TEXT = 20_000, "20.000"  # characters in one box of a form
SHOWN_PROBLEMS = 30
SHOWN_CHANGES = 20  # in the audit entry
STEP_LINE = re.compile(r"(\d[\d.]*)(?:[\s—–:-]+(.*))?")
# How the audit page names this page's actions (dashboard.admin names the others).
DONE = {
    "vocabulary_save": "Đã lưu phiên bản mới; trợ lý dùng nó từ câu hỏi tiếp theo.",
    "vocabulary_revert": "Đã khôi phục thành phiên bản mới; trợ lý dùng nó từ câu hỏi tiếp theo.",
    "unchanged": "Không có gì thay đổi: không lưu phiên bản mới.",
}


class _FormError(Exception):
    """A form box too large to read: refused before any check."""


def _box(form: MultiDictProxy, key: str, label: str) -> str:
    value = text(form, key)
    if len(value) > MAX_FIELD:
        raise _FormError(f"Ô “{label}” dài quá {MAX_FIELD_TEXT} ký tự.")
    return value


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _steps(value: str) -> list[dict]:
    """Steps as typed, "code — note" a line (the separator may be —, –, - or :); a line that does not open with
    a code is taken whole for one, so the check quotes it."""
    matches = [(line, STEP_LINE.fullmatch(line)) for line in _lines(value)]
    return [{"code": m[1], "note": m[2] or ""} if m else {"code": line, "note": ""} for line, m in matches]


def _event_form(form: MultiDictProxy, event_id: str, active: bool) -> dict:
    """An event as its form tells it."""
    event = {
        "id": event_id,
        "title": _box(form, "title", "Tên sự kiện"),
        "triggers": _lines(_box(form, "triggers", "Cụm từ nhận biết")),
        "steps": _steps(_box(form, "steps", "Các bước")),
    }
    return event if active else event | {"active": False}


def _typed(form: MultiDictProxy) -> dict:
    """The boxes as typed, shown again when the change is refused."""
    return {k: text(form, k)[:MAX_FIELD] for k in form if k != "csrf"}


async def _save(request: web.Request, kind: str, change, target: str, to: str) -> web.Response | list[str]:
    """Save a change of the version in use: back to `to` (audited), or the problems that refused it."""
    form = await request.post()
    actor = staff_of(request).account.username
    app = app_of(request)
    try:
        saved = await db(vocab.edit, app.factory, kind, change, actor, text(form, "note")[:MAX_FIELD])
    except VocabularyError as e:
        return e.problems
    if saved is None:
        return see_other(f"{to}?done=unchanged")
    app.kb.refresh()
    return await changed(request, "vocabulary_save", target, _described(saved), to)


def _described(saved: dict) -> str:
    """A saved version as the audit log tells it: its number and what it changed."""
    lines = [f"{sign} {what}" for sign, what in saved["changes"]]
    more = f"\n… và {len(lines) - SHOWN_CHANGES} thay đổi khác" if len(lines) > SHOWN_CHANGES else ""
    note = f" ({saved['note']})" if saved["note"] else ""
    return f"{KINDS[saved['kind']]}, phiên bản #{saved['id']}{note}:\n" + "\n".join(lines[:SHOWN_CHANGES]) + more


def _page(request: web.Request, template: str, context: dict, problems: list[str] | None = None) -> web.Response:
    problems = problems or []
    shared = {
        "problems": problems[:SHOWN_PROBLEMS],
        "more_problems": max(0, len(problems) - SHOWN_PROBLEMS),
        "done": None if problems else DONE.get(request.query.get("done", "")),
        "form": {},
        "kinds": KINDS,
    }
    return render(request, template, shared | context, status=400 if problems else 200)


def _in_use(request: web.Request, kind: str) -> tuple[list | dict, dict | None]:
    """The version in use: its data, and its row (None while the bundled file is in use)."""
    with app_of(request).factory() as session:
        row = vocab.newest(session, kind)
    return (row["data"] if row else vocab.bundled(kind)), row


def _procedure_names(request: web.Request, codes) -> dict[str, str]:
    """From the database, not the search index: a page shown right after a save does not wait for its rebuild."""
    with app_of(request).factory() as session:
        return vocab.procedure_names(session, codes)


# ---- life events -----------------------------------------------------------------------------------------------


async def _events(request: web.Request, problems: list[str] | None = None, form: dict | None = None):
    events, row = await db(_in_use, request, LIFE_EVENTS)
    names = await db(_procedure_names, request, {s["code"] for e in events for s in e["steps"]})
    context = {"events": events, "version": row, "names": names, "form": form or {}}
    return _page(request, "vocabulary.html", context, problems)


@admin_only
async def events_page(request: web.Request) -> web.StreamResponse:
    return await _events(request)


@admin_only
async def event_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        event = _event_form(form, text(form, "id").strip(), active=True)
    except _FormError as e:
        return await _events(request, [str(e)], _typed(form))
    result = await _save(request, LIFE_EVENTS, lambda events: [*events, event], f"sự kiện {event['id']}", HERE)
    return await _events(request, result, _typed(form)) if isinstance(result, list) else result


async def _event(request: web.Request, problems: list[str] | None = None, typed: dict | None = None):
    events, row = await db(_in_use, request, LIFE_EVENTS)
    event = next((e for e in events if e["id"] == request.match_info["id"]), None)
    if event is None:
        return not_found(request)
    values = typed or {
        "title": event["title"],
        "triggers": "\n".join(event["triggers"]),
        "steps": "\n".join(vocab.step_line(s) for s in event["steps"]),
        "active": "1" if event.get("active", True) else "",
    }
    names = await db(_procedure_names, request, {s["code"] for s in event["steps"]})
    context = {"event": event, "values": values, "version": row, "names": names}
    return _page(request, "vocabulary_event.html", context, problems)


@admin_only
async def event_page(request: web.Request) -> web.StreamResponse:
    return await _event(request)


@admin_only
async def event_edit(request: web.Request) -> web.StreamResponse:
    event_id, form = request.match_info["id"], await request.post()
    try:
        event = _event_form(form, event_id, active=text(form, "active") == "1")
    except _FormError as e:
        return await _event(request, [str(e)], _typed(form))

    def change(events: list[dict]) -> list[dict]:
        if all(e["id"] != event_id for e in events):
            raise LookupError(event_id)
        return [event if e["id"] == event_id else e for e in events]

    try:
        result = await _save(request, LIFE_EVENTS, change, f"sự kiện {event_id}", f"{HERE}/events/{event_id}")
    except LookupError:
        return not_found(request)
    return await _event(request, result, _typed(form)) if isinstance(result, list) else result


# ---- everyday names --------------------------------------------------------------------------------------------


async def _everyday(request: web.Request, problems: list[str] | None = None, form: dict | None = None):
    data, row = await db(_in_use, request, EVERYDAY)
    names = await db(_procedure_names, request, data)
    query = request.query.get("q", "")[:200]
    wanted = fold(query)
    rows = [
        {"code": code, "name": names.get(code, ""), "names": found}
        for code, found in data.items()
        if not wanted or wanted in fold(" ".join([code, names.get(code, ""), *found]))
    ]
    context = {"rows": rows, "total": len(data), "q": query, "version": row, "form": form or {}}
    return _page(request, "vocabulary_everyday.html", context, problems)


@admin_only
async def everyday_page(request: web.Request) -> web.StreamResponse:
    return await _everyday(request)


@admin_only
async def everyday_add(request: web.Request) -> web.StreamResponse:
    """Everyday names for a procedure: added to those it has, if any."""
    form = await request.post()
    code = text(form, "code").strip()
    try:
        added = _lines(_box(form, "names", "Tên gọi"))
    except _FormError as e:
        return await _everyday(request, [str(e)], _typed(form))
    if not added:
        return await _everyday(request, ["Cần ít nhất một tên gọi."], _typed(form))

    def change(data: dict) -> dict:
        return data | {code: [*data.get(code, []), *added]}

    result = await _save(request, EVERYDAY, change, f"tên gọi {code}", f"{HERE}/everyday")
    return await _everyday(request, result, _typed(form)) if isinstance(result, list) else result


async def _names(request: web.Request, problems: list[str] | None = None, typed: dict | None = None):
    code = request.match_info["code"]
    data, row = await db(_in_use, request, EVERYDAY)
    name = (await db(_procedure_names, request, [code])).get(code)
    if name is None and code not in data:
        return not_found(request)
    values = typed or {"names": "\n".join(data.get(code, []))}
    context = {"code": code, "name": name, "values": values, "version": row}
    return _page(request, "vocabulary_names.html", context, problems)


@admin_only
async def names_page(request: web.Request) -> web.StreamResponse:
    return await _names(request)


@admin_only
async def names_edit(request: web.Request) -> web.StreamResponse:
    """A procedure's everyday names, replaced; none left takes the procedure out of the table."""
    code, form = request.match_info["code"], await request.post()
    try:
        names = _lines(_box(form, "names", "Tên gọi"))
    except _FormError as e:
        return await _names(request, [str(e)], _typed(form))

    def change(data: dict) -> dict:
        rest = {c: n for c, n in data.items() if c != code}
        return rest | {code: names} if names else rest

    result = await _save(request, EVERYDAY, change, f"tên gọi {code}", f"{HERE}/everyday/{code}")
    return await _names(request, result, _typed(form)) if isinstance(result, list) else result


# ---- history ---------------------------------------------------------------------------------------------------


async def _history(request: web.Request, kind: str, problems: list[str] | None = None) -> web.Response:
    def read() -> list[dict]:
        with app_of(request).factory() as session:
            return vocab.history(session, kind)

    return _page(request, "vocabulary_history.html", {"kind": kind, "versions": await db(read)}, problems)


async def _revert(request: web.Request, kind: str) -> web.Response:
    """Save an older version of a kind (or its bundled file: version "bundled") anew."""
    raw = text(await request.post(), "version")
    if not (raw == "bundled" or (raw.isdigit() and len(raw) < 10)):
        return not_found(request)
    version = None if raw == "bundled" else int(raw)
    to = f"{HERE}/history/{kind}"
    try:
        saved = await db(vocab.revert, app_of(request).factory, kind, version, staff_of(request).account.username)
    except LookupError:
        return not_found(request)
    except VocabularyError as e:
        return await _history(request, kind, e.problems)
    if saved is None:
        return see_other(f"{to}?done=unchanged")
    app_of(request).kb.refresh()
    target = f"{KINDS[kind]}: {'dữ liệu gốc' if version is None else f'phiên bản #{version}'}"
    return await changed(request, "vocabulary_revert", target, _described(saved), to)


def _history_routes(router: web.UrlDispatcher, kind: str) -> None:
    """The history of one kind, and its revert (a fixed path per kind)."""

    @admin_only
    async def history_page(request: web.Request) -> web.StreamResponse:
        return await _history(request, kind)

    @admin_only
    async def revert(request: web.Request) -> web.StreamResponse:
        return await _revert(request, kind)

    router.add_get(f"{HERE}/history/{kind}", history_page)
    router.add_post(f"{HERE}/history/{kind}/revert", revert)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(HERE, events_page)
    router.add_post(f"{HERE}/events", event_add)
    router.add_get(f"{HERE}/events/{{id}}", event_page)
    router.add_post(f"{HERE}/events/{{id}}", event_edit)
    router.add_get(f"{HERE}/everyday", everyday_page)
    router.add_post(f"{HERE}/everyday", everyday_add)
    router.add_get(f"{HERE}/everyday/{{code}}", names_page)
    router.add_post(f"{HERE}/everyday/{{code}}", names_edit)
    for kind in KINDS:
        _history_routes(router, kind)
