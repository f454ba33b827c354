"""The staff dashboard under /admin: server-rendered pages (aiohttp-jinja2) with htmx for partial updates,
vendored and pinned (static/htmx-2.0.11.min.js), so it runs on a network without internet."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.app import App
from dashboard import admin, admin_config, filters, inbox, item, kb, kb_import, login, reports, unanswered, vocabulary
from dashboard.auth import Sessions, Throttle
from dashboard.web import (
    APP_KEY,
    PREFIX,
    SECURE_KEY,
    SESSIONS_KEY,
    THROTTLE_KEY,
    WAKE_KEY,
    security_middleware,
)

HERE = Path(__file__).parent


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{PREFIX}/inbox")


def setup(webapp: web.Application, app: App, wake: asyncio.Event | None = None) -> None:
    """Add the dashboard's routes, templates and middlewares to the app's HTTP server."""
    webapp[APP_KEY] = app
    webapp[SESSIONS_KEY] = Sessions(
        app.factory,
        idle=timedelta(minutes=app.settings.dashboard_idle_minutes),
        lifetime=timedelta(hours=app.settings.dashboard_session_hours),
    )
    webapp[THROTTLE_KEY] = Throttle(app.factory)
    webapp[SECURE_KEY] = app.settings.secure_cookies
    if wake is not None:
        webapp[WAKE_KEY] = wake
    env = aiohttp_jinja2.setup(
        webapp,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    filters.install(env)
    webapp[aiohttp_jinja2.static_root_key] = f"{PREFIX}/static"
    webapp.middlewares.append(security_middleware)
    router = webapp.router
    router.add_get(PREFIX, _home)
    router.add_get(f"{PREFIX}/", _home)
    router.add_static(f"{PREFIX}/static/", HERE / "static", append_version=True)
    for part in (login, inbox, item, reports, admin, admin_config, kb_import, kb, unanswered, vocabulary):
        part.add_routes(router)
