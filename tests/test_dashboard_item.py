"""The item page (/admin/items/{code}): what it shows, every workflow action through its forms, versions, roles
and queues, attachments, internal notes, publishing, delivery of messages, escaping. On SQLite and PostgreSQL
(one app per module, so each test works in a queue of its own)."""

import asyncio
import html
import re
import uuid
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from dashboard_util import account, login
from feedback_util import ALICE, audit_rows, file_item, outbox_rows, row, upload
from sqlalchemy import select, update

from bot.web import make_web_app
from dashboard.item import DONE, STALE
from feedback import notes, outbox, templates
from feedback import service as fs
from feedback.outbox import PermanentFailure
from feedback.tables import attachments, items

CONTENT = "Cán bộ bộ phận một cửa yêu cầu nộp thêm giấy xác nhận cư trú không có trong quy định, mã {tag}."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n% giay hen\n" + b"0" * 64


def new_queue(app) -> tuple[str, str]:
    """A queue of its own and a procedure code that routes there: (queue name, procedure code)."""
    tag = uuid.uuid4().hex[:8]
    name = f"Phòng {tag}"
    code = f"9.{int(tag, 16) % 10**6:06d}"
    fs.add_queue(app.factory, name, 5)
    fs.add_rule(app.factory, name, procedure_code=code, priority=1)
    return name, code


def file_in(app, proc: str, citizen=ALICE, content: str | None = None, **over) -> str:
    text = content or CONTENT.format(tag=uuid.uuid4().hex[:8])
    return file_item(app.factory, citizen=citizen, procedure_code=proc, content=text, **over).code


def citizen() -> fs.Citizen:
    """A citizen of their own (their own chat, so their messages are delivered apart from the others')."""
    n = str(uuid.uuid4().int % 10**9)
    return fs.Citizen("telegram", n, n)


async def as_user(dash, app, role: str = "staff", queues=()) -> tuple[str, str]:
    """A new account, logged in on `dash`: (username, CSRF token)."""
    name = account(app, role, queues)
    dash.session.cookie_jar.clear()  # whoever was logged in on this client before
    return name, await login(dash, name)


async def get_page(dash, code: str, status: int = 200) -> str:
    r = await dash.get(f"/admin/items/{code}", allow_redirects=False)
    body = await r.text()
    assert r.status == status, body
    return body


async def post(dash, csrf: str | None, code: str, action: str, version="current", app=None, **fields):
    """POST one action the way the page's form does (`version` "current" reads it from the database)."""
    data = dict(fields)
    if csrf is not None:
        data["csrf"] = csrf
    if version == "current":
        version = row(app.factory, code).version
    if version is not None:
        data["version"] = str(version)
    return await dash.post(f"/admin/items/{code}/{action}", data=data, allow_redirects=False)


def textarea(page: str, ident: str) -> str:
    m = re.search(rf'<textarea id="{ident}"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, f"no textarea #{ident}"
    return html.unescape(m.group(1))


def counts(app, code: str) -> tuple[int, int, int]:
    """(version, audit entries, outbox messages) of an item."""
    return row(app.factory, code).version, len(audit_rows(app.factory, code)), len(outbox_rows(app.factory, code))


def citizen_texts(app, code: str) -> list[str]:
    it = row(app.factory, code)
    return [m.text for m in outbox_rows(app.factory, code) if m.chat_id == it.chat_id]


# --- access ---


async def test_without_a_session_every_route_leads_to_the_login_page(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    for path in (f"/admin/items/{code}", f"/admin/items/{code}/delivery", f"/admin/items/{code}/files/1"):
        r = await dash.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login?next="), path
    r = await dash.post(f"/admin/items/{code}/claim", data={"version": "1"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/admin/login"
    assert row(dash_app.factory, code).state == "received"


async def test_unknown_code_is_404_and_staff_of_another_queue_get_403_everywhere(dash_app, dash):
    queue, proc = new_queue(dash_app)
    other, _ = new_queue(dash_app)
    data_dir = dash_app.settings.data_dir
    up = upload(dash_app.factory, data_dir, PNG, "anh.png")
    code = file_in(dash_app, proc, data_dir=data_dir, attachments=(up,))
    file_id = _file_ids(dash_app, code)[0]
    _, csrf = await as_user(dash, dash_app, "staff", [other])
    await get_page(dash, "PA-ZZZZZZZZ", 404)
    page = await get_page(dash, code, 403)
    assert "Nguyễn Văn Bình" not in page and "không có quyền" in page
    for path in (f"/admin/items/{code}/delivery", f"/admin/items/{code}/files/{file_id}"):
        r = await dash.get(path)
        assert r.status == 403, path
    before = counts(dash_app, code)
    for action, fields in (("claim", {}), ("note", {"body": "xem giúp"}), ("answer", {"text": "Trả lời"})):
        r = await post(dash, csrf, code, action, app=dash_app, **fields)
        assert r.status == 403, action
    assert counts(dash_app, code) == before


async def test_csrf_token_missing_or_wrong_is_refused_and_changes_nothing(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    before = counts(dash_app, code)
    for token in (None, "x" * 43, csrf[:-1]):
        r = await post(dash, token, code, "claim", app=dash_app)
        assert r.status == 403 and "Phiên làm việc không hợp lệ" in await r.text()
        r = await post(dash, token, code, "note", version=None, body="ghi chú")
        assert r.status == 403
    assert counts(dash_app, code) == before
    assert notes.list_notes(dash_app.factory, code) == []


# --- what the page shows ---


async def test_the_page_shows_the_item_the_sender_the_thread_in_order_and_the_audit_log(dash_app, dash):
    queue, _ = new_queue(dash_app)
    fs.add_rule(dash_app.factory, queue, procedure_code="1.001193", priority=0)
    who = citizen()
    data_dir = dash_app.settings.data_dir
    up = upload(dash_app.factory, data_dir, PNG, "anh.png", citizen=who)
    code = file_in(dash_app, "1.001193", citizen=who, data_dir=data_dir, attachments=(up,))
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    fs.claim(dash_app.factory, code, name)
    fs.ask_info(dash_app.factory, code, name, "Bạn nộp hồ sơ vào ngày nào?")
    notes.add_note(dash_app.factory, code, name, "Đã gọi điện cho UBND phường để hỏi.")
    fs.reply_info(dash_app.factory, code, who, "Tôi nộp ngày 5/10/2026.")
    page = await get_page(dash, code)
    procedure = dash_app.kb.get("1.001193")
    for shown in (
        code,
        "Phản ánh",
        "Đang xử lý",
        queue,
        f"1.001193 — {procedure.name}",
        "Hộ tịch",
        "UBND phường Hà Đông",
        "Nguyễn Văn Bình",
        "0912345678",
        "Cán bộ xử lý</dt><dd>" + name,
        "Ghi chú nội bộ — người gửi không thấy",
        "Nhận xử lý",
        "Đề nghị bổ sung thông tin",
        "Người gửi bổ sung thông tin",
        "Ghi chú nội bộ</td>",
    ):
        assert shown in page, shown
    order = [
        page.index(t) for t in ("yêu cầu nộp thêm giấy", "Bạn nộp hồ sơ vào ngày nào?", "Đã gọi điện", "5/10/2026")
    ]
    assert order == sorted(order), "the thread is in time order"
    assert re.search(r"đã quá hạn \d+ ngày làm việc|còn \d+ ngày làm việc|đến hạn hôm nay", page)


async def test_an_erased_sender_shows_as_erased(dash_app, dash):
    queue, proc = new_queue(dash_app)
    who = citizen()
    code = file_in(dash_app, proc, citizen=who)
    fs.erase_my_data(dash_app.factory, who, confirmed=True, data_dir=dash_app.settings.data_dir)
    await as_user(dash, dash_app, "supervisor")
    page = await get_page(dash, code)
    assert "đã xóa theo yêu cầu" in page
    assert "Nguyễn Văn Bình" not in page and "0912345678" not in page


async def test_citizen_and_staff_text_is_shown_escaped(dash_app, dash):
    queue, proc = new_queue(dash_app)
    who = citizen()
    attack = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">bấm</a>'
    code = file_in(dash_app, proc, citizen=who, content=f"Tôi phản ánh việc cán bộ phường làm khó {attack} như vậy.")
    with dash_app.factory.begin() as s:
        s.execute(
            update(items)
            .where(items.c.code == code)
            .values(sender_name=attack, sender_address=attack, agency="javascript:alert(1)", field=attack)
        )
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    fs.ask_info(dash_app.factory, code, name, f"Hỏi lại {attack}")
    fs.reply_info(dash_app.factory, code, who, f"Trả lời {attack}")
    notes.add_note(dash_app.factory, code, name, f"Ghi chú {attack}")
    page = await get_page(dash, code)
    for raw in ("<script>alert", "<img src=x", 'href="javascript:', "onerror=alert(1)>"):
        assert raw not in page, raw
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    r = await dash.get(f"/admin/items/{code}/delivery")
    assert "<script>alert" not in await r.text()


# --- actions ---


async def test_every_action_of_the_workflow_through_the_page(dash_app, dash):
    queue, proc = new_queue(dash_app)
    who = citizen()
    code = file_in(dash_app, proc, citizen=who)
    name, csrf = await as_user(dash, dash_app, "staff", [queue])

    async def do(action: str, **fields) -> str:
        sent = len(citizen_texts(dash_app, code))
        r = await post(dash, csrf, code, action, app=dash_app, **fields)
        assert r.status == 303, await r.text()
        assert r.headers["Location"] == f"/admin/items/{code}?done={action}"
        last = audit_rows(dash_app.factory, code)[-1]
        assert (last.action, last.actor) == (action, name)
        assert len(citizen_texts(dash_app, code)) == sent + 1, f"{action} tells the citizen"
        page = await get_page(dash, r.headers["Location"].removeprefix("/admin/items/"))
        assert DONE[action] in page
        return page

    page = await get_page(dash, code)
    assert "Nhận xử lý</button>" in page and 'id="answer-text"' not in page
    page = await do("claim")
    assert row(dash_app.factory, code).assigned_to == name
    assert 'id="answer-text"' in page and 'id="ask-info-text"' in page and "Nhận xử lý</button>" not in page
    await do("ask_info", question="Bạn cho biết ngày nộp hồ sơ?")
    assert "Bạn cho biết ngày nộp hồ sơ?" in citizen_texts(dash_app, code)[-1]
    fs.reply_info(dash_app.factory, code, who, "Tôi nộp ngày 5/10/2026.")
    page = await do("answer", text="Sở Tư pháp đã đề nghị UBND phường trả kết quả cho Ông Bình.")
    assert "đã đề nghị UBND phường" in citizen_texts(dash_app, code)[-1]
    assert 'id="publish-content"' in page
    content, answer = textarea(page, "publish-content"), textarea(page, "publish-answer")
    assert "Bình" not in answer and "[họ tên]" in answer
    assert re.search(r'<div class="pre original">[^<]*yêu cầu nộp thêm giấy', page), "the original beside the preview"
    await do("publish", content=content, answer="Sở Tư pháp đã đề nghị UBND phường trả kết quả (đã sửa).")
    it = row(dash_app.factory, code)
    assert (it.state, it.public_content, it.public_answer) == (
        "published",
        content,
        "Sở Tư pháp đã đề nghị UBND phường trả kết quả (đã sửa).",
    )
    page = await do("close")
    assert row(dash_app.factory, code).state == "closed"
    assert not re.search(r'<form method="post" action="[^"]+/(claim|answer|publish|close|reject)"', page)


async def test_transfer_reject_and_merge_into_a_duplicate(dash_app, dash):
    queue, proc = new_queue(dash_app)
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    a, b, c = (file_in(dash_app, proc, citizen=citizen()) for _ in range(3))

    r = await post(dash, csrf, a, "transfer", app=dash_app, agency="Sở Xây dựng", note="không thuộc thẩm quyền")
    assert r.status == 303
    it = row(dash_app.factory, a)
    assert (it.state, it.transferred_to) == ("transferred", "Sở Xây dựng")
    assert "Sở Xây dựng" in citizen_texts(dash_app, a)[-1]
    assert audit_rows(dash_app.factory, a)[-1].actor == name

    page = await get_page(dash, b)
    reasons = fs.list_reject_reasons(dash_app.factory)
    assert f'<option value="{reasons[0][0]}">' in page
    r = await post(dash, csrf, b, "reject", app=dash_app, reason=reasons[0][0], note="Xin liên hệ UBND phường.")
    assert r.status == 303
    assert row(dash_app.factory, b).state == "rejected"
    assert (
        reasons[0][1] in citizen_texts(dash_app, b)[-1] and "Xin liên hệ UBND phường." in citizen_texts(dash_app, b)[-1]
    )
    assert audit_rows(dash_app.factory, b)[-1].actor == name

    same = "Bộ phận một cửa phường Hà Đông trả hồ sơ khai sinh quá hạn ba tuần mà không có lý do rõ ràng."
    original = file_in(dash_app, proc, citizen=citizen(), content=same)
    copy = file_in(dash_app, proc, citizen=citizen(), content=same + " ")
    page = await get_page(dash, copy)
    assert f'<input type="hidden" name="original" value="{original}">' in page and "Gộp vào hồ sơ này" in page
    r = await post(dash, csrf, copy, "mark_duplicate", app=dash_app, original=original)
    assert r.status == 303
    it = row(dash_app.factory, copy)
    assert (it.state, it.duplicate_of) == ("duplicate", row(dash_app.factory, original).id)
    assert original in citizen_texts(dash_app, copy)[-1]
    page = await get_page(dash, copy)
    assert f'<a href="/admin/items/{original}">{original}</a>' in page and "Gộp vào hồ sơ này" not in page
    assert row(dash_app.factory, c).state == "received"


async def test_only_supervisors_assign_and_only_to_accounts_of_the_queue(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    worker = account(dash_app, "staff", [queue])
    outsider = account(dash_app, "staff", [new_queue(dash_app)[0]])
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    page = await get_page(dash, code)
    assert 'id="assign-to"' not in page
    r = await post(dash, csrf, code, "assign", app=dash_app, assignee=worker)
    assert r.status == 403 and row(dash_app.factory, code).assigned_to is None

    boss, csrf = await as_user(dash, dash_app, "supervisor")
    page = await get_page(dash, code)
    assert f'<option value="{worker}">' in page and f'<option value="{outsider}"' not in page
    before = counts(dash_app, code)
    r = await post(dash, csrf, code, "assign", app=dash_app, assignee=outsider)
    assert r.status == 400 and "không xử lý hàng đợi của hồ sơ này" in await r.text()
    assert counts(dash_app, code) == before
    r = await post(dash, csrf, code, "assign", app=dash_app, assignee=worker)
    assert r.status == 303
    it = row(dash_app.factory, code)
    assert (it.assigned_to, it.state) == (worker, "received")
    assert audit_rows(dash_app.factory, code)[-1].actor == boss
    assert counts(dash_app, code)[2] == before[2], "assigning sends the citizen nothing"


async def test_a_stale_page_gets_409_and_keeps_what_was_typed(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    opened = row(dash_app.factory, code).version
    fs.claim(dash_app.factory, code, "someone.else")
    before = counts(dash_app, code)
    r = await post(dash, csrf, code, "ask_info", version=opened, question="Cho biết số biên nhận?")
    page = await r.text()
    assert r.status == 409 and STALE in page
    assert counts(dash_app, code) == before
    assert textarea(page, "ask-info-text") == "Cho biết số biên nhận?"
    assert f'name="version" value="{before[0]}"' in page, "the page is the current one"
    r = await post(dash, csrf, code, "claim", version="abc")
    assert r.status == 400 and counts(dash_app, code) == before


async def test_an_action_the_state_does_not_allow_is_refused_with_a_message(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    before = counts(dash_app, code)
    for action, fields in (
        ("answer", {"text": "Trả lời"}),
        ("publish", {"content": "a", "answer": "b"}),
        ("close", {}),
    ):
        r = await post(dash, csrf, code, action, app=dash_app, **fields)
        page = await r.text()
        assert r.status == 409 and "Không thể thực hiện" in page and "Đã tiếp nhận" in page, action
    r = await post(dash, csrf, code, "ask_info", app=dash_app, question="   ")
    assert r.status == 400 and "Chưa nhập nội dung đề nghị bổ sung." in await r.text()
    r = await post(dash, csrf, code, "mark_duplicate", app=dash_app, original="PA-ZZZZZZZZ")
    assert r.status == 400 and "Không có hồ sơ nào với mã hồ sơ gốc" in await r.text()
    r = await post(dash, csrf, code, "reject", app=dash_app, reason="khong-co")
    assert r.status == 400 and "Hãy chọn lý do từ chối." in await r.text()
    r = await post(dash, csrf, code, "explode", app=dash_app)
    assert r.status == 404
    assert counts(dash_app, code) == before


async def test_publishing_a_text_that_still_holds_the_phone_is_refused(dash_app, dash):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    fs.claim(dash_app.factory, code, name)
    fs.answer(dash_app.factory, code, name, "Đã chuyển UBND phường xử lý, trả kết quả trong tuần.")
    page = await get_page(dash, code)
    edited = textarea(page, "publish-content") + " Liên hệ 0912 345 678."
    before = counts(dash_app, code)
    r = await post(dash, csrf, code, "publish", app=dash_app, content=edited, answer=textarea(page, "publish-answer"))
    page = await r.text()
    assert r.status == 400 and "Chưa công khai" in page and "số điện thoại" in page
    it = row(dash_app.factory, code)
    assert (it.state, it.public_content) == ("answered", None)
    assert counts(dash_app, code) == before
    assert textarea(page, "publish-content") == edited, "the edit is kept to fix"


# --- notes ---


async def test_notes_stay_internal(dash_app, dash):
    queue, proc = new_queue(dash_app)
    who = citizen()
    code = file_in(dash_app, proc, citizen=who)
    name, csrf = await as_user(dash, dash_app, "staff", [queue])
    fs.claim(dash_app.factory, code, name)
    fs.ask_info(dash_app.factory, code, name, "Bạn cho biết số biên nhận?")
    before = counts(dash_app, code)
    r = await post(dash, csrf, code, "note", version=None, body="NOTE-SECRET: người gửi đã gọi điện hai lần")
    assert r.status == 303 and r.headers["Location"] == f"/admin/items/{code}?done=note"
    version, audits, sent = counts(dash_app, code)
    assert (version, sent) == (before[0], before[2]), "no new version, nothing sent"
    last = audit_rows(dash_app.factory, code)[-1]
    assert (audits, last.action, last.actor, last.from_state, last.to_state) == (
        before[1] + 1,
        "note",
        name,
        "needs_info",
        "needs_info",
    )
    page = await get_page(dash, code)
    assert "NOTE-SECRET" in page.split("Ghi chú nội bộ — người gửi không thấy")[1]
    r = await post(dash, csrf, code, "note", version=None, body="  ")
    assert r.status == 400 and "Chưa nhập nội dung ghi chú." in await r.text()

    # the citizen's reply still returns the item to where it was, past the note written while waiting
    assert fs.reply_info(dash_app.factory, code, who, "Số biên nhận 123.") == "in_processing"
    fs.answer(dash_app.factory, code, name, "Đã xử lý xong.")
    fs.publish(dash_app.factory, code, name)
    it = row(dash_app.factory, code)
    assert "NOTE-SECRET" not in (it.public_content + it.public_answer)
    assert not any("NOTE-SECRET" in m.text for m in outbox_rows(dash_app.factory, code))
    assert "NOTE-SECRET" not in fs.my_data(dash_app.factory, who).text()
    assert "NOTE-SECRET" not in fs.lookup(dash_app.factory, code, who).text()


# --- templates ---


async def test_answer_templates_for_the_action_and_the_kind(dash_app, dash):
    queue, proc = new_queue(dash_app)
    tag = uuid.uuid4().hex[:6]
    templates.add_template(dash_app.factory, "answer", "kien_nghi", f"Mẫu kiến nghị {tag}", "Về kiến nghị của Ông/Bà…")
    templates.add_template(dash_app.factory, "answer", "phan_anh", f"Mẫu phản ánh {tag}", "Về phản ánh <của> Ông/Bà…")
    pa = file_in(dash_app, proc, kind="phan_anh")
    kn = file_in(dash_app, proc, kind="kien_nghi")
    name, _ = await as_user(dash, dash_app, "staff", [queue])
    for code in (pa, kn):
        fs.claim(dash_app.factory, code, name)
    page = await get_page(dash, pa)
    assert '<select id="answer-text-template" data-template-for="answer-text">' in page
    assert "Trả lời theo quy định" in page and "Đề nghị bổ sung thông tin</option>" in page
    assert f"Mẫu phản ánh {tag}" in page and f"Mẫu kiến nghị {tag}" not in page
    assert 'data-body="Về phản ánh &lt;của&gt; Ông/Bà…"' in page
    page = await get_page(dash, kn)
    assert f"Mẫu kiến nghị {tag}" in page and f"Mẫu phản ánh {tag}" not in page


# --- attachments ---


def _file_ids(app, code: str) -> list[int]:
    with app.factory() as s:
        item_id = row(app.factory, code).id
        return list(
            s.scalars(select(attachments.c.id).where(attachments.c.item_id == item_id).order_by(attachments.c.id))
        )


async def test_attachments_images_inline_other_files_downloaded_only_for_this_item(dash_app, dash):
    queue, proc = new_queue(dash_app)
    data_dir = dash_app.settings.data_dir
    who = citizen()
    ups = (
        upload(dash_app.factory, data_dir, PNG, "ảnh.png", who),
        upload(dash_app.factory, data_dir, PDF, "Giấy hẹn.pdf", who),
    )
    code = file_in(dash_app, proc, citizen=who, data_dir=data_dir, attachments=ups)
    other = file_in(
        dash_app,
        proc,
        citizen=who,
        data_dir=data_dir,
        attachments=(upload(dash_app.factory, data_dir, PNG + b"1", None, who),),
    )
    png_id, pdf_id = _file_ids(dash_app, code)
    await as_user(dash, dash_app, "staff", [queue])
    page = await get_page(dash, code)
    assert f'<img class="attachment" src="/admin/items/{code}/files/{png_id}"' in page
    assert f'href="/admin/items/{code}/files/{pdf_id}" download>Tải tệp Giấy hẹn.pdf' in page

    r = await dash.get(f"/admin/items/{code}/files/{png_id}")
    assert (r.status, r.headers["Content-Type"], await r.read()) == (200, "image/png", PNG)
    assert r.headers["Content-Disposition"] == "inline" and r.headers["X-Content-Type-Options"] == "nosniff"
    r = await dash.get(f"/admin/items/{code}/files/{pdf_id}")
    assert (r.status, r.headers["Content-Type"], await r.read()) == (200, "application/pdf", PDF)
    assert r.headers["Content-Disposition"].startswith('attachment; filename="Gi')
    assert "filename*=UTF-8''Gi%E1%BA%A5y%20h%E1%BA%B9n.pdf" in r.headers["Content-Disposition"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"

    other_id = _file_ids(dash_app, other)[0]
    for missing in (other_id, 999999):
        r = await dash.get(f"/admin/items/{code}/files/{missing}")
        assert r.status == 404, missing
    r = await dash.get(f"/admin/items/{other}/files/{other_id}")
    assert r.status == 200
    with dash_app.factory() as s:
        path = s.scalar(select(attachments.c.path).where(attachments.c.id == other_id))
    Path(data_dir, path).write_bytes(PNG + b"2")
    r = await dash.get(f"/admin/items/{other}/files/{other_id}")
    assert r.status == 404, "a file changed on disk is not served"


# --- delivery ---


async def test_the_page_shows_how_each_message_to_the_citizen_went(dash_app, dash):
    queue, proc = new_queue(dash_app)
    who, blocked = citizen(), citizen()
    code, lost = file_in(dash_app, proc, citizen=who), file_in(dash_app, proc, citizen=blocked)
    _, csrf = await as_user(dash, dash_app, "staff", [queue])
    r = await post(dash, csrf, code, "ask_info", app=dash_app, question="Cho biết số biên nhận?")
    page = await get_page(dash, r.headers["Location"].removeprefix("/admin/items/"))
    assert "Đang chờ gửi" in page and 'hx-trigger="every 2s"' in page
    r = await dash.get(f"/admin/items/{code}/delivery")
    part = await r.text()
    assert part.startswith('<section id="delivery"') and "Đang chờ gửi" in part and 'hx-trigger="every 2s"' in part

    async def sender(msg):
        if msg.chat_id == blocked.chat_id:
            raise PermanentFailure("Forbidden: bot was blocked by the user")

    await outbox.deliver(dash_app.factory, sender)
    part = await (await dash.get(f"/admin/items/{code}/delivery")).text()
    assert "Đã gửi đến người dân lúc" in part and "Đang chờ gửi" not in part and "hx-trigger" not in part
    part = await (await dash.get(f"/admin/items/{lost}/delivery")).text()
    assert "Gửi thất bại: PermanentFailure: Forbidden: bot was blocked by the user" in part


async def test_an_action_for_the_citizen_wakes_the_outbox_and_a_note_does_not(dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    wake = asyncio.Event()
    async with TestClient(TestServer(make_web_app(dash_app, wake=wake))) as client:
        _, csrf = await as_user(client, dash_app, "staff", [queue])
        r = await post(client, csrf, code, "note", version=None, body="Xem lại hồ sơ gốc.")
        assert r.status == 303 and not wake.is_set()
        r = await post(client, csrf, code, "claim", app=dash_app)
        assert r.status == 303 and wake.is_set()
