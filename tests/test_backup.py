"""`db backup` and `db restore` through the real CLI, on SQLite and on PostgreSQL: taken while a write is under
way, the backup holds what was committed; a restore brings every table back exactly as it was."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from feedback_util import BOB, file_item, migrated
from sqlalchemy import MetaData, delete, func, insert, select

from bot import backup
from bot.db import DatabaseError
from bot.users import add_user, users


def cli(args, url, cwd):
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table in the database, migrations' bookkeeping included."""
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as c:
        return {name: sorted(map(tuple, c.execute(select(t))), key=repr) for name, t in tables.tables.items()}


def test_backup_while_writing_then_restore(any_url, tmp_path):
    engine, factory = migrated(any_url)
    first = file_item(factory)
    add_user(factory, "lan", "mật khẩu đủ dài", "admin")
    before = snapshot(engine)
    assert before["feedback_items"] and before["users"] and before["alembic_version"]

    # A write under way while the backup runs: it neither blocks the backup nor gets into it.
    with engine.connect() as writer:
        pending = writer.begin()
        writer.execute(
            insert(users).values(username="dang-ghi", password_hash="x", role="staff", created_at=datetime.now(UTC))
        )
        out = tmp_path / "sao-luu.bak"
        r = cli(["db", "backup", str(out)], any_url, tmp_path)
        pending.commit()
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"backed up the database to {out}\n"
    assert out.stat().st_size > 0 and not (tmp_path / "sao-luu.bak.partial").exists()

    # Changes after the backup: a new item, an account gone.
    file_item(factory, citizen=BOB)
    with factory.begin() as s:
        s.execute(delete(users).where(users.c.username == "lan"))
    assert snapshot(engine) != before
    engine.dispose()

    r = cli(["db", "restore", str(out)], any_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"restored the database from {out}\n"
    assert snapshot(engine) == before

    # The restored database takes new rows (PostgreSQL's sequences come back with the tables).
    second = file_item(factory, citizen=BOB)
    assert second.code != first.code
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(users)) == 1
    engine.dispose()


def test_restore_refuses_a_missing_file(any_url, tmp_path):
    engine, _ = migrated(any_url)
    before = snapshot(engine)
    r = cli(["db", "restore", str(tmp_path / "khong-co.bak")], any_url, tmp_path)
    assert r.returncode == 2
    assert r.stderr == f"error: no backup file at {tmp_path / 'khong-co.bak'}\n"
    assert snapshot(engine) == before
    engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup(any_url, tmp_path):
    engine, _ = migrated(any_url)
    before = snapshot(engine)
    junk = tmp_path / "junk.bak"
    junk.write_text("không phải bản sao lưu\n" * 100)
    r = cli(["db", "restore", str(junk)], any_url, tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert snapshot(engine) == before
    engine.dispose()


def test_backup_errors_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(DatabaseError, match="^no SQLite database at "):
        backup.backup(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "x.bak")
    with pytest.raises(DatabaseError, match="^no folder .* to write the backup in$"):
        backup.backup(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "missing" / "x.bak")
    with pytest.raises(DatabaseError, match="^backup and restore support SQLite and PostgreSQL, not mysql$"):
        backup.backup("mysql://u@localhost/db", tmp_path / "x.bak")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump to be found
    with pytest.raises(DatabaseError, match="^pg_dump not found: install the PostgreSQL client"):
        backup.backup("postgresql+psycopg://u:secret@localhost/db", tmp_path / "x.bak")


def test_password_travels_in_the_environment_only(tmp_path, monkeypatch):
    """pg_dump gets host, port, user and database on its command line, the password in PGPASSWORD."""
    seen = {}

    def fake_run(command, env, **_):
        seen.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 1, "", "pg_dump: error: connection refused\n")

    monkeypatch.setattr(backup.subprocess, "run", fake_run)
    url = "postgresql+psycopg://tthc:s3cr%27t@db.example:5433/tthc?sslmode=require"
    with pytest.raises(DatabaseError, match="^pg_dump failed: pg_dump: error: connection refused$"):
        backup.backup(url, tmp_path / "x.bak")
    assert "s3cr't" not in " ".join(seen["command"]) and seen["env"]["PGPASSWORD"] == "s3cr't"
    assert seen["command"][:2] == [
        "pg_dump",
        "--dbname=host='db.example' port='5433' user='tthc' dbname='tthc' sslmode='require'",
    ]
