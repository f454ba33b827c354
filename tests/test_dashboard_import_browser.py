"""An import in a real browser (Debian's Chromium driven by Playwright against a real TCP server): an admin uploads
a file with a new procedure, reads the report, applies it, watches the progress end, and the bot then answers with
the new record. The README's screenshots of it are taken on the SQLite run. On SQLite and PostgreSQL."""

import re

from browser_util import SLOW, log_in, shoot, url
from dashboard_util import account
from playwright.async_api import expect
from test_dashboard_import import answer, as_new, jsonl, kb_state, records

CODE = "9.990001"
NAME = "Cấp giấy phép thử nghiệm nuôi ong mật đô thị"


async def test_an_admin_imports_a_new_procedure_and_the_bot_answers_with_it(dash_app, server, page, screenshots):
    data = jsonl(as_new(records(dash_app)[0], CODE, NAME))
    count, revision = kb_state(dash_app)
    await log_in(page, server, account(dash_app, "admin"))
    await page.goto(url(server, "/admin/settings"))
    await page.locator("#go-imports").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Nhập, xuất dữ liệu thủ tục")

    await page.get_by_label("Tệp dữ liệu thủ tục").set_input_files(
        files=[{"name": "ong-mat.jsonl", "mimeType": "application/octet-stream", "buffer": data}]
    )
    await page.get_by_role("button", name="Tải lên và kiểm tra").click()
    await expect(page).to_have_url(re.compile(r"/admin/imports/[0-9a-f]{32}$"), timeout=SLOW)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo kiểm tra tệp “ong-mat.jsonl”")
    await expect(page.locator("#count-new")).to_have_text("1")
    await expect(page.locator("#count-refused")).to_have_text("0")
    await expect(page.locator(f'#new tr[data-code="{CODE}"]')).to_contain_text(NAME)
    await expect(page.locator("#import-status")).to_have_text("Đã kiểm tra, chờ áp dụng")
    assert kb_state(dash_app) == (count, revision)  # read, not applied
    await shoot(page, screenshots, dash_app, "import-report.png")

    await page.get_by_role("button", name="Áp dụng").click()
    result = page.locator("#import-result")
    await expect(result).to_contain_text("Đã áp dụng", timeout=SLOW)  # the progress polled until it ends
    await expect(result).to_contain_text("1 thủ tục mới")
    await expect(page.locator("#apply-form")).to_have_count(0)
    assert kb_state(dash_app) == (count + 1, revision + 1)
    await shoot(page, screenshots, dash_app, "import-done.png")

    card = answer(dash_app, "xin giấy phép nuôi ong mật ở đô thị", NAME)
    assert NAME in card.text and CODE in card.text
