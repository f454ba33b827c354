"""The unanswered questions and the answer quality pages in a real browser (Debian's Chromium, Playwright, a real TCP
server): a citizen's question fails through the dialog, an admin attaches its group to the procedure the page offers,
and the same question in the chat now gets that procedure; the quality page sorts by a column. Screenshots
`unanswered.png` and `quality.png` on the SQLite run. This module's app is its own, so the knowledge base it changes
is no other test's."""

import re
from datetime import timedelta

from browser_util import SLOW, log_in, shoot, url
from citizen import Citizen
from dashboard_util import account
from playwright.async_api import expect
from sqlalchemy import insert

from handlers import texts
from handlers.store import Journal, answer_ratings, now

FOOD = "xin chứng nhận vệ sinh an toàn thực phẩm cho bếp ăn"  # no procedure found before (asserted below)
FOOD_CODE = "2.001827"
NEIGHBOURS = (  # (reason, question, code, what was missing): other questions of a working month
    ("none", "xin chung nhan ve sinh an toan thuc pham cho bep an tap the", None, None),
    ("not_listed", "xin giấy phép bắn pháo hoa trong đám cưới", None, None),
    ("none", "thủ tục xin giấy phép khai thác cát sỏi lòng sông", None, None),
    ("unhelpful", "đăng ký kết hôn với người Hàn Quốc cần giấy tờ gì", "2.000806", "thiếu hướng dẫn dịch thuật"),
    ("no_aspect", "đăng ký hộ kinh doanh mất bao lâu", "1.001612", "Thời hạn giải quyết"),
)  # fmt: skip
RATINGS = {"1.000656": (14, 2), "1.000894": (9, 7), "2.000806": (3, 6), "1.001612": (21, 4), "1.004359": (2, 0)}


def working_month(app) -> None:
    """The questions and ratings around the citizen's, as the dialog keeps them."""
    with app.engine.begin() as c:
        journal = Journal(c, "telegram")
        for reason, question, code, missing in NEIGHBOURS:
            journal.review(reason, question, code, missing)
        c.execute(
            insert(answer_ratings),
            [
                {"at": now() - timedelta(days=i % 20), "channel": "telegram", "code": code, "helpful": i < yes}
                for code, (yes, no) in RATINGS.items()
                for i in range(yes + no)
            ],
        )


async def test_an_admin_attaches_a_failed_question_and_the_chat_answers_it(dash_app, server, page, screenshots):
    working_month(dash_app)
    citizen = Citizen(dash_app.conversations, channel="telegram")
    assert citizen.say(FOOD).text == texts.NOT_FOUND

    await log_in(page, server, account(dash_app, "admin"))
    await page.goto(url(server, "/admin/settings"))
    await page.get_by_role("link", name="Câu hỏi chưa trả lời được").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Câu hỏi chưa trả lời được")
    group = page.locator("section.review-group").filter(has=page.get_by_role("heading", name=FOOD))
    await expect(group).to_have_count(1)
    await expect(group.locator(".badge").first).to_have_text("2 câu hỏi")  # with and without diacritics
    await shoot(page, screenshots, dash_app, "unanswered.png")

    await group.get_by_role("radio", name=re.compile(re.escape(FOOD_CODE))).check()
    await group.get_by_role("radio", name="Câu hỏi mẫu").check()
    # the page after it searches the changed knowledge base: its index is rebuilt first (about 5 s on an idle machine)
    await group.get_by_role("button", name="Gắn vào thủ tục").click(timeout=4 * SLOW)
    await expect(page.get_by_role("status")).to_contain_text("Đã gắn các câu hỏi vào thủ tục")
    await expect(group).to_have_count(0)  # resolved: no longer listed

    again = Citizen(dash_app.conversations, channel="telegram").say(FOOD)
    assert f"Mã thủ tục: {FOOD_CODE}" in again.text, again.text

    await page.get_by_role("link", name="Đánh giá câu trả lời").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Đánh giá câu trả lời")
    rows = page.locator("#quality tbody tr")
    await expect(rows).to_have_count(len(RATINGS))
    await expect(rows.first).to_have_attribute("data-code", "1.001612")  # the most ratings first
    await page.locator("#sort-share").click()  # largest share first
    await expect(page).to_have_url(re.compile(r"sort=share&dir=desc"))
    await expect(rows.first).to_have_attribute("data-code", "1.004359")
    await page.locator("#sort-share").click()  # and the other way round
    await expect(page).to_have_url(re.compile(r"sort=share&dir=asc"))
    await expect(rows.first).to_have_attribute("data-code", "2.000806")
    await expect(rows.first).to_contain_text("thiếu hướng dẫn dịch thuật")
    await expect(rows.first.get_by_role("link", name="2.000806")).to_have_attribute("href", "/admin/kb/2.000806")
    await page.locator("#sort-unhelpful").click()
    await shoot(page, screenshots, dash_app, "quality.png")
