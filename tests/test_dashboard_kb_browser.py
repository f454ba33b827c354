"""Procedures in a real browser (Debian's Chromium driven by Playwright, a real TCP server): an admin finds a
procedure, changes its fee through the diff, the bot answers with the new fee, and a revert from the history
brings the old one back. The README's screenshots of these pages are taken on the SQLite run."""

import asyncio
import re

from browser_util import log_in, shoot
from citizen import Citizen
from dashboard_util import account
from playwright.async_api import expect

KHAI_SINH = "1.001193"
FEE_QUESTION = "lệ phí đăng ký khai sinh bao nhiêu"
NEW_FEE = "8.000 đồng/trường hợp"
SLOW = 20_000  # ms: a safety net for expect() (a save rebuilds the search index), never a timing assertion


async def fee_answer(app) -> str:
    """What a new citizen is told when asking the fee of the birth registration (through the stored dialog)."""
    return await asyncio.to_thread(lambda: Citizen(app.conversations).say(FEE_QUESTION).text)


async def test_admin_changes_a_fee_the_bot_answers_it_and_a_revert_brings_the_old_one_back(
    dash_app, server, page, screenshots
):
    assert "Miễn phí" in await fee_answer(dash_app)
    await log_in(page, server, account(dash_app, "admin"))

    # search as a citizen would ask, from the administration menu
    await page.get_by_role("link", name="Quản trị").click()
    await page.locator(".admin-menu").get_by_role("link", name="Thủ tục", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thủ tục hành chính")
    await page.get_by_label("Tìm như người dân hỏi, hoặc theo mã thủ tục").fill("làm giấy khai sinh cho con")
    await page.keyboard.press("Enter")
    first = page.locator("#kb-table tbody tr").first
    await expect(first).to_have_attribute("data-code", KHAI_SINH)
    await shoot(page, screenshots, dash_app, "kb-list.png", full_page=False)

    # the record as citizens see it, beside its fields
    await first.get_by_role("link", name=KHAI_SINH).click()
    await expect(page).to_have_url(re.compile(rf"/admin/kb/{KHAI_SINH}$"))
    card = page.locator(".bot-card[open] .bot-text")
    await expect(card).to_contain_text("Phí, lệ phí: Trực tuyến, Dịch vụ bưu chính, Trực tiếp: Miễn phí")
    await expect(page.locator("#problems")).to_contain_text("Thời hạn không có đơn vị")
    await shoot(page, screenshots, dash_app, "kb-record.png", full_page=False)

    # the fee of each channel, through the diff
    await page.get_by_role("link", name="Sửa thủ tục").click()
    for i in range(3):
        await page.locator(f"#channels-fee-{i}").fill(NEW_FEE)
    await page.get_by_role("button", name="Xem trước thay đổi").click()
    diff = page.locator("#kb-diff")
    await expect(diff.locator("ins")).to_have_count(3)
    await expect(diff.locator("ins").first).to_have_text(NEW_FEE)
    await expect(diff.locator("del").first).to_have_text("Miễn phí")
    await expect(diff.locator("h3")).to_have_text(["Cách thức thực hiện: thời hạn, phí, lệ phí"])
    await shoot(page, screenshots, dash_app, "kb-diff.png", full_page=False)
    assert "Miễn phí" in await fee_answer(dash_app)  # a preview saves nothing

    await page.get_by_role("button", name="Lưu thay đổi").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã lưu.", timeout=SLOW)
    await expect(card).to_contain_text(f"Phí, lệ phí: Trực tuyến, Dịch vụ bưu chính, Trực tiếp: {NEW_FEE}")
    answer = await fee_answer(dash_app)
    assert NEW_FEE in answer and "Miễn phí" not in answer

    # back from the history: the newest change, reverted
    newest = page.locator("#kb-history tbody tr").first
    await expect(newest).to_contain_text("Sửa: Cách thức thực hiện")
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await newest.get_by_role("button", name="Khôi phục").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã khôi phục", timeout=SLOW)
    await expect(card).to_contain_text("Trực tiếp: Miễn phí")
    await expect(page.locator("#kb-history tbody tr").first).to_contain_text("Sửa: Cách thức thực hiện")
    answer = await fee_answer(dash_app)
    assert "Miễn phí" in answer and NEW_FEE not in answer
