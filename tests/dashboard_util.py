"""Helpers for the dashboard tests: accounts, a logged-in HTTP client, the CSRF token of a page."""

from __future__ import annotations

import re
import uuid

from aiohttp.test_utils import TestClient

from bot.users import add_user

PASSWORD = "mat-khau-dai-du-12"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def account(app, role: str = "staff", queues=(), name: str | None = None) -> str:
    """A new account (a unique name unless given); returns the username."""
    username = name or f"{role[:3]}-{uuid.uuid4().hex[:8]}"
    add_user(app.factory, username, PASSWORD, role, list(queues))
    return username


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (from the page logged in to)."""
    r = await client.get("/admin/login")
    token = csrf_of(await r.text())
    r = await client.post(
        "/admin/login", data={"csrf": token, "username": username, "password": password}, allow_redirects=False
    )
    assert r.status == 303, await r.text()
    r = await client.get(r.headers["Location"])
    assert r.status == 200, await r.text()
    return csrf_of(await r.text())
