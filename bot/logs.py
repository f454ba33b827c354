"""Logging: one line per event. Callers log ids and counts, never names, phones or message text."""

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiohttp.access", "alembic.runtime.migration", "bm25s"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
