"""The app's HTTP server (aiohttp): health, search API, the Telegram webhook; later the web chat and dashboard."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

import dashboard
from bot.app import App

if TYPE_CHECKING:
    from bot.telegram import TelegramChannel

APP_KEY = web.AppKey("app", App)


async def health(request: web.Request) -> web.Response:
    app: App = request.app[APP_KEY]
    return web.json_response({"status": "ok", "procedures": len(app.kb)})


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
    app: App, telegram: TelegramChannel | None = None, wake: asyncio.Event | None = None
) -> web.Application:
    """The HTTP app: health, search API, the staff dashboard (whose actions set `wake`, so the outbox worker
    tells the citizen at once); with a Telegram channel in webhook mode, its webhook route too."""
    webapp = web.Application(client_max_size=1024 * 1024)
    webapp[APP_KEY] = app
    webapp.router.add_get("/healthz", health)
    webapp.router.add_get("/api/search", search)
    dashboard.setup(webapp, app, wake)
    if telegram is not None and telegram.webhook_mode:
        webapp.router.add_post(app.settings.telegram_webhook_path, telegram.webhook)
    return webapp
