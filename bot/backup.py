"""`db backup` and `db restore`: a consistent copy of the whole database, taken while the app runs.

SQLite goes through its online backup API (a snapshot of one moment, whatever the app writes meanwhile);
PostgreSQL through `pg_dump --format=custom` and `pg_restore`, which take the connection from the URL and the
password from the environment, never from the command line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.db import DatabaseError


def backup(db_url: str, path: str | os.PathLike) -> None:
    """Write a backup of the database at `db_url` to `path` (replaced whole, only once the copy is complete)."""
    url = make_url(db_url)
    target = Path(path)
    if not target.parent.is_dir():
        raise DatabaseError(f"no folder {target.parent} to write the backup in")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_file(url, must_exist=True), partial, self_contained=True)
        else:
            _pg("pg_dump", url, ["--format=custom", f"--file={partial}"])
        partial.replace(target)
    except OSError as e:
        raise DatabaseError(f"cannot write the backup to {target}: {e.strerror or e}") from None
    finally:
        partial.unlink(missing_ok=True)


def restore(db_url: str, path: str | os.PathLike) -> None:
    """Replace the content of the database at `db_url` with the backup at `path`."""
    url = make_url(db_url)
    source = Path(path)
    if not source.is_file():
        raise DatabaseError(f"no backup file at {source}")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(source, _sqlite_file(url, must_exist=False), self_contained=False)
    else:
        _pg("pg_restore", url, ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(source)])


def _sqlite_file(url: URL, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise DatabaseError("an in-memory SQLite database has nothing to back up or restore")
    file = Path(url.database)
    if must_exist and not file.is_file():
        raise DatabaseError(f"no SQLite database at {file}")
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


def _sqlite_copy(source: Path, target: Path, self_contained: bool) -> None:
    """Copy one SQLite database into another page by page, as one consistent snapshot of `source`.

    `self_contained` turns the copy's journal mode to DELETE, so that the backup is a single file that needs
    no write-ahead log beside it.
    """
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(target, timeout=30)
            try:
                src.backup(dst)
                if self_contained:
                    dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise DatabaseError(f"SQLite copy from {source} to {target} failed: {e}") from None


def _pg(tool: str, url: URL, args: list[str]) -> None:
    """Run pg_dump or pg_restore against the database of `url`; its password travels in PGPASSWORD."""
    if not url.get_backend_name().startswith("postgresql"):
        raise DatabaseError(f"backup and restore support SQLite and PostgreSQL, not {url.get_backend_name()}")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    command = [tool, f"--dbname={_conninfo(url)}", *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DatabaseError(f"{tool} not found: install the PostgreSQL client (postgresql-client)") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit code {done.returncode}"
        raise DatabaseError(f"{tool} failed: {reason}")


def _conninfo(url: URL) -> str:
    """A libpq connection string for the URL, without its password: `host=… port=… user=… dbname=…` and any
    libpq parameters of the query (sslmode, a socket directory as host …)."""
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    return " ".join(f"{k}={_quoted(str(v))}" for k, v in params.items() if v is not None and v != "")


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
