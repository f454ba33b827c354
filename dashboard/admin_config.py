"""Administration (admins only) of what the feedback workflow runs on: queues with their working-day deadlines,
routing rules (with a form to try them), reject reasons and answer templates. Nothing is deleted: what is no
longer wanted is made inactive, since filed items refer to it."""

from __future__ import annotations

from aiohttp import web

from dashboard.admin import admin_only, changed, checked, db, done_message, number, path_id, text
from dashboard.filters import action_label
from dashboard.web import PREFIX, app_of, not_found, render
from feedback import routing
from feedback import templates as answer_templates
from feedback.routing import ConfigError
from feedback.validate import KINDS


def _page(request: web.Request, template: str, context: dict, error: str | None) -> web.Response:
    shared = {"error": error, "done": None if error else done_message(request), "form": {}}
    return render(request, template, shared | context, status=400 if error else 200)


def _find(rows: list[dict], key: str, value) -> dict | None:
    return next((r for r in rows if r[key] == value), None)


# ---- queues ----------------------------------------------------------------------------------------------------


def _describe_queue(q: dict) -> str:
    flags = ["mặc định"] if q["is_default"] else []
    flags.append("hoạt động" if q["active"] else "ngừng sử dụng")
    return f"{q['deadline_days']} ngày làm việc; {', '.join(flags)}"


async def _queues(request: web.Request, error: str | None = None, form: dict | None = None) -> web.Response:
    queues = await db(routing.list_queues, app_of(request).factory)
    return _page(request, "admin_queues.html", {"queues": queues, "form": form or {}}, error)


@admin_only
async def queues_page(request: web.Request) -> web.StreamResponse:
    return await _queues(request)


@admin_only
async def queue_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, days, default = text(form, "name"), number(form, "deadline_days"), checked(form, "default")
    factory = app_of(request).factory
    try:
        qid = await db(routing.add_queue, factory, name, days, default)
    except ConfigError as e:
        return await _queues(request, e.vi, {"name": name, "deadline_days": days, "default": default})
    q = _find(await db(routing.list_queues, factory), "id", qid)
    return await changed(request, "queue_add", q["name"], _describe_queue(q), f"{PREFIX}/queues")


async def _queue(request: web.Request, error: str | None = None) -> web.Response:
    q = _find(await db(routing.list_queues, app_of(request).factory), "id", path_id(request))
    return not_found(request) if q is None else _page(request, "admin_queue.html", {"queue": q}, error)


@admin_only
async def queue_page(request: web.Request) -> web.StreamResponse:
    return await _queue(request)


@admin_only
async def queue_edit(request: web.Request) -> web.StreamResponse:
    qid, form = path_id(request), await request.post()
    factory = app_of(request).factory
    try:
        await db(
            routing.update_queue,
            factory,
            qid,
            deadline_days=number(form, "deadline_days"),
            default=checked(form, "default"),
            active=checked(form, "active"),
        )
    except ConfigError as e:
        return await _queue(request, e.vi)
    q = _find(await db(routing.list_queues, factory), "id", qid)
    return await changed(request, "queue_edit", q["name"], _describe_queue(q), f"{PREFIX}/queues/{qid}")


# ---- routing rules ---------------------------------------------------------------------------------------------


def _rule_input(form) -> dict:
    return {
        "queue": number(form, "queue"),
        "field": text(form, "field"),
        "procedure_code": text(form, "procedure_code"),
        "keywords": text(form, "keywords").split(","),
        "priority": number(form, "priority"),
    }


def _describe_rule(r: dict) -> str:
    crit = [f"lĩnh vực “{r['field']}”"] if r["field"] else []
    crit += [f"mã thủ tục {r['procedure_code']}"] if r["procedure_code"] else []
    crit += [f"từ khóa: {r['keywords']}"] if r["keywords"] else []
    state = "đang áp dụng" if r["active"] else "ngừng áp dụng"
    return f"ưu tiên {r['priority']}; {'; '.join(crit)} → {r['queue']}; {state}"


async def _rules(
    request: web.Request, error: str | None = None, form: dict | None = None, tried: dict | None = None
) -> web.Response:
    factory = app_of(request).factory
    context = {
        "rules": await db(routing.list_rules, factory),
        "queues": await db(routing.list_queues, factory),
        "form": form or {},
        "tried": tried,
    }
    return _page(request, "admin_rules.html", context, error)


@admin_only
async def rules_page(request: web.Request) -> web.StreamResponse:
    return await _rules(request)


@admin_only
async def rule_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    factory = app_of(request).factory
    try:
        rid = await db(routing.add_rule, factory, **_rule_input(form))
    except ConfigError as e:
        return await _rules(request, e.vi, {k: text(form, k) for k in form if k != "csrf"})
    r = _find(await db(routing.list_rules, factory), "id", rid)
    return await changed(request, "rule_add", f"quy tắc #{rid}", _describe_rule(r), f"{PREFIX}/rules")


@admin_only
async def rule_try(request: web.Request) -> web.StreamResponse:
    """Where an item would go (read only): the queue and the rule that sends it there."""
    q = request.query
    field, code, content = q.get("field", ""), q.get("procedure_code", ""), q.get("content", "")
    tried = {"field": field, "procedure_code": code, "content": content}
    tried |= await db(routing.explain_route, app_of(request).factory, field or None, code.strip() or None, content)
    if request.headers.get("HX-Request"):
        return render(request, "admin_route_result.html", {"tried": tried})
    return await _rules(request, tried=tried)


async def _rule(request: web.Request, error: str | None = None, typed: dict | None = None) -> web.Response:
    factory = app_of(request).factory
    r = _find(await db(routing.list_rules, factory), "id", path_id(request))
    if r is None:
        return not_found(request)
    queues = await db(routing.list_queues, factory)
    values = typed or r | {"queue": r["queue_id"]}  # the form's queue is chosen by id
    return _page(request, "admin_rule.html", {"rule": r, "values": values, "queues": queues}, error)


@admin_only
async def rule_page(request: web.Request) -> web.StreamResponse:
    return await _rule(request)


@admin_only
async def rule_edit(request: web.Request) -> web.StreamResponse:
    rid, form = path_id(request), await request.post()
    factory = app_of(request).factory
    try:
        await db(routing.edit_rule, factory, rid, **_rule_input(form), active=checked(form, "active"))
    except ConfigError as e:
        return await _rule(request, e.vi, {k: text(form, k) for k in form if k != "csrf"})
    r = _find(await db(routing.list_rules, factory), "id", rid)
    return await changed(request, "rule_edit", f"quy tắc #{rid}", _describe_rule(r), f"{PREFIX}/rules/{rid}")


# ---- reject reasons --------------------------------------------------------------------------------------------


def _describe_reason(r: dict) -> str:
    return f"“{r['label']}”; vị trí {r['position']}; {'đang dùng' if r['active'] else 'ngừng dùng'}"


async def _reasons(request: web.Request, error: str | None = None, form: dict | None = None) -> web.Response:
    reasons = await db(routing.all_reject_reasons, app_of(request).factory)
    return _page(request, "admin_reasons.html", {"reasons": reasons, "form": form or {}}, error)


@admin_only
async def reasons_page(request: web.Request) -> web.StreamResponse:
    return await _reasons(request)


@admin_only
async def reason_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code, label, position = text(form, "code").strip(), text(form, "label"), number(form, "position")
    factory = app_of(request).factory
    try:
        await db(routing.add_reject_reason, factory, code, label, None if position == "" else position)
    except ConfigError as e:
        return await _reasons(request, e.vi, {"code": code, "label": label, "position": position})
    r = _find(await db(routing.all_reject_reasons, factory), "code", code)
    return await changed(request, "reason_add", code, _describe_reason(r), f"{PREFIX}/reasons")


async def _reason(request: web.Request, error: str | None = None) -> web.Response:
    r = _find(await db(routing.all_reject_reasons, app_of(request).factory), "code", request.match_info["code"])
    return not_found(request) if r is None else _page(request, "admin_reason.html", {"reason": r}, error)


@admin_only
async def reason_page(request: web.Request) -> web.StreamResponse:
    return await _reason(request)


@admin_only
async def reason_edit(request: web.Request) -> web.StreamResponse:
    code, form = request.match_info["code"], await request.post()
    factory = app_of(request).factory
    try:
        position, active = number(form, "position"), checked(form, "active")
        await db(routing.edit_reject_reason, factory, code, text(form, "label"), position, active)
    except ConfigError as e:
        return await _reason(request, e.vi)
    r = _find(await db(routing.all_reject_reasons, factory), "code", code)
    return await changed(request, "reason_edit", code, _describe_reason(r), f"{PREFIX}/reasons/{code}")


# ---- answer templates ------------------------------------------------------------------------------------------


def _template_input(form) -> dict:
    return {k: text(form, k) for k in ("action", "kind", "title", "body")}


def _describe_template(t: dict) -> str:
    kind = KINDS.get(t["kind"] or "", "mọi loại")
    return f"{action_label(t['action'])}; {kind}; “{t['title']}”; {'đang dùng' if t['active'] else 'ngừng dùng'}"


async def _templates(request: web.Request, error: str | None = None, form: dict | None = None) -> web.Response:
    rows = await db(answer_templates.list_templates, app_of(request).factory)
    context = {"templates": rows, "actions": answer_templates.ACTIONS, "kinds": KINDS, "form": form or {}}
    return _page(request, "admin_templates.html", context, error)


@admin_only
async def templates_page(request: web.Request) -> web.StreamResponse:
    return await _templates(request)


@admin_only
async def template_add(request: web.Request) -> web.StreamResponse:
    values = _template_input(await request.post())
    factory = app_of(request).factory
    try:
        tid = await db(answer_templates.add_template, factory, **values)
    except ConfigError as e:
        return await _templates(request, e.vi, values)
    t = _find(await db(answer_templates.list_templates, factory), "id", tid)
    return await changed(request, "template_add", f"mẫu #{tid}", _describe_template(t), f"{PREFIX}/templates")


async def _template(request: web.Request, error: str | None = None, typed: dict | None = None) -> web.Response:
    t = _find(await db(answer_templates.list_templates, app_of(request).factory), "id", path_id(request))
    if t is None:
        return not_found(request)
    context = {"template": t, "values": typed or t, "actions": answer_templates.ACTIONS, "kinds": KINDS}
    return _page(request, "admin_template.html", context, error)


@admin_only
async def template_page(request: web.Request) -> web.StreamResponse:
    return await _template(request)


@admin_only
async def template_edit(request: web.Request) -> web.StreamResponse:
    tid, form = path_id(request), await request.post()
    values = _template_input(form)
    factory = app_of(request).factory
    try:
        await db(answer_templates.edit_template, factory, tid, **values, active=checked(form, "active"))
    except ConfigError as e:
        return await _template(request, e.vi, values)
    t = _find(await db(answer_templates.list_templates, factory), "id", tid)
    return await changed(request, "template_edit", f"mẫu #{tid}", _describe_template(t), f"{PREFIX}/templates/{tid}")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{PREFIX}/rules/try", rule_try)  # before /rules/{id}
    for section, listing, add, page, edit, key in (
        ("queues", queues_page, queue_add, queue_page, queue_edit, "id"),
        ("rules", rules_page, rule_add, rule_page, rule_edit, "id"),
        ("reasons", reasons_page, reason_add, reason_page, reason_edit, "code"),
        ("templates", templates_page, template_add, template_page, template_edit, "id"),
    ):
        router.add_get(f"{PREFIX}/{section}", listing)
        router.add_post(f"{PREFIX}/{section}", add)
        router.add_get(f"{PREFIX}/{section}/{{{key}}}", page)
        router.add_post(f"{PREFIX}/{section}/{{{key}}}", edit)
