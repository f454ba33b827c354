import threading

import pytest
from sqlalchemy import event, inspect, text

from bot import db
from bot.settings import SettingsError, load_settings


def test_migrations_run_on_sqlite_and_postgres(any_url):
    engine = db.make_engine(any_url)
    db.upgrade(engine)
    db.upgrade(engine)  # a second upgrade is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"procedures", "procedure_changes", "kb_revision", "users", "alembic_version"} <= tables
    engine.dispose()


def test_unreachable_database_gives_one_clear_line():
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(db.DatabaseError) as e:
        db.upgrade(engine)
    assert "cannot reach the database" in str(e.value)
    assert "\n" not in str(e.value)


def test_default_database_is_sqlite_under_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    assert load_settings().db_url == f"sqlite:///{tmp_path / 'd' / 'app.db'}"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "eighty"), ("PORT", "70000"), ("DATABASE_URL", "not a url"), ("LOG_LEVEL", "LOUD")],
)
def test_malformed_setting_names_the_setting(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert name in str(e.value)
    assert "\n" not in str(e.value)


def test_env_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    (tmp_path / ".env").write_text("PORT=9191\n")
    assert load_settings().port == 9191



def test_sqlite_writers_of_one_process_queue_in_the_process_not_in_sqlites_busy_handler(tmp_path):
    """With SQLite's busy timeout at 0, a second writer would fail at once with "database is locked" if it reached
    SQLite while the first holds the write lock: it waits in the process until the first ends, and reads never
    wait."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    event.listen(engine, "connect", lambda dbapi_conn, _record: dbapi_conn.execute("PRAGMA busy_timeout=0"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    done: list[str] = []

    def write(x: int) -> None:
        with engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
        done.append(f"wrote {x}")

    def read() -> None:
        with engine.connect() as c:
            c.execute(text("SELECT count(*) FROM t")).scalar()
        done.append("read")

    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        reader, second = threading.Thread(target=read), threading.Thread(target=write, args=(2,))
        reader.start()
        reader.join(5)
        second.start()
        second.join(0.3)
        assert done == ["read"] and second.is_alive()  # the read went ahead; the write waits for the first
        conn.commit()
        second.join(5)
    assert done == ["read", "wrote 2"]
    with engine.connect() as conn:  # a write rolled back, or left without commit, lets the next one go
        conn.execute(text("INSERT INTO t VALUES (3)"))
        conn.rollback()
        write(4)
        conn.execute(text("INSERT INTO t VALUES (5)"))
    write(6)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2, 4, 6]
    engine.dispose()
