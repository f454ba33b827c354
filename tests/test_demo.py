"""`make demo` end to end: the real `python -m bot demo` process serves the dashboard with the admin account it
prints and a few demo items, while the terminal chat runs; a second run keeps the items and changes the password."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import aiohttp
from dashboard_util import csrf_of

PRINTED = re.compile(r"Staff dashboard: (http://\S+)/admin\s+·\s+user (\S+)\s+·\s+password (\S+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict) -> tuple[subprocess.Popen, str, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if m := PRINTED.search(line):
            return proc, *m.groups()
    raise AssertionError("the demo did not print the dashboard account:\n" + "".join(seen))


def _stop(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate("xin chào\nthoát\n", timeout=120)
    assert proc.returncode == 0, out
    return out


async def _login(base: str, user: str, password: str) -> tuple[int, str]:
    """Log in through the form; the status of the login POST and the inbox page's HTML."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/admin/login") as r:
            token = csrf_of(await r.text())
        data = {"csrf": token, "username": user, "password": password}
        async with http.post(f"{base}/admin/login", data=data, allow_redirects=False) as r:
            if r.status != 303:
                return r.status, ""
        async with http.get(f"{base}/admin/inbox") as r:
            return 303, await r.text()


async def test_the_demo_serves_the_dashboard_with_its_printed_account_and_demo_items(tmp_path):
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "PORT": str(_free_port()),
        "TELEGRAM_BOT_TOKEN": "",
    }
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    proc, base, user, password = _start(env)
    try:
        status, inbox = await _login(base, user, password)
        assert status == 303
        codes = set(re.findall(r"\bPA-[A-Z0-9]{8}\b", inbox))
        assert len(codes) == 3, inbox
        assert "Đang xử lý" in inbox  # one of them is already claimed
    finally:
        out = _stop(proc)
    assert "PA-" not in out  # the demo items' acknowledgements are history, not news in the chat

    proc, base, user2, password2 = _start(env)
    try:
        assert user2 == user and password2 != password
        assert (await _login(base, user, password))[0] != 303  # the old password no longer opens it
        status, inbox = await _login(base, user, password2)
        assert status == 303 and set(re.findall(r"\bPA-[A-Z0-9]{8}\b", inbox)) == codes  # not filed twice
    finally:
        _stop(proc)
