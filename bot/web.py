"""The app's HTTP server (aiohttp): health, metrics, search API, the Telegram and Zalo webhooks, the portal web chat,
the staff dashboard."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text

import dashboard
from bot import metrics
from bot.app import App

if TYPE_CHECKING:
    from bot.telegram import TelegramChannel
    from channels.webchat.channel import WebChatChannel
    from channels.zalo.channel import ZaloChannel

APP_KEY = web.AppKey("app", App)
CHANNELS_KEY = web.AppKey("channels", dict)
HEALTH_TIMEOUT = 5.0


def _probe(app: App) -> tuple[bool, int | None]:
    """Whether the database answers, and how many procedures are served (None when it does not)."""
    try:
        with app.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True, len(app.kb)
    except Exception:
        return False, None


async def health(request: web.Request) -> web.Response:
    """200 "ok" when the database and every channel are up; 200 "degraded" when a channel's API is unreachable
    (updates it posts are still stored); 503 when the database is down. The work runs in a thread: the server
    keeps answering meanwhile."""
    app: App = request.app[APP_KEY]
    try:
        database, procedures = await asyncio.wait_for(asyncio.to_thread(_probe, app), HEALTH_TIMEOUT)
    except TimeoutError:
        database, procedures = False, None
    channels = {name: ch.status for name, ch in request.app[CHANNELS_KEY].items()}
    status = "down" if not database else "ok" if all(v == "up" for v in channels.values()) else "degraded"
    body = {
        "status": status,
        "procedures": procedures,
        "database": "up" if database else "down",
        "channels": channels,
    }
    return web.json_response(body, status=503 if not database else 200)


async def prometheus(request: web.Request) -> web.Response:
    body, content_type = await asyncio.to_thread(metrics.render, request.app[APP_KEY].factory)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def search(request: web.Request) -> web.Response:
    app: App = request.app[APP_KEY]
    q = request.query.get("q", "").strip()
    if not q:
        return web.json_response({"error": "Thiếu tham số q (câu hỏi)."}, status=400)
    if len(q) > 2000:
        return web.json_response({"error": "Câu hỏi quá dài (tối đa 2000 ký tự)."}, status=400)
    r = app.kb.search(q)
    return web.json_response(
        {
            "decision": r.decision,
            "aspects": list(r.aspects),
            "confidence": r.confidence,
            "hits": [{"code": h.code, "name": h.name, "score": h.score} for h in r.hits],
        }
    )


def make_web_app(
    app: App,
    telegram: TelegramChannel | None = None,
    wake: asyncio.Event | None = None,
    zalo: ZaloChannel | None = None,
    webchat: WebChatChannel | None = None,
) -> web.Application:
    """The HTTP app: health, search API, the staff dashboard (whose actions set `wake`, so the outbox worker
    tells the citizen at once); the webhook routes of a Telegram channel in webhook mode and of a Zalo channel; the
    web chat's page, widget and API."""
    webapp = web.Application(client_max_size=1024 * 1024)
    webapp[APP_KEY] = app
    channels = {"telegram": telegram, "zalo": zalo, "webchat": webchat}
    webapp[CHANNELS_KEY] = {name: ch for name, ch in channels.items() if ch is not None}
    webapp.router.add_get("/healthz", health)
    webapp.router.add_get("/metrics", prometheus)
    webapp.router.add_get("/api/search", search)
    dashboard.setup(webapp, app, wake)
    if telegram is not None and telegram.webhook_mode:
        webapp.router.add_post(app.settings.telegram_webhook_path, telegram.webhook)
    if zalo is not None:
        webapp.router.add_post(zalo.webhook_path, zalo.webhook)
    if webchat is not None:
        webchat.routes(webapp)
    return webapp
