"""Database access: engine, sessions, and schema upgrades through Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
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

        return engine
    # Pool: at least as many connections as the worker threads that use them (asyncio's default executor), so
    # none is opened and closed again for each transaction under load (a PostgreSQL connection is a process).
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


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
