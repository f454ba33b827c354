"""The staff dashboard in a real browser: Debian's Chromium driven by Playwright against a real TCP server. A
citizen's feedback from Telegram to an answer delivered, the report export against the figures on the page, the
inbox by keyboard alone, and the README's screenshots (taken on the SQLite run). On SQLite and PostgreSQL."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer
from browser_util import DESKTOP, PHONE, SLOW, log_in, shoot, url
from dashboard_util import account
from fake_telegram import Chat, start_channel
from feedback_util import CONTENT, file_item, row
from openpyxl import load_workbook
from playwright.async_api import expect

from bot.notify import Senders, start_worker
from bot.web import make_web_app
from dashboard.item import DONE
from feedback import service as fs
from feedback import templates, texts, workdays
from feedback.outbox import utcnow

QUESTION = "Bạn cho biết số và ngày của giấy hẹn trả kết quả."
REPLY = "Giấy hẹn số 123/GH ngày 05/10/2026, hẹn trả ngày 08/10/2026."
TEMPLATE_TITLE = "Đã chấn chỉnh bộ phận một cửa"
TEMPLATE_BODY = "Sở đã kiểm tra, yêu cầu bộ phận một cửa trả kết quả cho ông/bà và nhắc nhở cán bộ liên quan."


# ---- servers, pages, screenshots ---------------------------------------------------------------------------------


@pytest.fixture
async def live(dash_app, api):
    """The app wired as `bot.serve.serve` wires it: the web server, the Telegram channel (polling the fake Bot API)
    and the outbox worker around one `wake` event. The worker's own round is an hour, so anything the citizen
    receives within the test was sent because an action woke the worker."""
    channel = await start_channel(dash_app, api, outbox_interval=None)
    wake = channel.outbox_wake
    stop = asyncio.Event()
    senders = Senders({"telegram": channel.send})
    worker = start_worker(dash_app.factory, senders, stop, dash_app.settings.staff_chat, wake=wake, interval=3600)
    srv = TestServer(make_web_app(dash_app, channel, wake))
    await srv.start_server()
    yield srv
    stop.set()
    await worker
    await srv.close()
    await channel.stop()


@pytest.fixture
async def context(browser):
    ctx = await browser.new_context(viewport=DESKTOP, locale="vi-VN", accept_downloads=True)
    yield ctx
    await ctx.close()


def telegram_user() -> int:
    return 8_000_000 + uuid.uuid4().int % 1_000_000


def new_queue(app) -> tuple[int, str]:
    """A queue of its own and a procedure code routed there: (queue id, procedure code)."""
    tag = uuid.uuid4().hex[:8]
    code = f"9.{int(tag, 16) % 10**6:06d}"
    fs.add_queue(app.factory, f"Phòng {tag}", 5)
    fs.add_rule(app.factory, f"Phòng {tag}", procedure_code=code, priority=1)
    return next(q["id"] for q in fs.list_queues(app.factory) if q["name"] == f"Phòng {tag}"), code


# ---- 1. from the citizen's chat to the answer delivered ----------------------------------------------------------


async def file_by_telegram(citizen: Chat) -> None:
    """The real feedback dialog, button by button, as in test_pakn_telegram."""
    await citizen.say("/phananh")
    await citizen.press("Phản ánh")
    await citizen.say(CONTENT)
    await citizen.press("Bỏ qua")  # no procedure
    await citizen.say("UBND phường Hà Đông")
    await citizen.press("Đồng ý")
    await citizen.press("Bỏ qua")  # no file
    await citizen.say("Nguyễn Văn Bình")
    await citizen.say("số 12 ngõ 45 phố Lê Lợi, Hà Đông, Hà Nội")
    await citizen.say("0912 345 678")
    done = await citizen.press("Gửi")
    assert "đã được gửi" in done["text"]


NEIGHBOURS = (  # (days ago, kind, content)
    (3, "kien_nghi", "Đề nghị Sở bố trí thêm quầy chứng thực bản sao vào sáng thứ Bảy, người dân đi làm ngày thường "
     "không kịp đến, mỗi lần phải xin nghỉ nửa ngày."),
    (9, "phan_anh", "Tôi nộp hồ sơ cấp phiếu lý lịch tư pháp trực tuyến từ ngày 10/11 nhưng đến nay trạng thái vẫn là "
     "đang xử lý, gọi đường dây nóng không ai nghe máy."),
)  # fmt: skip


def neighbours(app) -> None:
    """Two more items routed like the citizen's, so the inbox looks like a working day."""
    now = utcnow()
    for days, kind, content in NEIGHBOURS:
        n = str(telegram_user())
        code = file_item(app.factory, citizen=fs.Citizen("telegram", n, n), now=now - timedelta(days=days),
                         kind=kind, content=content, procedure_code=None, field=None).code  # fmt: skip
        if days == 9:
            fs.claim(app.factory, code, "lan.tt", now=now - timedelta(days=8))


async def test_journey_from_telegram_to_a_delivered_answer(dash_app, api, live, browser, context, screenshots):
    citizen = Chat(api, telegram_user(), "Bình")
    chat_id = citizen.chat["id"]
    await file_by_telegram(citizen)
    uid = str(chat_id)
    [status] = fs.my_items(dash_app.factory, fs.Citizen("telegram", uid, uid))
    code = status.code
    queue_id = row(dash_app.factory, code).queue_id
    neighbours(dash_app)
    templates.add_template(dash_app.factory, "answer", None, TEMPLATE_TITLE, TEMPLATE_BODY)
    staff = account(dash_app, "staff", [queue_id])

    page = await context.new_page()
    await log_in(page, live, staff, screenshots, dash_app)
    the_row = page.locator(f'#inbox-table tr[data-code="{code}"]')
    await expect(the_row).to_contain_text("Chưa phân công")
    await shoot(page, screenshots, dash_app, "inbox.png")

    phone = await browser.new_context(viewport=PHONE, storage_state=await context.storage_state(), locale="vi-VN",
                                      is_mobile=True, has_touch=True, device_scale_factor=2)  # fmt: skip
    small = await phone.new_page()
    await small.goto(url(live, "/admin/inbox"))
    await expect(small.locator(f'tr[data-code="{code}"] a.code')).to_be_visible()
    assert await small.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    await small.locator("#inbox-results").evaluate("el => el.scrollIntoView()")  # the items, as cards
    await shoot(small, screenshots, dash_app, "inbox-phone.png", full_page=False)
    await phone.close()

    await the_row.get_by_role("link", name=code).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(code)
    await page.locator("#form-claim").get_by_role("button", name="Nhận xử lý").click()
    await expect(page.locator("p.notice")).to_have_text(DONE["claim"])

    await page.get_by_label("Nội dung cần người gửi bổ sung").fill(QUESTION)
    await page.locator("#form-ask-info").get_by_role("button", name="Đề nghị bổ sung").click()
    await expect(page.locator("p.notice")).to_have_text(DONE["ask_info"])
    asked = texts.info_requested(code, QUESTION)
    await api.wait_for(lambda: any(p["text"] == asked for p in api.sent(chat_id=chat_id)), "deliver the question")

    offer = await citizen.say(REPLY)  # the real flow: the bot asks whether this is the reply, the citizen says so
    sent = await citizen.press(f"Gửi bổ sung cho {code}", offer)
    assert code in sent["text"] and row(dash_app.factory, code).state == "in_processing"
    await page.reload()
    reply = page.locator("#main .thread article.msg.citizen", has_text=REPLY)
    await expect(reply).to_contain_text("Người gửi bổ sung")
    await expect(page.locator("#main .thread article.msg.staff")).to_contain_text(QUESTION)
    await shoot(page, screenshots, dash_app, "item.png")

    await page.locator("#answer-text-template").select_option(label=TEMPLATE_TITLE)
    answer = page.get_by_label("Nội dung trả lời")
    await expect(answer).to_have_value(TEMPLATE_BODY)  # filled by the template picker (app.js)
    await answer.press("End")
    await answer.press_sequentially(" Xin cảm ơn.")
    await page.locator("#form-answer").get_by_role("button", name="Gửi trả lời").click()
    await expect(page.locator("p.notice")).to_have_text(DONE["answer"])
    text = texts.answered(code, TEMPLATE_BODY + " Xin cảm ơn.")
    await api.wait_for(lambda: any(p["text"] == text for p in api.sent(chat_id=chat_id)), "deliver the answer")
    delivered = page.locator("#delivery li.delivery", has_text=f"{code}: đã có trả lời")
    await expect(delivered).to_have_class(re.compile(r"\bsent\b"), timeout=SLOW)  # htmx polls the delivery
    await expect(delivered).to_contain_text("Đã gửi đến người dân lúc")
    await expect(page.locator("#delivery .badge.soon")).to_have_count(0)
    assert row(dash_app.factory, code).state == "answered"


# ---- 2. the XLSX export holds the figures the page shows ---------------------------------------------------------


def vn(month: int, day: int, hour: int = 9) -> datetime:
    """An hour of 2025 in Vietnam."""
    return datetime(2025, month, day, hour, tzinfo=workdays.VN_TZ)


def march_2025(app) -> int:
    """Items received in March 2025 in several states; how many."""
    f = app.factory
    who = [fs.Citizen("telegram", n, n) for n in (str(telegram_user()) for _ in range(5))]
    answered = file_item(f, citizen=who[0], now=vn(3, 3)).code
    fs.claim(f, answered, "lan.tt", now=vn(3, 4))
    fs.answer(f, answered, "lan.tt", "Đã trả kết quả.", now=vn(3, 5))
    fs.rate(f, answered, who[0], 5, now=vn(3, 6))
    late = file_item(f, citizen=who[1], now=vn(3, 4), kind="kien_nghi", field="Chứng thực").code
    fs.claim(f, late, "lan.tt", now=vn(3, 5))
    fs.answer(f, late, "lan.tt", "Đã xem xét kiến nghị.", now=vn(3, 28))
    fs.rate(f, late, who[1], 2, now=vn(3, 29))
    rejected = file_item(f, citizen=who[2], now=vn(3, 10)).code
    fs.reject(f, rejected, "lan.tt", fs.list_reject_reasons(f)[0][0], now=vn(3, 11))
    asked = file_item(f, citizen=who[3], now=vn(3, 12), field="Quốc tịch").code
    fs.ask_info(f, asked, "lan.tt", "Gửi ảnh giấy hẹn.", now=vn(3, 13))
    file_item(f, citizen=who[4], now=vn(3, 20))  # still open
    return 5


def figure(value: str | None):
    """A data-value of the page as the number it stands for."""
    return None if value in (None, "") else float(value)


def shown(text: str):
    """A figure as the page prints it, the Vietnamese way (1.234 and 85,7; — for none)."""
    text = text.strip().removesuffix("%").strip()
    return None if text == "—" else float(text.replace(".", "").replace(",", "."))


async def test_report_export_matches_the_page(dash_app, server, context, screenshots, tmp_path):
    count = march_2025(dash_app)
    page = await context.new_page()
    await log_in(page, server, account(dash_app, "supervisor"))
    await page.get_by_role("link", name="Báo cáo").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Báo cáo")
    await page.get_by_label("Từ ngày").fill("2025-03-01")
    await page.get_by_label("Đến ngày").fill("2025-03-31")
    await page.locator("#report-submit").click()
    await expect(page).to_have_url(re.compile(r"from=2025-03-01&to=2025-03-31"))
    await expect(page.locator("#total-count")).to_have_attribute("data-value", str(count))
    await shoot(page, screenshots, dash_app, "reports.png")

    totals = await page.locator("#report-totals tbody tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent.trim(), r.querySelector('td').dataset.value,"
        " r.querySelector('td').textContent])"
    )
    breakdowns = await page.locator("section:has(table.responsive[id^=report-])").evaluate_all(
        "secs => secs.map(s => [s.querySelector('h2').textContent.trim(), Array.from(s.querySelectorAll("
        "'tbody tr')).map(r => [r.cells[0].textContent.trim(), r.cells[1].dataset.value])])"
    )
    stars = await page.locator("#report-stars").evaluate(
        "t => Array.from(t.tHead.rows[0].cells).map((c, i) => [parseInt(c.textContent),"
        " t.tBodies[0].rows[0].cells[i].dataset.value])"
    )
    assert len(totals) == 9 and len(breakdowns) >= 4 and len(stars) == 5

    async with page.expect_download() as info:
        await page.locator("#export-xlsx").click()
    download = await info.value
    assert download.suggested_filename == "bao-cao-pakn_2025-03-01_2025-03-31.xlsx"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    book = load_workbook(saved)

    in_file = dict(book["Tổng hợp"].iter_rows(min_row=2, values_only=True))
    assert list(in_file) == [label for label, _, _ in totals]
    for label, value, text in totals:
        assert in_file[label] == figure(value) == shown(text), label
    assert in_file["Số phản ánh, kiến nghị tiếp nhận"] == count
    for title, rows in breakdowns:
        sheet = [(str(a), b) for a, b in book[title].iter_rows(min_row=2, values_only=True)]
        assert sheet == [(label, int(n)) for label, n in rows], title
    assert list(book["Đánh giá theo số sao"].iter_rows(min_row=2, values_only=True)) == [(k, int(n)) for k, n in stars]


# ---- 3. the inbox by keyboard alone ------------------------------------------------------------------------------

FOCUSED = """() => { const el = document.activeElement, s = getComputedStyle(el);
  return {id: el.id, href: el.getAttribute('href'), visible: el.matches(':focus-visible'),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, shadow: s.boxShadow !== 'none'}; }"""


async def tab_to(page, selector: str, key: str = "Tab", limit: int = 40) -> int:
    """Press `key` until the focus is on `selector`; how many presses it took."""
    for n in range(1, limit + 1):
        await page.keyboard.press(key)
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return n
    raise AssertionError(f"{selector} is not reached with {key} in {limit} presses")


async def assert_focus_shown(page) -> dict:
    focus = await page.evaluate(FOCUSED)
    assert focus["visible"] and (focus["outline"] or focus["shadow"]), f"no visible focus on {focus}"
    return focus


async def test_inbox_by_keyboard_only(dash_app, server, context):
    queue_id, procedure = new_queue(dash_app)
    staff = account(dash_app, "staff", [queue_id])
    mine, other = (file_item(dash_app.factory, procedure_code=procedure).code for _ in range(2))
    fs.claim(dash_app.factory, mine, staff)
    page = await context.new_page()
    await log_in(page, server, staff)
    rows = page.locator("#inbox-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator(f'tr[data-code="{other}"]')).to_have_count(1)

    await page.reload()  # the top of the page, nothing focused
    await tab_to(page, "a.skip")
    await assert_focus_shown(page)
    await tab_to(page, "#mine")  # "Giao cho tôi": through the header and the filters
    await assert_focus_shown(page)
    await page.keyboard.press("Space")  # ticked: the filter applies on its own (htmx)
    await expect(page.locator("#mine")).to_be_checked()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-code", mine)
    await expect(page.locator(f'tr[data-code="{other}"]')).to_have_count(0)
    await expect(page).to_have_url(re.compile(r"mine=1"))

    await tab_to(page, "a.code")
    assert (await assert_focus_shown(page))["href"] == f"/admin/items/{mine}"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Shift+Tab")  # and back again
    assert (await assert_focus_shown(page))["href"] == f"/admin/items/{mine}"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/admin/items/{mine}$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(mine)


# ---- 4. the admin settings page ----------------------------------------------------------------------------------


async def test_admin_settings_page(dash_app, server, context, screenshots):
    page = await context.new_page()
    await log_in(page, server, account(dash_app, "admin"))
    await page.get_by_role("link", name="Quản trị").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Quản trị hệ thống")
    await expect(page.locator(".admin-sections a.card")).to_have_count(11)
    await shoot(page, screenshots, dash_app, "admin.png")
