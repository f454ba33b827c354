"""What the bot failed to answer (/admin/unanswered) and how citizens rated its answers (/admin/quality), for admins.

/admin/unanswered lists the questions kept for review grouped by similarity (handlers.review), filtered by reason,
period and state in the query; each open group can be attached to a procedure, as a sample question or an alias,
picked among the assistant's own candidates for the group's question or typed as a code, or be marked out of
scope (POST /admin/unanswered/resolve). /admin/quality lists the ratings per procedure, sortable and paginated.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from dashboard.admin import admin_only, changed, db, text
from dashboard.reports import number
from dashboard.web import PREFIX, app_of, render, staff_of
from handlers import review
from handlers.review import ReviewError

GROUPS_PER_PAGE = 20
ROWS_PER_PAGE = 50
CANDIDATES = 5  # the assistant's candidates offered per group
MAX_IDS = review.MAX_ROWS  # questions one form may resolve (a group is at most the page's questions)
DONE = {
    "unanswered_attach": "Đã gắn các câu hỏi vào thủ tục; trợ lý dùng ngay cho câu hỏi tiếp theo.",
    "unanswered_out_of_scope": "Đã đánh dấu các câu hỏi là ngoài phạm vi.",
}
QUALITY_HEADERS = (
    ("code", "Mã", False),
    ("name", "Thủ tục", False),
    ("helpful", "Hữu ích", True),
    ("unhelpful", "Chưa hữu ích", True),
    ("total", "Tổng", True),
    ("share", "Tỷ lệ hữu ích", True),
    ("missing", "Ý kiến còn thiếu", True),
)


def _page_number(query: MultiDictProxy) -> int:
    raw = text(query, "page") or "1"
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise ReviewError("Số trang không hợp lệ.")
    return int(raw)


def _filters(source: MultiDictProxy) -> dict[str, str]:
    """The list's filters from a query or a form (each form carries the view it was shown in)."""
    return {
        "reason": text(source, "reason"),
        "period": text(source, "period") or "all",
        "state": text(source, "state") or "open",
        "by": text(source, "by") or "recent",
    }


def _candidates(request: web.Request, question: str) -> list[tuple[str, str]]:
    """The assistant's own top candidates for a question: (code, name)."""
    return [(h.code, h.name) for h in app_of(request).kb.search(question, k=CANDIDATES).hits]


async def _unanswered(
    request: web.Request, filters: dict[str, str], page: int = 1, error: str | None = None, form: dict | None = None
) -> web.Response:
    factory = app_of(request).factory
    groups, cut = [], False
    try:
        groups, cut = await db(review.groups, factory, **filters)
    except ReviewError as e:
        error = error or str(e)
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(page, pages)
    shown = groups[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
    entries = [(g, await db(_candidates, request, g.question) if g.open_ids else []) for g in shown]
    done = None if error else DONE.get(request.query.get("done", ""))
    context = {
        "entries": entries,
        "total_groups": len(groups),
        "total_questions": sum(len(g.rows) for g in groups),
        "cut": cut,
        "max_rows": review.MAX_ROWS,
        "filters": filters,
        "page": page,
        "pages": pages,
        "query_page": lambda n: urlencode({**filters, "page": n}),
        "reasons": review.REASON_LABELS,
        "states": review.STATE_LABELS,
        "periods": review.PERIOD_LABELS,
        "resolutions": review.RESOLUTION_LABELS,
        "error": error,
        "done": done,
        "form": form or {},
    }
    return render(request, "unanswered.html", context, status=400 if error else 200)


@admin_only
async def unanswered_page(request: web.Request) -> web.StreamResponse:
    try:
        page = _page_number(request.query)
    except ReviewError as e:
        return await _unanswered(request, _filters(request.query), error=str(e))
    return await _unanswered(request, _filters(request.query), page)


def _ids(form: MultiDictProxy) -> list[int]:
    raw = text(form, "ids").split(",")
    if not raw or len(raw) > MAX_IDS or not all(v.isdigit() and len(v) < 10 for v in raw):
        raise ReviewError("Danh sách câu hỏi không hợp lệ; hãy tải lại trang.")
    return [int(v) for v in raw]


@admin_only
async def resolve(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    filters = _filters(form)
    resolution = text(form, "resolution")
    code = text(form, "code").strip() or text(form, "pick")
    attached = text(form, "text")
    actor = staff_of(request).account.username
    ids: list[int] = []
    try:
        ids = _ids(form)
        done = await db(review.resolve, app_of(request).factory, ids, resolution, actor, code=code, text=attached)
    except ReviewError as e:
        # the group's form shows what was typed (the template finds it by its questions, in id order)
        kept = {"ids": ",".join(map(str, sorted(ids))), "code": text(form, "code"), "pick": text(form, "pick")}
        kept |= {"text": attached, "resolution": resolution}
        return await _unanswered(request, filters, error=str(e), form=kept)
    label = review.RESOLUTION_LABELS[resolution]
    if done.code is None:
        detail = f"{done.count} câu hỏi; {label}"
        return await changed(request, "unanswered_out_of_scope", "ngoài phạm vi", detail, f"{PREFIX}/unanswered")
    app_of(request).kb.refresh()  # the next question, in this process too, meets the attached text
    note = "" if done.added else " (thủ tục đã có sẵn câu này)"
    detail = f"{done.count} câu hỏi; {label.lower()} của thủ tục {done.code}: “{done.text}”{note}"
    return await changed(request, "unanswered_attach", done.code, detail, f"{PREFIX}/unanswered")


# ---- quality -----------------------------------------------------------------------------------------------------


@admin_only
async def quality_page(request: web.Request) -> web.StreamResponse:
    query = request.query
    period, sort = text(query, "period") or "all", text(query, "sort") or "total"
    direction = text(query, "dir") or "desc"
    rows, error, page = [], None, 1
    try:
        if direction not in ("asc", "desc"):
            raise ReviewError("Chiều sắp xếp không hợp lệ.")
        page = _page_number(query)
        rows = await db(review.quality, app_of(request).factory, period, sort, direction == "desc")
    except ReviewError as e:
        error = str(e)
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    page = min(page, pages)
    view = {"period": period, "sort": sort, "dir": direction}
    context = {
        "rows": rows[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE],
        "count": len(rows),
        "helpful": sum(r.helpful for r in rows),
        "total": sum(r.total for r in rows),
        "headers": QUALITY_HEADERS,
        "view": view,
        "periods": review.PERIOD_LABELS,
        "page": page,
        "pages": pages,
        "query": lambda **changes: urlencode({**view, "page": page} | changes),
        "number": number,
        "error": error,
    }
    return render(request, "quality.html", context, status=400 if error else 200)


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/unanswered", unanswered_page)
    router.add_post(f"{PREFIX}/unanswered/resolve", resolve)
    router.add_get(f"{PREFIX}/quality", quality_page)
