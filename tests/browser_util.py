"""Helpers for the browser tests: viewport sizes, the page's URL on a test server, README screenshots, logging in
through the form as a person would."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestServer
from dashboard_util import PASSWORD
from playwright.async_api import expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SLOW = 15_000  # ms: a safety net for expect(), never a timing assertion


def url(srv: TestServer, path: str) -> str:
    return str(srv.make_url(path))


async def shoot(page, folder, app, name: str, full_page: bool = True) -> None:
    """A screenshot for the README, on the SQLite run only (the PostgreSQL one would show the same)."""
    if app.settings.db_url.startswith("sqlite"):
        await page.screenshot(path=str(folder / name), full_page=full_page)


async def log_in(page, srv: TestServer, username: str, folder=None, app=None) -> None:
    """Through the login form, as a person would (a screenshot of the form when `folder` is given)."""
    await page.goto(url(srv, "/admin/login"))
    await expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    if folder is not None:
        await shoot(page, folder, app, "login.png", full_page=False)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page).to_have_url(re.compile(r"/admin/inbox$"))
    await expect(page.locator("header.top .who")).to_contain_text(username)
