import contextlib
import os
import uuid
from contextlib import contextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fake_telegram import SECRET, FakeBotAPI, start_channel
from sqlalchemy import create_engine, text

from bot import db
from bot.app import build
from bot.settings import load_settings
from bot.web import make_web_app

STAFF_CHAT = "-100777"  # the staff group of `any_app`
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


@contextmanager
def postgres_database():
    """A fresh PostgreSQL database (its URL), dropped afterwards.

    Without the server the test fails when REQUIRE_POSTGRES=1 (CI), and is skipped with a reason otherwise.
    """
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_app(request, tmp_path_factory):
    """The app with the bundled knowledge base on SQLite and on PostgreSQL, once per test module; staff
    announcements go to STAFF_CHAT."""
    base = tmp_path_factory.mktemp("app")
    with contextlib.ExitStack() as stack:
        sqlite = f"sqlite:///{base / 'app.db'}"
        url = sqlite if request.param == "sqlite" else stack.enter_context(postgres_database())
        built = build(load_settings(database_url=url, data_dir=base / "data", staff_telegram_chat_id=STAFF_CHAT))
        yield built
        built.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app on SQLite with the bundled knowledge base loaded (built once per test run)."""
    path = tmp_path_factory.mktemp("app") / "app.db"
    built = build(load_settings(database_url=f"sqlite:///{path}"))
    yield built
    built.engine.dispose()


@pytest.fixture
def empty_app(sqlite_url):
    """The app with the schema but no procedures."""
    a = build(load_settings(database_url=sqlite_url), prepare=False)
    db.upgrade(a.engine)
    yield a
    a.engine.dispose()


# ---- Telegram against the fake Bot API ----------------------------------------------------------------------


@pytest.fixture
async def api():
    """The fake Bot API server on 127.0.0.1."""
    fake = await FakeBotAPI().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def polling(app, api):
    """The bundled-KB app's Telegram channel, long polling the fake server."""
    channel = await start_channel(app, api)
    yield channel
    await channel.stop()


@pytest.fixture
async def any_channel(any_app, api):
    """`any_app`'s Telegram channel (SQLite and PostgreSQL), long polling the fake server."""
    channel = await start_channel(any_app, api)
    yield channel
    await channel.stop()


@pytest.fixture
async def webhook(app, api):
    """The channel in webhook mode, and an HTTP client of the app's server: (channel, client)."""
    settings = {
        "telegram_mode": "webhook",
        "telegram_webhook_secret": SECRET,
        "public_base_url": "https://bot.example.vn",
    }
    # no outbox worker: what a test sees at the fake API is this test's replies, not an earlier test's leftovers
    channel = await start_channel(app, api, outbox_interval=None, **settings)
    client = TestClient(TestServer(make_web_app(app, channel)))
    await client.start_server()
    yield channel, client
    await client.close()
    await channel.stop()


# ---- the staff dashboard ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def dash_app(request, tmp_path_factory):
    """The app for dashboard tests, one per test module, on SQLite and on PostgreSQL (feedback items and
    accounts made by one module do not reach another)."""
    base = tmp_path_factory.mktemp("dash")
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{base / 'app.db'}" if request.param == "sqlite" else stack.enter_context(postgres_database())
        built = build(load_settings(database_url=url, data_dir=base / "data", staff_telegram_chat_id=STAFF_CHAT))
        yield built
        built.engine.dispose()


@pytest.fixture
async def dash(dash_app):
    """An HTTP client of `dash_app`'s server (dashboard included), not logged in."""
    client = TestClient(TestServer(make_web_app(dash_app)))
    await client.start_server()
    yield client
    await client.close()


# ---- a real browser: Debian's Chromium driven by Playwright ---------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    """Headless Chromium. Without it the test fails when REQUIRE_BROWSER=1 (CI), and is skipped with a reason
    otherwise."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"Chromium is required but missing at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def server(dash_app):
    """`dash_app`'s server (the dashboard alone) on a real port of 127.0.0.1, for the browser."""
    srv = TestServer(make_web_app(dash_app))
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def page(browser):
    """A desktop-sized page in Vietnamese, in a context of its own."""
    from browser_util import DESKTOP, SLOW

    ctx = await browser.new_context(viewport=DESKTOP, locale="vi-VN")
    ctx.set_default_timeout(SLOW)
    yield await ctx.new_page()
    await ctx.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where browser tests save screenshots: SCREENSHOTS_DIR (`make screenshots` sets docs/screenshots), else a
    temporary folder."""
    from pathlib import Path

    target = os.environ.get("SCREENSHOTS_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
