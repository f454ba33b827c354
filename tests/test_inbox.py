"""The inbox and the leases, on SQLite and PostgreSQL: stored once, claimed fairly and in order, given back."""

import asyncio
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from feedback_util import migrated, outbox_rows
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError

from bot import inbox, leases
from feedback.tables import metadata as feedback_md

LEASE = timedelta(seconds=60)


@pytest.fixture
def factory(any_url):
    engine, factory = migrated(any_url)
    yield factory
    engine.dispose()


def put(factory, user: str, n: int, channel: str = "telegram") -> str:
    return inbox.store_many(factory, channel, [(f"{user}-{n}", user, user, {"n": n, "user": user})])[0]


def statuses(factory) -> dict[str, str]:
    with factory() as s:
        return {r.update_id: r.status for r in s.execute(select(inbox.inbox.c.update_id, inbox.inbox.c.status))}


def test_migration_matches_the_tables(factory):
    with factory() as s:
        for md in (inbox.metadata, leases.metadata, feedback_md):
            diff = compare_metadata(MigrationContext.configure(s.connection()), md)
            assert [x for x in diff if any(f"'{t}'" in repr(x) for t in md.tables)] == []


def test_an_update_is_stored_once(factory):
    assert put(factory, "an", 1) == "new"
    assert put(factory, "an", 1) == "duplicate"  # the channel sent it again: no second row
    assert inbox.store_many(factory, "zalo", [("an-1", "an", "an", {})]) == ["new"]  # another channel's id space
    assert inbox.depth(factory)["count"] == 2


def test_one_update_per_user_is_claimed_in_order_and_others_go_ahead(factory):
    for n in range(5):
        put(factory, "busy", n)
    put(factory, "quiet", 0)
    first = inbox.claim(factory, 16, LEASE, ["telegram"])
    assert [(c.user_id, c.payload["n"]) for c in first] == [("busy", 0), ("quiet", 0)]
    # while busy's first is being processed, none of its later updates is handed out, by this process or another
    assert inbox.claim(factory, 16, LEASE, ["telegram"]) == []
    for c in first:
        inbox.finish(factory, c.id)
    assert [c.payload["n"] for c in inbox.claim(factory, 16, LEASE, ["telegram"])] == [1]
    assert inbox.claim(factory, 16, LEASE, ["zalo"]) == []  # only the channels asked for


def test_a_user_whose_update_is_in_hand_is_not_claimed_until_its_replies_are_sent(factory):
    put(factory, "an", 1)
    put(factory, "an", 2)
    put(factory, "binh", 1)
    first = inbox.claim(factory, 16, LEASE, ["telegram"])
    with factory.begin() as s:
        inbox.finish_in(s, first[0].id)  # an's turn is saved; its replies are still going out
    busy = {("telegram", "an")}
    assert inbox.claim(factory, 16, LEASE, ["telegram"], busy=busy) == []
    assert [c.update_id for c in inbox.claim(factory, 16, LEASE, ["telegram"])] == ["an-2"]


async def test_webhooks_arriving_together_are_stored_in_one_transaction_in_order(factory):
    writer = inbox.Writer(factory, "telegram")
    commits = []
    event.listen(factory.kw["bind"], "commit", lambda conn: commits.append(1))
    updates = [(f"u-{n}", "an" if n % 2 else "binh", "c", {"n": n}) for n in range(30)]
    updates.insert(5, updates[3])  # Telegram sent one twice in the burst
    outcomes = await asyncio.gather(*(writer.store(*u) for u in updates))
    assert outcomes == ["new"] * 5 + ["duplicate"] + ["new"] * 25
    assert 1 <= len(commits) <= 2  # the first alone (nothing was gathering yet), then the rest together
    with factory() as s:
        stored = list(s.scalars(select(inbox.inbox.c.update_id).order_by(inbox.inbox.c.id)))
    assert stored == [f"u-{n}" for n in range(30)]
    assert await writer.store("u-7", "an", "c", {}) == "duplicate"


async def test_a_batch_holding_an_update_another_process_stored_meanwhile_is_told_apart(factory, monkeypatch):
    put(factory, "an", 1)
    real = inbox._store_batch
    calls = []

    def unaware_of_the_other_process(factory, channel, updates):
        calls.append(len(updates))
        if len(updates) > 1:  # another process committed one of them after this batch looked: the insert fails
            raise IntegrityError("INSERT INTO inbox", {}, Exception("unique"))
        return real(factory, channel, updates)

    monkeypatch.setattr(inbox, "_store_batch", unaware_of_the_other_process)
    got = inbox.store_many(factory, "telegram", [("an-1", "an", "an", {}), ("an-2", "an", "an", {})])
    assert got == ["duplicate", "new"] and calls == [2, 1, 1]


def test_a_claim_of_a_dead_process_comes_back_after_its_lease_and_a_clean_stop_gives_it_back_at_once(factory):
    put(factory, "an", 1)
    put(factory, "binh", 1)
    [a, b] = inbox.claim(factory, 16, LEASE, ["telegram"])
    later = inbox.utcnow() + LEASE + timedelta(seconds=1)
    assert inbox.claim(factory, 16, LEASE, ["telegram"]) == []
    inbox.release(factory, [b.id])  # a clean stop
    assert [c.user_id for c in inbox.claim(factory, 16, LEASE, ["telegram"])] == ["binh"]
    again = inbox.claim(factory, 16, LEASE, ["telegram"], now=later)  # a's holder died
    assert [c.user_id for c in again] == ["an", "binh"]


def test_failures_are_retried_with_backoff_then_failed_and_do_not_block_the_user(factory):
    put(factory, "an", 1)
    put(factory, "an", 2)
    [c] = inbox.claim(factory, 16, LEASE, ["telegram"])
    assert inbox.failed(factory, c, "OperationalError", retry=True) is False
    assert statuses(factory)["an-1"] == "pending"
    assert inbox.claim(factory, 16, LEASE, ["telegram"]) == []  # not yet due, and it keeps an's order
    [c] = inbox.claim(factory, 16, LEASE, ["telegram"], now=inbox.utcnow() + inbox.RETRY_BASE * 2)
    assert c.update_id == "an-1" and c.attempts == 1
    assert inbox.failed(factory, c, "TypeError", retry=False) is True
    assert statuses(factory)["an-1"] == "failed"
    assert [c.update_id for c in inbox.claim(factory, 16, LEASE, ["telegram"])] == ["an-2"]


def test_a_user_over_the_cap_is_told_once_a_minute_and_the_rest_is_kept_unprocessed(factory):
    outcomes = [put(factory, "burst", n) for n in range(inbox.USER_CAP + 5)]
    assert outcomes == ["new"] * inbox.USER_CAP + ["skipped"] * 5
    told = [m for m in outbox_rows(factory) if m.chat_id == "burst"]
    assert len(told) == 1 and "nhanh quá" in told[0].text
    assert sum(1 for s in statuses(factory).values() if s == "skipped") == 5
    assert put(factory, "calm", 0) == "new"  # others are not capped


def test_processed_updates_are_pruned_after_a_while(factory):
    put(factory, "an", 1)
    put(factory, "an", 2)
    [c] = inbox.claim(factory, 16, LEASE, ["telegram"])
    inbox.finish(factory, c.id)
    with factory.begin() as s:
        s.execute(update(inbox.inbox).values(received_at=inbox.utcnow() - inbox.KEEP_DONE - timedelta(hours=1)))
    assert inbox.prune(factory) == 1
    assert statuses(factory) == {"an-2": "pending"}  # what waits is never pruned


def test_a_lease_has_one_holder_until_it_ends(factory):
    assert leases.acquire(factory, "poll", "p1", LEASE)
    assert leases.acquire(factory, "poll", "p1", LEASE)  # renewed
    assert not leases.acquire(factory, "poll", "p2", LEASE)
    leases.release(factory, "poll", "p1")
    assert leases.acquire(factory, "poll", "p2", timedelta(seconds=-1))  # taken, and already over
    assert leases.acquire(factory, "poll", "p3", LEASE)
