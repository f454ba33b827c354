"""The web chat widget in headless Chromium, embedded in a page of another origin (a portal: a second server on
another port, listed in WEBCHAT_ORIGINS), used with the keyboard only: open it, ask, press a button, follow up,
file a feedback with a photo and see its tracking code, close it with Escape."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from browser_util import PHONE, SLOW
from fake_telegram import WAIT
from feedback_util import CONTENT
from playwright.async_api import expect
from webchat_util import PNG, WebChatServed

REPLY = WAIT * 1000  # ms: a safety net while the bot answers (the first search builds its index), never a timing

PORTAL_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Cổng dịch vụ công tỉnh</title></head>
<body><h1>Cổng dịch vụ công tỉnh</h1><p><a href="#tin">Tin tức</a></p>
<script src="{app}/widget.js" defer></script></body></html>"""


async def tab_to(page, name: str, back: bool = False) -> None:
    """Press Tab (Shift+Tab when `back`) until the focused element is named `name` (its text or its label)."""
    for _ in range(120):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = await page.evaluate(
            """() => { const e = document.activeElement; if (!e) return "";
                 if (e.labels && e.labels.length) return e.labels[0].textContent.trim();
                 return (e.getAttribute("aria-label") || e.textContent || "").trim(); }"""
        )
        if focused == name:
            return
    raise AssertionError(f"{name!r} cannot be reached with the keyboard")


class Chat:
    """The widget as a keyboard user drives it: the focus is in the text box between steps."""

    def __init__(self, page):
        self.page = page
        self.bot = page.locator(".tthc-bot")
        self.box = page.get_by_label("Câu hỏi của bạn")

    async def _after(self, action, expected: str) -> None:
        before = await self.bot.count()
        await action()
        await expect(self.bot.nth(before)).to_be_attached(timeout=REPLY)
        await expect(self.bot.last).to_contain_text(expected, timeout=REPLY)
        await expect(self.box).to_be_focused()

    async def say(self, text: str, expected: str = "") -> None:
        async def type_and_enter() -> None:
            await self.page.keyboard.type(text)
            await self.page.keyboard.press("Enter")

        await self._after(type_and_enter, expected)

    async def press(self, label: str, expected: str = "") -> None:
        async def choose() -> None:
            await tab_to(self.page, label, back=True)  # the newest message's buttons come first going back
            await self.page.keyboard.press("Enter")

        await self._after(choose, expected)


async def test_a_portal_visitor_asks_follows_up_and_files_a_feedback_with_the_keyboard(app, browser, tmp_path):
    holder: dict[str, str] = {}

    async def portal_page(_request: web.Request) -> web.Response:
        return web.Response(text=PORTAL_PAGE.format(app=holder["app"]), content_type="text/html")

    portal_app = web.Application()
    portal_app.router.add_get("/", portal_page)
    portal = TestServer(portal_app)
    await portal.start_server()
    origin = str(portal.make_url("/").origin())
    served = await WebChatServed(app, webchat_origins=origin).start()
    holder["app"] = str(served.server.make_url("/").origin())
    assert holder["app"] != origin  # another port: another origin
    ctx = await browser.new_context(viewport=PHONE, locale="vi-VN")
    ctx.set_default_timeout(SLOW)
    try:
        page = await ctx.new_page()
        await page.goto(str(portal.make_url("/")))
        await tab_to(page, "Hỏi đáp thủ tục hành chính")
        await page.keyboard.press("Enter")
        chat = Chat(page)
        await expect(page.get_by_role("dialog", name="Trợ lý thủ tục hành chính")).to_be_visible()
        await expect(chat.box).to_be_focused()
        log = page.get_by_role("log", name="Tin nhắn")
        await expect(chat.bot.first).to_be_attached(timeout=REPLY)  # the welcome
        await expect(log).to_have_attribute("aria-live", "polite")

        await chat.say("đăng ký khai tử lệ phí bao nhiêu", "Mã thủ tục: 1.000656")
        await expect(chat.bot.last).to_contain_text("Phí, lệ phí:")
        await expect(chat.bot.last.get_by_role("button", name="Hồ sơ")).to_be_visible()
        await chat.press("Hồ sơ", "Hồ sơ cần nộp:")
        await chat.say("thế còn lệ phí?", "Phí, lệ phí:")
        await expect(chat.bot.last).to_contain_text("Mã thủ tục: 1.000656")

        await chat.say("<b>không đậm</b>")
        mine = page.locator(".tthc-user").last
        await expect(mine).to_have_text("Bạn: <b>không đậm</b>")  # shown as typed, never as markup
        assert await log.locator("b").count() == 0

        await chat.say("/phananh")
        await chat.press("Phản ánh")
        await chat.say(CONTENT)
        await chat.press("Bỏ qua")
        await chat.say("UBND phường Hà Đông")
        await chat.press("Đồng ý")
        photo = tmp_path / "giay-hen.png"
        photo.write_bytes(PNG)
        await page.get_by_label("Đính kèm ảnh hoặc PDF").set_input_files(str(photo))
        await chat.say("", "Đã nhận 1/5 tệp")
        await expect(page.locator(".tthc-user").last).to_contain_text("giay-hen.png")
        await chat.press("Xong")
        await chat.say("Nguyễn Văn Bình")
        await chat.say("số 12 ngõ 45 phố Lê Lợi, Hà Đông, Hà Nội")
        await chat.say("0912 345 678", "Tệp đính kèm: 1")
        await chat.press("Gửi")
        await expect(log).to_contain_text("Mã tra cứu", timeout=REPLY)

        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_be_hidden()
        await expect(page.get_by_role("button", name="Hỏi đáp thủ tục hành chính")).to_be_focused()
        await expect(page.get_by_role("button", name="Hỏi đáp thủ tục hành chính")).to_have_attribute(
            "aria-expanded", "false"
        )
    finally:
        await ctx.close()
        await served.stop()
        await portal.close()


async def test_the_chat_page_works_under_its_csp_by_polling_where_there_is_no_event_source(app, browser):
    served = await WebChatServed(app).start()
    ctx = await browser.new_context(viewport=PHONE, locale="vi-VN")
    ctx.set_default_timeout(SLOW)
    try:
        page = await ctx.new_page()
        await page.add_init_script("delete window.EventSource;")  # an old browser
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        await page.goto(str(served.server.make_url("/chat")))
        chat = Chat(page)
        await expect(chat.box).to_be_focused()  # the page opens the chat at once
        await expect(chat.bot.first).to_be_attached(timeout=REPLY)
        await chat.say("đăng ký khai sinh cần giấy tờ gì", "Mã thủ tục:")
        assert await page.evaluate("typeof window.EventSource") == "undefined"
        assert refused == []
    finally:
        await ctx.close()
        await served.stop()
