"""The item page: one feedback item as the staff of its queue see it (the sender, the thread with internal notes,
attachments, duplicate candidates, the audit log, how each message to the citizen was delivered) and every
workflow action on it. Each action is a plain form posted with the item's version, so a page someone else changed
meanwhile is refused (409); an action the citizen must hear of wakes the outbox at once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import users
from bot.app import App
from bot.users import Account
from dashboard.filters import action_label, state_label
from dashboard.web import (
    PREFIX,
    app_of,
    forbidden,
    not_found,
    page_error,
    render,
    see_other,
    staff_of,
    text,
    wake_outbox,
)
from feedback import attachments as files
from feedback import notes, outbox, templates, workdays
from feedback import service as fs
from feedback.model import END_STATES, OPEN_STATES, STAFF_ACTIONS, TRANSITIONS, ItemView
from feedback.records import load_item, utc
from feedback.tables import attachments, items

INLINE_TYPES = ("image/jpeg", "image/png", "image/webp")  # shown in the page; any other file is downloaded
TEMPLATE_ACTIONS = ("answer", "ask_info", "reject")  # actions whose text reaches the citizen
STALE = (
    "Hồ sơ đã được người khác thay đổi trong lúc bạn xem. Dưới đây là tình trạng mới nhất; hãy xem lại rồi "
    "thao tác lại (nội dung bạn vừa nhập vẫn được giữ nếu thao tác còn áp dụng)."
)
NO_VERSION = "Thiếu phiên bản hồ sơ trong biểu mẫu. Hãy tải lại trang rồi thao tác lại."
DONE = {  # ?done=<action> after a redirect: a fixed message, never text from the URL
    "claim": "Bạn đã nhận xử lý hồ sơ; người gửi được báo.",
    "assign": "Đã phân công hồ sơ.",
    "ask_info": "Đã gửi đề nghị bổ sung thông tin đến người gửi.",
    "transfer": "Đã chuyển hồ sơ đến cơ quan có thẩm quyền; người gửi được báo.",
    "answer": "Đã gửi trả lời đến người gửi.",
    "reject": "Đã từ chối xử lý; người gửi được báo lý do.",
    "mark_duplicate": "Đã đánh dấu hồ sơ trùng; người gửi được báo.",
    "publish": "Đã công khai kết quả; người gửi được báo.",
    "close": "Đã kết thúc hồ sơ; người gửi được báo.",
    "note": "Đã thêm ghi chú nội bộ.",
}


Act = Callable[[sessionmaker, str, str, MultiDictProxy, int | None], object]
ACTIONS: dict[str, Act] = {  # (factory, code, staff, form, version)
    "claim": lambda f, c, who, form, v: fs.claim(f, c, who, version=v),
    "assign": lambda f, c, who, form, v: fs.assign(f, c, who, text(form, "assignee"), version=v),
    "ask_info": lambda f, c, who, form, v: fs.ask_info(f, c, who, text(form, "question"), version=v),
    "transfer": lambda f, c, who, form, v: fs.transfer(f, c, who, text(form, "agency"), text(form, "note"), version=v),
    "answer": lambda f, c, who, form, v: fs.answer(f, c, who, text(form, "text"), version=v),
    "reject": lambda f, c, who, form, v: fs.reject(f, c, who, text(form, "reason"), text(form, "note"), version=v),
    "mark_duplicate": lambda f, c, who, form, v: fs.mark_duplicate(
        f, c, who, text(form, "original"), text(form, "note"), version=v
    ),
    "publish": lambda f, c, who, form, v: fs.publish(f, c, who, text(form, "content"), text(form, "answer"), version=v),
    "close": lambda f, c, who, form, v: fs.close(f, c, who, text(form, "note"), version=v),
    "note": lambda f, c, who, form, v: notes.add_note(f, c, who, text(form, "body")),
}


def allowed(state: str, account: Account) -> set[str]:
    """The actions to offer on an item in `state`: the workflow's from that state, assigning for supervisors
    while the item is not finished, and notes always."""
    acts = {a for a in STAFF_ACTIONS if state in TRANSITIONS[a][0]}
    if account.at_least("supervisor") and state not in END_STATES:
        acts.add("assign")
    return acts | {"note"}


def _load(factory: sessionmaker, code: str) -> dict | None:
    with factory() as s:
        try:
            return dict(load_item(s, code)._mapping)
        except fs.UnknownItem:
            return None


async def _visible(request: web.Request) -> tuple[dict | None, web.Response | None]:
    """The item of the URL when this account may see it, else the 404 or 403 page to return."""
    it = await asyncio.to_thread(_load, app_of(request).factory, request.match_info["code"])
    if it is None:
        return None, not_found(request)
    if not staff_of(request).account.may_see_queue(it["queue_id"]):
        return None, forbidden(request)
    return it, None


def _deadline(it: dict, today: date) -> tuple[str, str]:
    """What the deadline means today, and its badge class."""
    if it["state"] not in OPEN_STATES:
        return "", ""
    if it["state"] == "needs_info":
        return "tạm dừng trong khi chờ người gửi bổ sung", "soon"
    if today > it["deadline"]:
        late = workdays.working_days_between(it["deadline"], today)
        return "đã quá hạn" + (f" {late} ngày làm việc" if late else ""), "overdue"
    left = workdays.working_days_between(today, it["deadline"])
    return ("đến hạn hôm nay" if left == 0 else f"còn {left} ngày làm việc"), ("soon" if left <= 1 else "ok")


def _thread(v: ItemView, note_rows: list[dict]) -> list[dict]:
    """The citizen's content, requests and replies, internal notes and the answer, in time order."""
    it = v.item
    by_message: dict[int | None, list[dict]] = {}
    for a in v.attachments:
        a["inline"] = a["content_type"] in INLINE_TYPES
        by_message.setdefault(a["message_id"], []).append(a)
    entries = [{"kind": "citizen", "at": it["created_at"], "who": "Người gửi", "body": it["content"]}]
    entries[0]["files"] = by_message.get(None, [])
    for m in v.messages:
        if m["author_kind"] == "staff":
            who = f"{m['author']} đề nghị bổ sung thông tin"
            entries.append({"kind": "staff", "at": m["at"], "who": who, "body": m["body"], "files": []})
        else:
            files_of = by_message.get(m["id"], [])
            entries.append(
                {"kind": "citizen", "at": m["at"], "who": "Người gửi bổ sung", "body": m["body"], "files": files_of}
            )
    for n in note_rows:
        entries.append({"kind": "note", "at": n["at"], "who": n["author"], "body": n["body"], "files": []})
    if it["answer"]:
        by = [e["actor"] for e in v.audit if e["action"] == "answer"]
        who = "Trả lời của cơ quan" + (f" ({by[-1]})" if by else "")
        entries.append({"kind": "answer", "at": it["answered_at"], "who": who, "body": it["answer"], "files": []})
    return sorted(entries, key=lambda e: utc(e["at"]))


def _context(app: App, account: Account, code: str) -> dict:
    """Everything the page shows, read in one go (in a worker thread)."""
    factory = app.factory
    today = workdays.local_date(outbox.utcnow())
    v = fs.view(factory, code, today)
    it = v.item
    acts = allowed(it["state"], account)
    reasons = fs.list_reject_reasons(factory)
    original = None
    if it["duplicate_of"]:
        with factory() as s:
            original = s.scalar(select(items.c.code).where(items.c.id == it["duplicate_of"]))
    deadline_text, deadline_class = _deadline(it, today)
    return {
        "it": it,
        "queue": v.queue,
        "deadline_text": deadline_text,
        "deadline_class": deadline_class,
        "procedure": app.kb.get(it["procedure_code"]) if it["procedure_code"] else None,
        "thread": _thread(v, notes.list_notes(factory, code)),
        "audit": v.audit,
        "duplicates": v.duplicates,
        "original": original,
        "reject_label": dict(reasons).get(it["reject_reason"], it["reject_reason"]),
        "deliveries": _deliveries(factory, it),
        "acts": acts,
        "reasons": reasons,
        "templates": {a: templates.active_for(factory, a, it["kind"]) for a in TEMPLATE_ACTIONS if a in acts},
        "assignees": (
            [a.username for a in users.list_accounts(factory) if a.active and a.may_see_queue(it["queue_id"])]
            if "assign" in acts
            else []
        ),
        "preview": fs.preview_publication(factory, code) if "publish" in acts else None,
    }


def _deliveries(factory: sessionmaker, it: dict) -> list[dict]:
    return outbox.to_chat(factory, it["id"], it["channel"], it["chat_id"]) if it["chat_id"] else []


def _waiting(deliveries: list[dict]) -> bool:
    return any(m["status"] in ("pending", "sending") for m in deliveries)


async def _page(
    request: web.Request,
    code: str,
    status: int = 200,
    error: str | None = None,
    kept: dict | None = None,
) -> web.Response:
    account = staff_of(request).account
    ctx = await asyncio.to_thread(_context, app_of(request), account, code)
    done = DONE.get(request.query.get("done", "")) if status == 200 else None
    ctx |= {"error": error, "done": done, "kept": kept or {}, "waiting": _waiting(ctx["deliveries"])}
    return render(request, "item.html", ctx, status=status)


async def item_page(request: web.Request) -> web.StreamResponse:
    it, refused = await _visible(request)
    if refused is not None:
        return refused
    return await _page(request, it["code"])


async def delivery(request: web.Request) -> web.StreamResponse:
    """The delivery of the item's messages, alone: polled by htmx while a message waits to be sent."""
    it, refused = await _visible(request)
    if refused is not None:
        return refused
    deliveries = await asyncio.to_thread(_deliveries, app_of(request).factory, it)
    ctx = {"it": it, "deliveries": deliveries, "waiting": _waiting(deliveries)}
    return render(request, "item_delivery.html", ctx)


def _refusal(e: fs.FeedbackError, action: str, state: str) -> tuple[int, str]:
    """The status and Vietnamese message of a refused action."""
    if isinstance(e, fs.Conflict):
        return 409, STALE
    if isinstance(e, fs.IllegalTransition):
        return 409, (
            f"Không thể thực hiện “{action_label(action)}” khi hồ sơ đang ở tình trạng “{state_label(state)}”. "
            "Dưới đây là tình trạng hiện tại của hồ sơ."
        )
    return 400, e.vi or f"Không thực hiện được thao tác này ({e})."


async def act(request: web.Request) -> web.StreamResponse:
    """POST /admin/items/{code}/{action}: one workflow action, then back to the page (303)."""
    action = request.match_info["action"]
    if action not in ACTIONS:
        return not_found(request)
    it, refused = await _visible(request)
    if refused is not None:
        return refused
    account = staff_of(request).account
    if action == "assign" and not account.at_least("supervisor"):
        return forbidden(request)
    form = await request.post()
    version = None
    if action != "note":  # a note changes nothing another person could have changed first
        try:
            version = int(text(form, "version"))
        except ValueError:
            return page_error(request, 400, NO_VERSION)
    factory = app_of(request).factory
    try:
        await asyncio.to_thread(ACTIONS[action], factory, it["code"], account.username, form, version)
    except fs.FeedbackError as e:
        now = await asyncio.to_thread(_load, factory, it["code"])
        status, message = _refusal(e, action, now["state"])
        kept = {action: {k: v for k, v in form.items() if k not in ("csrf", "version") and isinstance(v, str)}}
        return await _page(request, it["code"], status, message, kept)
    if action in STAFF_ACTIONS:  # each of these writes a message to the citizen
        wake_outbox(request)
    return see_other(f"{PREFIX}/items/{quote(it['code'])}?done={action}")


def _attachment(factory: sessionmaker, item_id: int, file_id: int) -> dict | None:
    with factory() as s:
        row = s.execute(
            select(attachments).where(attachments.c.id == file_id, attachments.c.item_id == item_id)
        ).first()
    return dict(row._mapping) if row is not None else None


def _read(data_dir: Path, a: dict) -> bytes | None:
    """The file's bytes when it is on disk, under DATA_DIR, with its recorded size and checksum."""
    stored = files.StoredFile(a["path"], a["content_type"], a["size"], a["sha256"])
    try:
        files.verify(data_dir, stored)
        return Path(data_dir, *PurePosixPath(a["path"]).parts).read_bytes()
    except (files.InvalidField, OSError):
        return None


def _disposition(a: dict) -> str:
    """Images are shown in the page; anything else is downloaded, under its name (RFC 6266 with RFC 5987)."""
    if a["content_type"] in INLINE_TYPES:
        return "inline"
    name = a["filename"] or f"tep-{a['id']}{files.TYPES.get(a['content_type'], '')}"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def attachment(request: web.Request) -> web.StreamResponse:
    """GET /admin/items/{code}/files/{id}: an attachment of this item, to staff who may see the item."""
    it, refused = await _visible(request)
    if refused is not None:
        return refused
    app = app_of(request)
    a = await asyncio.to_thread(_attachment, app.factory, it["id"], int(request.match_info["file_id"]))
    if a is None:
        return not_found(request)
    data = await asyncio.to_thread(_read, app.settings.data_dir, a)
    if data is None:
        return page_error(request, 404, "Tệp này không còn trên máy chủ hoặc đã bị hỏng.")
    headers = {"Content-Disposition": _disposition(a), "X-Content-Type-Options": "nosniff"}
    return web.Response(body=data, content_type=a["content_type"], headers=headers)


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/items/{{code}}", item_page)
    router.add_get(f"{PREFIX}/items/{{code}}/delivery", delivery)
    router.add_get(f"{PREFIX}/items/{{code}}/files/{{file_id:[0-9]{{1,12}}}}", attachment)
    router.add_post(f"{PREFIX}/items/{{code}}/{{action}}", act)
