"""Logging: one line per event. Callers log ids and counts, never names, phones or message text.

LOG_LEVEL applies to our own packages only. Libraries are kept at INFO or above whatever it says: at DEBUG
python-telegram-bot logs whole updates and API calls, httpx logs each URL (the bot token is in it) and
SQLAlchemy logs every statement with its parameters (already at INFO). As a second line of defence a filter on
the handler scrubs secrets, database passwords, phone numbers and e-mail addresses from every line.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TextIO

OWN = ("bot", "channels", "handlers", "knowledge", "feedback")
# The least severe level each library may log at, whatever LOG_LEVEL says (children included).
CAPS = {
    "telegram": logging.INFO,
    "aiohttp": logging.INFO,
    "aiohttp.access": logging.WARNING,  # request lines: /api/search?q=… carries the citizen's question
    "httpx": logging.WARNING,  # "HTTP Request: POST …/bot<token>/sendMessage" at INFO
    "httpcore": logging.WARNING,
    "sqlalchemy": logging.WARNING,  # the engine logs SQL with its parameters when INFO is enabled
    "alembic": logging.INFO,
    "alembic.runtime.migration": logging.WARNING,
    "bm25s": logging.WARNING,
    "asyncio": logging.INFO,
    "urllib3": logging.INFO,
    "underthesea": logging.INFO,
    "apscheduler": logging.INFO,
}
MIN_SECRET_LEN = 4  # shorter "secrets" would mangle every line

_DB_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@\s]+@", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 0912 345 678, 0912.345.678, +84 912345678, landlines 028 3812 3456; not inside a longer number or a decimal
_PHONE = re.compile(r"(?<![\w.,+])(?:\+84[\s.-]?|0)[1-9](?:[\s.-]?\d){7,9}(?!\d)")


class Redact(logging.Filter):
    """On the handler: drops libraries' DEBUG records and scrubs every record's final text (message,
    arguments, traceback). Never raises: a record that cannot be formatted is still logged, as far as is safe."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        words = set()
        for s in secrets:
            words.add(s)
            words.add(s.partition(":")[2])  # a bot token's secret part, e.g. in an URL-encoded form
        words = sorted((w for w in words if len(w) >= MIN_SECRET_LEN), key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, words))) if words else None

    def scrub(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub("[secret]", text)
        text = _DB_PASSWORD.sub(r"\1***@", text)
        text = _EMAIL.sub("[email]", text)
        return _PHONE.sub("[phone]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and record.name.partition(".")[0] not in OWN:
            return False
        try:
            text = self.scrub(_full_text(record))
        except Exception as e:
            text = f"(log record from {record.name} not shown: {type(e).__name__})"
        record.msg, record.args = text, None
        record.exc_info = record.exc_text = record.stack_info = None  # now part of the message
        return True


def _full_text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # arguments that do not fit the format: the format alone
        text = f"{record.msg} (bad log arguments)"
    if record.exc_info:
        text += "\n" + (record.exc_text or logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Log to stderr (or `stream`) at `level`; `secrets` (the bot token, the webhook secret) never appear."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(Redact(s for s in secrets if s))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, cap in CAPS.items():
        logging.getLogger(name).setLevel(max(cap, root.level))


class Throttled:
    """A warning that anyone can trigger (an unauthenticated request): at most one line per `interval`
    seconds for each message; the next line says how many were suppressed meanwhile."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0):
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(msg)
        if last is not None and now - last < self.interval:
            self._suppressed[msg] = self._suppressed.get(msg, 0) + 1
            return
        self._last[msg] = now
        suppressed = self._suppressed.pop(msg, 0)
        if suppressed:
            self.logger.warning(msg + " (%d more suppressed)", *args, suppressed)
        else:
            self.logger.warning(msg, *args)
