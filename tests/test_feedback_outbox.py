"""The outbox: nothing lost when the channel is down or the process dies, nothing sent twice."""

from datetime import timedelta

import pytest
from feedback_util import BOB, CONTENT, MONDAY, FakeChannel, file_item, migrated, outbox_rows

from bot import db
from feedback import outbox
from feedback import service as fs


@pytest.fixture
def factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


async def test_a_crash_between_submit_and_acknowledgement_loses_nothing(any_url):
    engine, factory = migrated(any_url)
    r = file_item(factory)
    engine.dispose()  # the process dies before any delivery
    engine = db.make_engine(any_url)  # a new process on the same database
    factory = db.session_factory(engine)
    channel = FakeChannel()
    report = await outbox.deliver(factory, channel, now=MONDAY)
    assert report.sent == 1
    assert len(channel.sent) == 1 and channel.sent[0][:2] == ("telegram", "1001") and r.code in channel.sent[0][2]
    for later in (MONDAY, MONDAY + timedelta(hours=3), MONDAY + timedelta(days=2)):
        assert (await outbox.deliver(factory, channel, now=later)).sent == 0
    assert len(channel.sent) == 1
    (msg,) = outbox_rows(factory, r.code)
    assert msg.status == "sent" and msg.attempts == 1 and msg.sent_at is not None
    engine.dispose()


async def test_retries_with_exponential_backoff_until_the_channel_is_back(factory):
    file_item(factory)
    channel = FakeChannel(fail=3)
    now = MONDAY
    waits = []
    for attempt in range(1, 4):
        report = await outbox.deliver(factory, channel, now=now)
        assert report.retried == 1 and report.sent == 0
        (msg,) = outbox_rows(factory)
        assert msg.status == "pending" and msg.attempts == attempt and "ConnectionError" in msg.last_error
        wait = msg.next_attempt_at.replace(tzinfo=None) - now.replace(tzinfo=None)
        waits.append(wait)
        # not due before the wait is over
        assert (await outbox.deliver(factory, channel, now=now + wait - timedelta(seconds=1))).retried == 0
        now = now + wait
    assert waits == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    assert (await outbox.deliver(factory, channel, now=now)).sent == 1
    assert channel.calls == 4 and len(channel.sent) == 1
    assert (await outbox.deliver(factory, channel, now=now + timedelta(days=1))).sent == 0


def test_backoff_is_capped():
    assert outbox.backoff(1) == timedelta(seconds=2)
    assert outbox.backoff(5) == timedelta(seconds=32)
    assert outbox.backoff(30) == outbox.RETRY_MAX


async def test_a_permanent_failure_is_not_retried(factory):
    file_item(factory)
    channel = FakeChannel(fail=1, error=outbox.PermanentFailure)
    assert (await outbox.deliver(factory, channel, now=MONDAY)).failed == 1
    assert outbox_rows(factory)[0].status == "failed"
    assert (await outbox.deliver(factory, channel, now=MONDAY + timedelta(days=1))).sent == 0


async def test_gives_up_after_the_last_attempt(factory):
    file_item(factory)
    channel = FakeChannel(fail=100)
    now = MONDAY
    for _ in range(outbox.MAX_ATTEMPTS):
        await outbox.deliver(factory, channel, now=now)
        now += outbox.RETRY_MAX
    (msg,) = outbox_rows(factory)
    assert msg.status == "failed" and msg.attempts == outbox.MAX_ATTEMPTS and channel.calls == outbox.MAX_ATTEMPTS


async def test_a_worker_that_died_while_sending_releases_the_message_after_its_lease(factory):
    r = file_item(factory)
    assert outbox._claim(factory, outbox_rows(factory)[0].id, MONDAY) is not None  # taken, then the worker dies
    channel = FakeChannel()
    # another worker leaves it alone while the lease runs: no double send by two live workers
    assert (await outbox.deliver(factory, channel, now=MONDAY + timedelta(seconds=30))).sent == 0
    assert (await outbox.deliver(factory, channel, now=MONDAY + outbox.LEASE)).sent == 1
    assert [t for _, _, t in channel.sent if r.code in t]


async def test_messages_to_one_chat_keep_their_order(factory):
    a = file_item(factory).code
    fs.claim(factory, a, "lan.tt", now=MONDAY)
    fs.ask_info(factory, a, "lan.tt", "Bạn bổ sung giấy hẹn.", now=MONDAY)
    file_item(factory, citizen=BOB, content=CONTENT + " Của Bob.")
    channel = FakeChannel(fail=1)  # the first message (Alice's acknowledgement) fails once
    report = await outbox.deliver(factory, channel, now=MONDAY)
    assert report.retried == 1
    assert [chat for _, chat, _ in channel.sent] == ["2002"]  # Alice's later messages wait behind it
    await outbox.deliver(factory, channel, now=MONDAY + timedelta(minutes=1))
    alice = [t for _, chat, t in channel.sent if chat == "1001"]
    assert len(alice) == 3 and "Mã tra cứu" in alice[0] and "đang được xử lý" in alice[1] and "bổ sung" in alice[2]
    assert outbox.pending_count(factory) == 0


def test_two_workers_never_send_one_chats_messages_side_by_side(any_url):
    engine, factory = migrated(any_url)
    code = file_item(factory).code
    fs.claim(factory, code, "lan.tt", now=MONDAY)  # a second message to the same chat ("đang được xử lý")
    first, second = (m.id for m in outbox_rows(factory, code))
    assert outbox._due_ids(factory, MONDAY, 50) == [first, second]  # worker B lists both …
    assert outbox._claim(factory, first, MONDAY) is not None  # … worker A takes the first and is sending it
    assert outbox._claim(factory, second, MONDAY) is None  # B may not send the second meanwhile
    outbox._finish(factory, first, {"status": "pending", "lease_until": None})  # A's send failed: due again
    assert outbox._claim(factory, second, MONDAY) is None  # still behind the first
    assert outbox._claim(factory, first, MONDAY) is not None
    outbox._finish(factory, first, {"status": "sent", "lease_until": None})
    assert outbox._claim(factory, second, MONDAY) is not None  # the first is sent: now the second
    engine.dispose()


def test_finished_messages_about_no_item_are_deleted_after_a_week(factory):
    code = file_item(factory).code  # its acknowledgement: a message of the item's record
    with outbox.engine_of(factory).begin() as s:
        for text in ("sent", "failed", "pending"):  # dialog replies to the same chat
            msg_id = outbox.enqueue(s, channel="telegram", chat_id="1001", text=text, key=text, now=MONDAY)
            s.execute(outbox.outbox.update().where(outbox.outbox.c.id == msg_id).values(status=text))
    ack = outbox_rows(factory, code)[0].id
    outbox._finish(factory, ack, {"status": "sent", "lease_until": None})
    assert outbox.prune(factory, now=MONDAY + outbox.KEEP_FINISHED - timedelta(seconds=1)) == 0
    assert outbox.prune(factory, now=MONDAY + outbox.KEEP_FINISHED + timedelta(seconds=1)) == 2
    assert [(m.text, m.status) for m in outbox_rows(factory) if m.item_id is None] == [("pending", "pending")]
    assert [m.id for m in outbox_rows(factory, code)] == [ack]


async def test_batches_send_each_message_once(factory):
    for n in range(5):
        file_item(factory, citizen=fs.Citizen("zalo", f"u{n}", f"c{n}"), content=CONTENT + f" Số {n}.")
    channel = FakeChannel()
    await outbox.deliver(factory, channel, now=MONDAY, limit=2)
    await outbox.deliver(factory, channel, now=MONDAY, limit=2)
    await outbox.deliver(factory, channel, now=MONDAY, limit=2)
    await outbox.deliver(factory, channel, now=MONDAY, limit=2)
    assert sorted(chat for _, chat, _ in channel.sent) == [f"c{n}" for n in range(5)]
    assert channel.calls == 5 and {ch for ch, _, _ in channel.sent} == {"zalo"}


def test_enqueue_is_idempotent_by_key(factory):
    code = file_item(factory).code
    with factory.begin() as s:
        assert outbox.has_key(s, f"{code}:ack")
    with pytest.raises(Exception), factory.begin() as s:  # noqa: B017 - IntegrityError from either driver
        outbox.enqueue(s, channel="telegram", chat_id="1001", text="x", key=f"{code}:ack", now=MONDAY)
    assert len(outbox_rows(factory, code)) == 1


async def test_the_worker_delivers_and_flags_overdue_items(factory):
    import asyncio

    from feedback import worker

    fs.update_queue(factory, "Sở Tư pháp", deadline_days=1)
    code = file_item(factory, now=MONDAY - timedelta(days=30)).code  # long overdue
    stop = asyncio.Event()
    stop.set()  # one pass, then stop
    channel = FakeChannel()
    await worker.run(factory, channel, stop, staff_chat="-77")
    texts = [t for _, chat, t in channel.sent if chat == "-77"]
    assert any("quá hạn" in t and code in t for t in texts)
    assert any(code in t and "Mã tra cứu" in t for _, chat, t in channel.sent if chat == "1001")


async def test_an_answer_carries_its_rating_buttons_to_the_sender(factory):
    code = file_item(factory).code
    fs.claim(factory, code, "lan.tt")
    fs.answer(factory, code, "lan.tt", "Phường đã trả kết quả.")
    answer = outbox_rows(factory, code)[-1]
    assert answer.buttons == [[str(k), f"f:1:rate:{code}:{k}"] for k in range(1, 6)]
    assert all(m.buttons is None for m in outbox_rows(factory, code)[:-1])  # the others carry none
    channel = FakeChannel()
    await outbox.deliver(factory, channel)  # staff acted now, the acknowledgement is older
    assert [len(b) for b in channel.buttons] == [0, 0, 5]  # acknowledgement, claimed, answered
    assert channel.buttons[-1][3] == ("4", f"f:1:rate:{code}:4")


def test_buttons_are_kept_with_the_message_and_its_key(factory):
    with factory.begin() as s:
        outbox.enqueue(s, channel="console", chat_id="u", text="x", key="k1", now=MONDAY, buttons=[("Có", "m:1:ask")])
        outbox.enqueue(s, channel="console", chat_id="u", text="y", key="k2", now=MONDAY)
    assert [m.buttons for m in outbox_rows(factory)] == [[["Có", "m:1:ask"]], None]
