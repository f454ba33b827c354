"""(being written)"""

from aiohttp import web


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
