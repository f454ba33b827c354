"""The inbox (/admin/inbox): the items a staff member may see by deadline, filters as query parameters (so a
view is a URL), saved views, and bulk claim / assign / transfer with a report per item.

With htmx a filter change or a bulk action swaps only the results (#inbox-results); without it the filter
form is a plain GET and a bulk action a POST that redirects back with its report in the query."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import MultiDict, MultiMapping
from sqlalchemy.orm import sessionmaker

from bot import users
from dashboard import saved_views
from dashboard.web import (
    PREFIX,
    app_of,
    forbidden,
    page_error,
    render,
    see_other,
    staff_of,
    wake_outbox,
)
from feedback import inbox as inbox_query
from feedback import service as fs
from feedback import texts

FLAGS = ("overdue", "mine", "unassigned")
NUMBER = re.compile(r"[0-9]{1,9}")
MAX_QUERY = 200  # characters of a search
MAX_BULK = 2 * inbox_query.PER_PAGE
MAX_AGENCY = 300
ACTIONS = {"claim": "nhận xử lý", "assign": "phân công", "transfer": "chuyển"}
STATE_OPTIONS = [("open", "Đang mở"), *texts.STATE_LABELS.items(), ("all", "Tất cả")]


class BadRequest(Exception):
    """A query or form the inbox cannot use; the message is Vietnamese."""


def _text(params: Mapping[str, object], key: str, limit: int) -> str:
    """A parameter as one line of text (a file sent in its place counts as nothing)."""
    value = params.get(key)
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def _criteria_in(form: Mapping[str, object], key: str, account: users.Account) -> inbox_query.Criteria:
    """The criteria kept in a form field as a query string (the view a form was sent from)."""
    value = form.get(key)
    return criteria_of(MultiDict(parse_qsl(value if isinstance(value, str) else "")), account)


def criteria_of(params: Mapping[str, str], account: users.Account) -> inbox_query.Criteria:
    """The inbox's criteria from query parameters (or a saved view's query string), within the account's queues."""
    state = params.get("state") or "open"
    if state not in inbox_query.STATE_CHOICES:
        raise BadRequest("Trạng thái trong bộ lọc không hợp lệ.")
    queue = params.get("queue") or None
    if queue is not None and not NUMBER.fullmatch(queue):
        raise BadRequest("Hàng đợi trong bộ lọc không hợp lệ.")
    page = params.get("page") or "1"
    return inbox_query.Criteria(
        viewer=account.username,
        queue_ids=None if account.all_queues else account.queue_ids,
        state=state,
        queue=int(queue) if queue else None,
        field=_text(params, "field", 200) or None,
        procedure=_text(params, "procedure", 32) or None,
        q=_text(params, "q", MAX_QUERY),
        page=int(page) if NUMBER.fullmatch(page) else 1,
        **{flag: params.get(flag) == "1" for flag in FLAGS},
    )


def query_of(c: inbox_query.Criteria, page: int | None = None) -> str:
    """The query string of a view: only what differs from the default, the page only when asked for."""
    pairs = [("state", c.state)] if c.state != "open" else []
    pairs += [(k, v) for k, v in (("queue", c.queue), ("field", c.field), ("procedure", c.procedure)) if v]
    pairs += [(flag, "1") for flag in FLAGS if getattr(c, flag)]
    pairs += [("q", c.q)] if c.q else []
    pairs += [("page", page)] if page and page > 1 else []
    return urlencode(pairs)


@dataclass(frozen=True)
class Outcome:
    """What became of one item of a bulk action: `reason` None when it was done, else a short code
    ("hidden", "conflict", "assignee", "error" or "state:<state>")."""

    code: str
    reason: str | None = None

    def message(self, action: str, assignee: str) -> str:
        verb = ACTIONS[action]
        if self.reason is None:
            done = {"claim": "đã nhận xử lý", "assign": f"đã phân công cho {assignee}", "transfer": "đã chuyển"}
            return f"{self.code}: {done[action]}."
        if self.reason.startswith("state:"):
            label = texts.STATE_LABELS.get(self.reason[6:], self.reason[6:])
            return f"{self.code}: không thể {verb} vì đang ở trạng thái “{label}”."
        why = {
            "hidden": "không tìm thấy hoặc không thuộc hàng đợi của bạn.",
            "conflict": "vừa được người khác thay đổi; hãy tải lại trang và thử lại.",
            "assignee": f"tài khoản {assignee} không xử lý hàng đợi của hồ sơ này hoặc đã bị khóa.",
        }
        return f"{self.code}: không thể {verb} — {why.get(self.reason, 'thao tác bị từ chối.')}"


@dataclass(frozen=True)
class Report:
    action: str
    assignee: str
    outcomes: tuple[Outcome, ...]

    @property
    def done(self) -> list[str]:
        return [o.message(self.action, self.assignee) for o in self.outcomes if o.reason is None]

    @property
    def refused(self) -> list[str]:
        return [o.message(self.action, self.assignee) for o in self.outcomes if o.reason is not None]

    def query(self) -> str:
        """The report as query parameters, for the redirect after a bulk action without htmx."""
        pairs = [("done", self.action)] + ([("to", self.assignee)] if self.assignee else [])
        return urlencode(pairs + [("r", f"{o.code}~{o.reason or 'ok'}") for o in self.outcomes])

    @classmethod
    def of_query(cls, params: MultiMapping[str]) -> Report | None:
        action = params.get("done")
        if action not in ACTIONS:
            return None
        outcomes = []
        for value in params.getall("r", [])[:MAX_BULK]:
            code, _, reason = value.partition("~")
            outcomes.append(Outcome(code[:16], None if reason == "ok" else reason[:32]))
        return cls(action, _text(params, "to", 64), tuple(outcomes))


def _partial(request: web.Request) -> bool:
    """An htmx request for the results only (a history restore wants the whole page)."""
    h = request.headers
    return (
        bool(h.get("HX-Request")) and h.get("HX-Target") == "inbox-results" and not h.get("HX-History-Restore-Request")
    )


async def _render_inbox(
    request: web.Request,
    c: inbox_query.Criteria,
    report: Report | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    app, account = app_of(request), staff_of(request).account
    page = await asyncio.to_thread(inbox_query.inbox, app.factory, c)
    context = {
        "c": c,
        "result": page,
        "query": query_of(c),
        "query_page": partial(query_of, c),
        "report": report,
        "error": error,
        "may_assign": account.at_least("supervisor"),
    }
    if context["may_assign"]:
        accounts = await asyncio.to_thread(users.list_accounts, app.factory)
        context["assignees"] = [a.username for a in accounts if a.active]
    if _partial(request):
        return render(request, "inbox_rows.html", context, status)
    all_queues = await asyncio.to_thread(fs.list_queues, app.factory)
    views = await asyncio.to_thread(saved_views.list_views, app.factory, account.id)
    context |= {
        "queues": [q for q in all_queues if account.may_see_queue(q["id"])],
        "states": STATE_OPTIONS,
        "views": views,
    }
    return render(request, "inbox.html", context, status)


async def inbox_page(request: web.Request) -> web.StreamResponse:
    try:
        c = criteria_of(request.query, staff_of(request).account)
    except BadRequest as e:
        return page_error(request, 400, str(e))
    return await _render_inbox(request, c, Report.of_query(request.query))


def _run_bulk(
    factory: sessionmaker, account: users.Account, action: str, codes: list[str], assignee: str, agency: str
) -> Report:
    """Each item on its own: what was done, what was refused and why."""
    outcomes = []
    for code in codes:
        where = inbox_query.place(factory, code)
        if where is None or not account.may_see_queue(where[0]):
            outcomes.append(Outcome(code, "hidden"))
            continue
        try:
            if action == "claim":
                fs.claim(factory, code, account.username)
            elif action == "assign":
                fs.assign(factory, code, account.username, assignee)
            else:
                fs.transfer(factory, code, account.username, agency)
            outcomes.append(Outcome(code))
        except fs.IllegalTransition:
            now = inbox_query.place(factory, code) or where
            outcomes.append(Outcome(code, f"state:{now[1]}"))
        except fs.Conflict:
            outcomes.append(Outcome(code, "conflict"))
        except fs.InvalidAssignee:
            outcomes.append(Outcome(code, "assignee"))
        except fs.UnknownItem:
            outcomes.append(Outcome(code, "hidden"))
        except fs.FeedbackError:
            outcomes.append(Outcome(code, "error"))
    return Report(action, assignee if action == "assign" else "", tuple(outcomes))


async def bulk(request: web.Request) -> web.StreamResponse:
    account = staff_of(request).account
    form = await request.post()
    try:
        c = _criteria_in(form, "back", account)
    except BadRequest:
        c = criteria_of({}, account)
    action = _text(form, "action", 16)
    codes = list(dict.fromkeys(v.strip()[:32] for v in form.getall("code", []) if isinstance(v, str)))
    assignee = _text(form, "assignee", 64)
    agency = _text(form, "agency", MAX_AGENCY + 1)
    if action == "assign" and not account.at_least("supervisor"):
        return forbidden(request)
    problem = None
    if action not in ACTIONS:
        problem = "Hãy chọn một thao tác."
    elif not codes:
        problem = "Chưa chọn hồ sơ nào."
    elif len(codes) > MAX_BULK:
        problem = f"Mỗi lần chỉ thao tác được với tối đa {MAX_BULK} hồ sơ."
    elif action == "assign" and not assignee:
        problem = "Hãy chọn người được phân công."
    elif action == "transfer" and not agency:
        problem = "Chưa nhập tên cơ quan có thẩm quyền."
    elif action == "transfer" and len(agency) > MAX_AGENCY:
        problem = f"Tên cơ quan dài quá {MAX_AGENCY} ký tự."
    if problem:
        if _partial(request):  # htmx swaps 2xx answers only
            return await _render_inbox(request, c, error=problem)
        return page_error(request, 400, problem)
    report = await asyncio.to_thread(_run_bulk, app_of(request).factory, account, action, codes, assignee, agency)
    if action in ("claim", "transfer") and report.done:
        wake_outbox(request)
    if _partial(request):
        return await _render_inbox(request, c, report)
    back = "&".join(q for q in (query_of(c, c.page), report.query()) if q)
    return see_other(f"{PREFIX}/inbox?{back}")


async def save_view(request: web.Request) -> web.StreamResponse:
    account = staff_of(request).account
    form = await request.post()
    name = _text(form, "name", 200)
    try:
        c = _criteria_in(form, "query", account)
        await asyncio.to_thread(saved_views.save, app_of(request).factory, account.id, name, query_of(c))
    except (BadRequest, saved_views.ViewError) as e:
        return page_error(request, 400, str(e))
    return see_other(f"{PREFIX}/inbox?{query_of(c)}")


async def delete_view(request: web.Request) -> web.StreamResponse:
    account = staff_of(request).account
    view_id = request.match_info["view_id"]
    gone = await asyncio.to_thread(saved_views.delete_view, app_of(request).factory, account.id, int(view_id))
    if not gone:
        return page_error(request, 404, "Không tìm thấy bộ lọc đã lưu này.")
    return see_other(f"{PREFIX}/inbox")


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/inbox", inbox_page)
    router.add_post(f"{PREFIX}/inbox/bulk", bulk)
    router.add_post(f"{PREFIX}/views", save_view)
    router.add_post(PREFIX + r"/views/{view_id:\d{1,9}}/delete", delete_view)
