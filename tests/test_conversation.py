"""Conversation state in the database: duplicates, order, other processes, restarts (SQLite and PostgreSQL)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from citizen import Citizen
from sqlalchemy import func, select, update

from bot import db
from bot.app import build
from bot.settings import load_settings
from handlers import store
from handlers import texts as d
from handlers.core import Incoming
from knowledge import store as kb_store

FIXTURE = Path(__file__).parent / "fixtures" / "portal" / "records.jsonl"


@pytest.fixture
def small_app(any_url):
    """The app on SQLite or PostgreSQL with the 33 portal fixture records."""
    a = build(load_settings(database_url=any_url), prepare=False)
    db.upgrade(a.engine)
    kb_store.import_file(a.factory, FIXTURE, actor="test")
    yield a
    a.engine.dispose()


def another_process(a):
    """What a second process on the same database has: its own engine, locks and dialog."""
    b = build(load_settings(database_url=a.settings.db_url), prepare=False)
    return b


def test_migration_matches_the_tables(small_app):
    with small_app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    mine = set(store.metadata.tables)
    relevant = [x for x in diff if any(t in repr(x) for t in mine)]
    assert relevant == []


def test_the_same_update_twice_is_handled_once(small_app):
    c = Citizen(small_app.conversations)
    msg = c.incoming("/start", message_id="update-42")
    assert c.send(msg)[0].text == d.WELCOME
    assert c.send(msg) == []
    assert c.state.turn == 1
    # another process receiving the same delivery drops it too
    other = another_process(small_app)
    assert other.conversations.handle_sync(msg) == []
    # the same id on another channel is another message
    assert small_app.conversations.handle_sync(Incoming("zalo", c.user, c.user, "/start", message_id="update-42"))
    other.engine.dispose()


def test_a_duplicate_racing_the_original_is_dropped(small_app):
    apps = [small_app, another_process(small_app), another_process(small_app)]
    c = Citizen(small_app.conversations)
    msg = c.incoming("/menu", message_id="race-1")
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda a: a.conversations.handle_sync(msg), apps))
    assert sorted(len(r) for r in results) == [0, 0, 1]
    assert c.state.turn == 1
    for a in apps[1:]:
        a.engine.dispose()


def test_messages_of_one_user_from_several_processes_are_all_kept(small_app):
    """No lost update: each process reads, changes and writes the state under a row lock / version check."""
    apps = [small_app, another_process(small_app), another_process(small_app)]
    c = Citizen(small_app.conversations)
    messages = [(apps[i % 3], c.incoming("/menu")) for i in range(24)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda am: am[0].conversations.handle_sync(am[1]), messages))
    assert all(len(r) == 1 for r in results)
    assert c.state.turn == 24
    with small_app.engine.connect() as conn:
        row = store.load(conn, c.channel, c.user, lock=False)
        handled = conn.execute(
            select(func.count())
            .select_from(store.processed_messages)
            .where(store.processed_messages.c.channel == "test")
        ).scalar()
    assert row.version == 24 and handled >= 24
    for a in apps[1:]:
        a.engine.dispose()


def test_a_stale_write_is_refused(small_app):
    """The version check itself: a save based on an old read fails instead of overwriting."""
    c = Citizen(small_app.conversations)
    c.say("/start")
    with small_app.engine.connect() as first:
        old = store.load(first, c.channel, c.user, lock=False)
    c.say("/menu")  # someone else saved meanwhile
    with small_app.engine.connect() as conn, pytest.raises(store.Conflict), conn.begin():
        store.save(conn, old, c.channel, c.user, c.user, {"turn": 99})
    assert c.state.turn == 2


async def test_two_messages_at_once_are_handled_in_order(app):
    c = Citizen(app.conversations)
    first = c.incoming("đăng ký khai tử")
    second = c.incoming("thế còn lệ phí?")
    a, b = await asyncio.gather(app.conversations.handle(first), app.conversations.handle(second))
    assert "Mã thủ tục: 1.000656" in a[0].text
    assert "Mã thủ tục: 1.000656" in b[0].text and "Phí, lệ phí:" in b[0].text
    assert c.state.turn == 2


async def test_many_users_at_once(app):
    citizens = [Citizen(app.conversations) for _ in range(8)]
    results = await asyncio.gather(*(app.conversations.handle(c.incoming("/start")) for c in citizens))
    assert all(r[0].text == d.WELCOME for r in results)
    assert len(app.conversations._locks) == 0  # locks are dropped when nobody waits


def test_a_restart_continues_the_conversation(app):
    c = Citizen(app.conversations)
    c.say("đăng ký khai tử")
    offer = None
    for q in ("giấy phép", "gia hạn giấy phép"):
        reply = c.say(q)
        if any(b.group == "pick" for b in reply.buttons):  # candidates to choose from
            offer = reply
            break
    assert offer is not None
    offered = c.state.offered
    restarted = build(load_settings(database_url=app.settings.db_url), prepare=False)
    try:
        again = Citizen(restarted.conversations, user=c.user)
        # a button of the card sent before the restart still picks from the stored candidates
        card = again.tap(again.button("2. ", offer).payload)
        assert f"Mã thủ tục: {offered[1]}" in card.text
        reply = again.say("thế còn lệ phí?")
        assert f"Mã thủ tục: {offered[1]}" in reply.text and "Phí, lệ phí:" in reply.text
    finally:
        restarted.engine.dispose()


def test_a_restart_on_postgres_too(small_app):
    c = Citizen(small_app.conversations)
    c.say("gia hạn tạm trú")
    code = c.state.code
    assert code
    restarted = another_process(small_app)
    try:
        reply = Citizen(restarted.conversations, user=c.user).say("thế còn lệ phí?")
        assert f"Mã thủ tục: {code}" in reply.text and "Phí, lệ phí:" in reply.text
    finally:
        restarted.engine.dispose()


def test_a_long_pause_starts_afresh(app):
    c = Citizen(app.conversations)
    c.say("đăng ký khai tử")
    with app.engine.begin() as conn:
        conn.execute(
            update(store.conversations)
            .where(store.conversations.c.user_id == c.user)
            .values(updated_at=store.now() - timedelta(days=2))
        )
    assert c.say("thế còn lệ phí?").text == d.WHICH
    assert c.state.turn == 2  # the turn counter goes on, so old buttons stay old


def test_old_handled_ids_are_pruned(small_app):
    c = Citizen(small_app.conversations)
    c.say("/start")
    with small_app.engine.begin() as conn:
        conn.execute(update(store.processed_messages).values(at=store.now() - timedelta(days=30)))
        assert store.prune(conn, timedelta(days=7)) >= 1


def test_the_labels_kept_for_typing_are_bounded_folded_and_never_numbers():
    from handlers.core import Button
    from handlers.state import KEEP_LABELS, State, label_key

    assert label_key("1. Thủ tục đăng ký khai sinh") == "thu tuc dang ky khai sinh"
    assert label_key("↩ Quay lại bản tóm tắt") == label_key("quay lai ban tom tat.") == "quay lai ban tom tat"
    assert label_key("4") == label_key("12") == label_key("1.001193") == label_key("😀") == ""
    s = State()
    s.remember([Button("Hủy", "x:3"), Button("5", "f:3:rate:PA-1:5"), Button("Cổng", url="https://x.vn")])
    assert s.labels == [["huy", "x:3"]] and s.pressed(" HUỶ! ") == "x:3" and s.pressed("5") == ""
    s.remember(Button(f"Mục {i}", f"m:4:{i}") for i in range(30))
    assert len(s.labels) == KEEP_LABELS and s.pressed("mục 3") == "m:4:3" and s.pressed("Hủy") == ""
    assert State.from_json({"labels": [["a", "m:1:ask"], ["b"], "c", ["d", 5]]}).labels == [["a", "m:1:ask"]]
    assert State.from_json(s.to_json()).labels == s.labels
