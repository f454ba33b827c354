"""Database access: engine, sessions, and schema upgrades through Alembic."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
WRITE_WAIT = 30.0  # seconds, as SQLite's busy timeout
POOL_SIZE, POOL_OVERFLOW = 12, 20


class DatabaseError(Exception):
    """The database cannot be reached or upgraded; the message is one line for the operator."""


def all_metadata() -> list[MetaData]:
    """Every domain's tables, for Alembic's autogenerate and for tests."""
    from bot.inbox import metadata as inbox_md
    from bot.leases import metadata as leases_md
    from bot.users import metadata as users_md
    from channels.webchat.tables import metadata as webchat_md
    from channels.zalo.tables import metadata as zalo_md
    from dashboard.tables import metadata as dashboard_md
    from feedback.tables import metadata as feedback_md
    from handlers.store import metadata as conversations_md
    from knowledge.store import metadata as knowledge_md

    return [
        knowledge_md,
        users_md,
        conversations_md,
        feedback_md,
        dashboard_md,
        inbox_md,
        leases_md,
        zalo_md,
        webchat_md,
    ]


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _OneWriter(engine)
        return engine
    # Pool: at least as many connections as the worker threads that use them (asyncio's default executor), so
    # none is opened and closed again for each transaction under load (a PostgreSQL connection is a process).
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


class _OneWriter:
    """SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps 1, 2, 5 … up
    to 100 ms between looks, so under load a write waits far longer than the one before it takes. Here this
    process's connections queue for writing on a lock instead: taken before a connection's first write, given
    back right after its commit or rollback. One that waits `WRITE_WAIT` goes on without it (SQLite's own busy
    timeout then applies, as it would without this); other processes are still kept apart by SQLite alone."""

    def __init__(self, engine: Engine):
        self.lock = threading.Lock()
        self.holder = None  # the DBAPI connection holding the lock
        event.listen(engine, "before_cursor_execute", self._before)
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._then_release(getattr(dialect, name)))
        # A connection returned to the pool or dropped without either (an error inside the commit) lets go too.
        event.listen(engine.pool, "checkin", lambda dbapi_conn, _record: self._release(dbapi_conn))
        event.listen(engine.pool, "invalidate", lambda dbapi_conn, _record, _e: self._release(dbapi_conn))

    def _before(self, conn, _cursor, statement: str, *_args) -> None:
        raw = conn.connection.dbapi_connection
        if self.holder is not raw and WRITE.match(statement) and self.lock.acquire(timeout=WRITE_WAIT):
            self.holder = raw

    def _then_release(self, end):
        def ended(connection) -> None:
            try:
                end(connection)
            finally:
                self._release(getattr(connection, "dbapi_connection", connection))

        return ended

    def _release(self, raw) -> None:
        if raw is not None and self.holder is raw:
            self.holder = None
            self.lock.release()


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
        raise DatabaseError(f"cannot reach the database at {engine.url.render_as_string()}: {reason}") from None


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to every head, so that independent migration branches all apply."""
    check_connection(engine)
    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as e:
        raise DatabaseError(f"database upgrade failed: {str(e).splitlines()[0]}") from None
