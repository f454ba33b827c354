import pytest
from sqlalchemy import inspect

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
