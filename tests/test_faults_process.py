"""Faults against real `python -m bot run` processes whose Bot API is the fake one (tests/fake_telegram.py), run
in the test's event loop: SIGTERM and SIGKILL while updates arrive (webhook and long polling), PostgreSQL
connections cut under load, a Bot API unreachable at start, two worker processes.

Each scenario ends with the same check (`check`): every update Telegram sent was acknowledged and answered,
each turn happened once (the conversation's version counts its turns; `processed_messages` holds the update),
and each reply reached the fake once, in the order of the user's messages. The one exception is SIGKILL's
documented window (feedback/outbox.py): a part the fake accepted just before the kill, not yet recorded, is
sent again, so the doubles are at most the outbox rows that were being sent at the kill.

A process killed with SIGKILL (or cut from its database) leaves its leases to run out: its inbox claims'
(INBOX_LEASE_SECONDS, 60 s), the outbox's (2 minutes) and the poller's (60 s). Those tests run the same `bot run`
with the three shortened (`short_leases`), so what a dead process held comes back within the test.

The last tests pin in process what these scenarios exposed in the outbox (a part's record lost with a dropped
connection, a later reply overtaking an earlier one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from conftest import PG_ADMIN_URL, postgres_database
from fake_telegram import SECRET, TOKEN, WAIT, Chat, FakeBotAPI
from feedback_util import MONDAY, migrated
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from bot import db
from bot.app import build
from bot.settings import load_settings
from feedback import outbox, tables
from handlers.store import conversations, processed_messages

QUESTIONS = ["/start", "làm hộ chiếu cần gì", "đăng ký khai sinh", "cấp lại căn cước công dân", "đăng ký kết hôn"]
WEBHOOK = {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": SECRET, "PUBLIC_BASE_URL": "https://bot.example.vn"}
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # as Telegram sends it
DEADLINE = 3 * WAIT  # a safety net for a broken bot (a restart, a lease and retries fit well inside)
SHORT_LEASES = (  # the outbox's and the poller's leases are constants: set before `bot run` starts
    "import sys; from datetime import timedelta; from bot import telegram; from bot.cli import main; "
    "from feedback import outbox; outbox.LEASE = timedelta(seconds=8); telegram.POLL_LEASE = timedelta(seconds=3); "
    "sys.exit(main(sys.argv[1:]))"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(predicate, what: str, timeout: float = DEADLINE) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# ---- the server processes ---------------------------------------------------------------------------------------


class Server:
    """A `python -m bot run …` process (its own process group), its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, args: tuple[str, ...], short_leases: bool):
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.log = log
        command = [sys.executable, "-m", "bot"]
        if short_leases:
            command = [sys.executable, "-c", SHORT_LEASES]
            env = {**env, "INBOX_LEASE_SECONDS": "5"}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*command, "run", *args],
                env=env,
                cwd=log.parent,  # no .env of the project is read
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def health(self, http: aiohttp.ClientSession) -> tuple[int, dict]:
        try:
            async with http.get(f"{self.url}/healthz") as r:
                return r.status, await r.json()
        except (aiohttp.ClientError, ValueError, TimeoutError):
            return 0, {}

    async def until_health(self, http: aiohttp.ClientSession, wanted, what: str) -> dict:
        """Poll /healthz until `wanted(status, body)`; the body."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while True:
            assert self.proc.poll() is None, f"the server exited ({self.proc.returncode}) before it was {what}"
            status, body = await self.health(http)
            if wanted(status, body):
                return body
            if loop.time() > deadline:
                raise AssertionError(f"the server was not {what}; /healthz: {status} {body}")
            await asyncio.sleep(0.1)

    async def until_up(self, http: aiohttp.ClientSession) -> dict:
        return await self.until_health(
            http, lambda status, body: status == 200 and body["channels"].get("telegram") == "up", "up"
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    async def exit_code(self) -> int:
        """Wait for the process to end (polling: the fake API in this loop keeps answering it meanwhile)."""
        await until(lambda: self.proc.poll() is not None, f"the server pid={self.proc.pid} to exit")
        return self.proc.returncode

    def kill_all(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # with a --workers parent, its workers too
        self.proc.wait()


@pytest.fixture
def servers(tmp_path):
    """`start(env, *args, short_leases=False)` → a running Server (with `short_leases`, the leases it takes
    end within seconds); every one is killed at the end, and the tail of its log printed (shown when the test
    fails)."""
    started: list[Server] = []

    def start(env: dict[str, str], *args: str, short_leases: bool = False) -> Server:
        server = Server(env, tmp_path / f"server-{len(started) + 1}.log", args, short_leases)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill_all()
        lines = server.log.read_text(errors="replace").splitlines()
        print(f"---- {server.log.name} (exit {server.proc.returncode}), last lines ----", *lines[-60:], sep="\n")


def environment(tmp_path: Path, db_url: str, api_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        DATABASE_URL=db_url,
        DATA_DIR=str(tmp_path / "data"),
        HOST="127.0.0.1",
        PORT=str(port),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api_url,
        TELEGRAM_MODE="polling",
        TELEGRAM_SEND_RATE="0",
        STAFF_TELEGRAM_CHAT_ID="",
        ZALO_APP_ID="",  # Telegram alone
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def prepared_sqlite(tmp_path_factory) -> Path:
    """An SQLite database with the schema and the bundled knowledge base, copied by each test."""
    path = tmp_path_factory.mktemp("prepared") / "app.db"
    build(load_settings(database_url=f"sqlite:///{path}", data_dir=path.parent)).engine.dispose()
    return path


@pytest.fixture
def sqlite_db(prepared_sqlite, tmp_path) -> str:
    path = tmp_path / "app.db"
    shutil.copy(prepared_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def pg_db(tmp_path_factory) -> str:
    """A fresh PostgreSQL database with the bundled knowledge base, for this module (its tests' citizens differ)."""
    with postgres_database() as url:
        build(load_settings(database_url=url, data_dir=tmp_path_factory.mktemp("pg"))).engine.dispose()
        yield url


@pytest.fixture
async def api():
    fake = await FakeBotAPI().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        yield session


# ---- Telegram's side: citizens, updates, webhook posts ----------------------------------------------------------


def citizens(api: FakeBotAPI, first: int, users: int, each: int) -> list[list[dict]]:
    """`users` citizens (ids from `first`), each with `each` messages: their updates, in order, per citizen."""
    updates = []
    for n in range(users):
        chat = Chat(api, first + n)
        updates.append([chat.message_update(QUESTIONS[(n + i) % len(QUESTIONS)]) for i in range(each)])
    return updates


def flat(updates: list[list[dict]]) -> list[dict]:
    return [u for mine in updates for u in mine]


async def post(http: aiohttp.ClientSession, url: str, update: dict, acks: list[int]) -> None:
    """Post an update to the webhook as Telegram does: again after a refused or broken connection or a 503,
    until it is answered 200."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.post(f"{url}{WEBHOOK_PATH}", json=update, headers={SECRET_HEADER: SECRET}) as r:
                if r.status == 200:
                    acks.append(update["update_id"])
                    return
                assert r.status == 503, f"the webhook answered {r.status}"
        assert loop.time() < deadline, f"update {update['update_id']} was never acknowledged"
        await asyncio.sleep(0.1)


def post_all(http: aiohttp.ClientSession, url: str, updates: list[list[dict]], acks: list[int]) -> asyncio.Future:
    """Every citizen posts its updates one after the other (the next once the last was acknowledged), the
    citizens concurrently, starting 20 ms apart."""

    async def one(n: int, mine: list[dict]) -> None:
        await asyncio.sleep(0.02 * n)
        for update in mine:
            await post(http, url, update, acks)

    return asyncio.gather(*(one(n, mine) for n, mine in enumerate(updates)))


# ---- what the database and the fake say -------------------------------------------------------------------------


def key(update: dict) -> str:
    """The id a turn records in processed_messages (bot.telegram.incoming)."""
    m = update["message"]
    return f"m:{m['chat']['id']}:{m['message_id']}"


@dataclass
class Ledger:
    """The database's view of the test's citizens."""

    versions: dict[str, int] = field(default_factory=dict)  # user: turns taken (the conversation's version)
    handled: set[str] = field(default_factory=set)  # processed_messages ids
    replies: list = field(default_factory=list)  # outbox rows to the citizens, oldest first

    @classmethod
    def read(cls, engine, updates: list[dict]) -> Ledger:
        users = sorted({str(u["message"]["from"]["id"]) for u in updates})
        sent = tables.outbox
        with engine.connect() as c:
            versions = dict(
                c.execute(
                    select(conversations.c.user_id, conversations.c.version).where(
                        conversations.c.channel == "telegram", conversations.c.user_id.in_(users)
                    )
                ).all()
            )
            handled = set(
                c.scalars(
                    select(processed_messages.c.message_id).where(
                        processed_messages.c.channel == "telegram",
                        processed_messages.c.message_id.in_([key(u) for u in updates]),
                    )
                )
            )
            replies = c.execute(
                select(sent.c.id, sent.c.chat_id, sent.c.idempotency_key, sent.c.status, sent.c.remote_ids)
                .where(sent.c.channel == "telegram", sent.c.chat_id.in_(users))
                .order_by(sent.c.id)
            ).all()
        return cls(versions, handled, replies)

    def settled(self, turns: Counter) -> bool:
        """Every citizen's turns taken, every reply sent."""
        return all(self.versions.get(u, 0) >= n for u, n in turns.items()) and all(
            r.status == "sent" for r in self.replies
        )

    def sending(self) -> int:
        return sum(r.status == "sending" for r in self.replies)


def turns_of(updates: list[dict]) -> Counter:
    return Counter(str(u["message"]["from"]["id"]) for u in updates)


async def settle(engine, updates: list[dict]) -> Ledger:
    """Wait until every update's turn was taken and every reply sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    turns = turns_of(updates)
    while True:
        ledger = await asyncio.to_thread(Ledger.read, engine, updates)
        if ledger.settled(turns):
            return ledger
        if loop.time() > deadline:
            behind = {u: (ledger.versions.get(u, 0), n) for u, n in turns.items() if ledger.versions.get(u, 0) < n}
            unsent = [(r.id, r.status) for r in ledger.replies if r.status != "sent"]
            raise AssertionError(f"not settled: turns behind {behind}, replies unsent {unsent}")
        await asyncio.sleep(0.2)


def check(api: FakeBotAPI, ledger: Ledger, updates: list[dict]) -> int:
    """Every update handled once and answered, each reply at the fake once and in the order of the citizen's
    messages; the number of parts the fake got twice (0 unless a process was killed while sending)."""
    assert ledger.versions == dict(turns_of(updates)), "a turn was lost or taken twice"
    assert {key(u) for u in updates} <= ledger.handled
    at_fake: dict[str, list[int]] = defaultdict(list)  # chat: message ids the fake accepted, in order
    for chat_id, message_id in api.outbox:
        at_fake[str(chat_id)].append(message_id)
    recorded: dict[str, list[int]] = defaultdict(list)  # chat: the parts the outbox recorded as accepted, in order
    answered: dict[str, list[int]] = defaultdict(list)  # chat: the message ids answered, in the outbox's order
    for row in ledger.replies:
        parts = [int(i) for i in row.remote_ids or []]
        assert parts, f"outbox {row.id} is sent without a part accepted"
        recorded[row.chat_id].extend(parts)
        if row.idempotency_key.startswith("reply:telegram:m:"):
            answered[row.chat_id].append(int(row.idempotency_key.split(":")[4]))
    doubles = 0
    for chat_id in turns_of(updates):
        sent_ids = [u["message"]["message_id"] for u in updates if str(u["message"]["chat"]["id"]) == chat_id]
        assert sorted(set(answered[chat_id])) == sorted(sent_ids), f"chat {chat_id}: not every message answered"
        assert answered[chat_id] == sorted(answered[chat_id]), f"chat {chat_id}: replies out of message order"
        parts = recorded[chat_id]
        assert len(set(parts)) == len(parts), f"chat {chat_id}: a part recorded twice"
        kept = set(parts)
        mine = [(r.id, r.idempotency_key, r.remote_ids) for r in ledger.replies if r.chat_id == chat_id]
        assert [i for i in at_fake[chat_id] if i in kept] == parts, (
            f"chat {chat_id}: parts missing or out of order: the fake got {at_fake[chat_id]}, the outbox has {mine}"
        )
        doubles += len(at_fake[chat_id]) - len(parts)
    return doubles


@pytest.fixture
def engines():
    """`engine(url)`: an engine on the app's database for the test to read (disposed at the end)."""
    made = []

    def engine(url: str):
        made.append(db.make_engine(url))
        return made[-1]

    yield engine
    for e in made:
        e.dispose()


# ---- SIGTERM and SIGKILL while updates arrive -------------------------------------------------------------------

CITIZENS = 60  # updates of a scenario: enough to be caught mid-flight, few enough for a quick test
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]


@pytest.mark.parametrize("sig", SIGNALS)
async def test_webhook_stopped_mid_flight_loses_and_doubles_nothing(
    sig, api, http, servers, sqlite_db, engines, tmp_path
):
    port = free_port()
    env = environment(tmp_path, sqlite_db, api.base_url, port, **WEBHOOK)
    killed = sig == signal.SIGKILL
    first = servers(env, short_leases=killed)
    await first.until_up(http)
    updates = citizens(api, 7_100_000, users=CITIZENS, each=1)
    acks: list[int] = []
    posting = post_all(http, first.url, updates, acks)
    await until(lambda: len(acks) >= CITIZENS // 3, "a third acknowledged")
    first.signal(sig)
    acked_before = len(acks)
    code = await first.exit_code()
    engine = engines(sqlite_db)
    in_flight = await asyncio.to_thread(Ledger.read, engine, flat(updates))
    if killed:
        assert code == -signal.SIGKILL
    else:
        assert code == 0, "SIGTERM did not stop the server cleanly"
    servers(env, short_leases=killed)  # on the same port: Telegram's retries reach it
    await posting
    ledger = await settle(engine, flat(updates))
    doubles = check(api, ledger, flat(updates))
    print(
        f"{sig.name}: {acked_before} acknowledged before the signal, {len(acks) - acked_before} after; "
        f"{in_flight.sending()} replies being sent at the stop; {doubles} parts sent twice"
    )
    assert doubles <= (in_flight.sending() if killed else 0)


@pytest.mark.parametrize("sig", SIGNALS)
async def test_polling_stopped_mid_flight_loses_and_doubles_nothing(
    sig, api, http, servers, sqlite_db, engines, tmp_path
):
    env = environment(tmp_path, sqlite_db, api.base_url, free_port())
    killed = sig == signal.SIGKILL
    first = servers(env, short_leases=killed)
    await first.until_up(http)
    updates = flat(citizens(api, 7_200_000, users=CITIZENS, each=1))

    async def push_in_batches() -> None:
        for i in range(0, len(updates), 10):
            await api.push(*updates[i : i + 10])
            await asyncio.sleep(0.2)

    pushing = asyncio.ensure_future(push_in_batches())
    await until(lambda: len({chat for chat, _ in api.outbox}) >= CITIZENS // 3, "a third answered")
    first.signal(sig)
    code = await first.exit_code()
    engine = engines(sqlite_db)
    in_flight = await asyncio.to_thread(Ledger.read, engine, updates)
    assert code == (-signal.SIGKILL if killed else 0)
    servers(env, short_leases=killed)
    await pushing
    ledger = await settle(engine, updates)
    doubles = check(api, ledger, updates)
    print(f"{sig.name}: {in_flight.sending()} replies being sent at the stop; {doubles} parts sent twice")
    assert doubles <= (in_flight.sending() if killed else 0)
    await until(lambda: not api.pending, "every update confirmed")  # taken with a later offset


# ---- PostgreSQL connections cut under load ----------------------------------------------------------------------


async def test_postgres_connections_cut_under_load(api, http, servers, pg_db, engines, tmp_path):
    env = environment(tmp_path, pg_db, api.base_url, free_port(), **WEBHOOK)
    server = servers(env, short_leases=True)
    await server.until_up(http)
    updates = citizens(api, 7_300_000, users=CITIZENS // 2, each=2)
    total = len(flat(updates))
    acks: list[int] = []
    posting = post_all(http, server.url, updates, acks)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    terminate = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
    )
    cut = []
    try:
        for share in (0.2, 0.45, 0.7):
            await until(lambda share=share: len(acks) >= share * total, f"{share:.0%} acknowledged")
            with admin.connect() as c:
                cut.append(c.scalar(terminate, {"db": pg_db.rsplit("/", 1)[1]}))
    finally:
        admin.dispose()
    await posting
    assert sum(cut) > 0, "no connection of the app was cut"
    ledger = await settle(engines(pg_db), flat(updates))
    doubles = check(api, ledger, flat(updates))
    print(f"connections cut: {cut}; {doubles} parts sent twice")
    assert doubles == 0
    body = await server.until_health(http, lambda status, body: status == 200, "answering /healthz")
    assert body["database"] == "up"


# ---- the Bot API unreachable at start ---------------------------------------------------------------------------


def channel_down(status: int, body: dict) -> bool:
    return status == 200 and body.get("channels", {}).get("telegram") == "down"


async def test_unreachable_api_at_start_degrades_then_recovers(http, servers, sqlite_db, engines, tmp_path):
    api_port = free_port()  # nothing listens there yet
    api = FakeBotAPI()
    env = environment(tmp_path, sqlite_db, f"http://127.0.0.1:{api_port}/bot", free_port(), **WEBHOOK)
    server = servers(env)
    body = await server.until_health(http, channel_down, "showing the channel down")
    assert body["status"] == "degraded" and body["database"] == "up"
    update = Chat(api, 7_400_001).message_update("làm hộ chiếu cần gì")
    async with http.post(f"{server.url}{WEBHOOK_PATH}", json=update, headers={SECRET_HEADER: SECRET}) as r:
        assert r.status == 200, "an update posted while the API is down is stored and acknowledged"
    await api.start(port=api_port)
    try:
        body = await server.until_up(http)
        assert body["status"] == "ok"
        ledger = await settle(engines(sqlite_db), [update])
        assert check(api, ledger, [update]) == 0
    finally:
        await api.stop()


async def test_unreachable_api_one_sigterm_stops_cleanly(http, servers, sqlite_db, tmp_path):
    env = environment(tmp_path, sqlite_db, f"http://127.0.0.1:{free_port()}/bot", free_port())
    server = servers(env)
    await server.until_health(http, channel_down, "showing the channel down")
    server.signal(signal.SIGTERM)
    assert await server.exit_code() == 0


# ---- two worker processes ---------------------------------------------------------------------------------------


async def test_two_workers_answer_each_update_once_in_order(api, http, servers, pg_db, engines, tmp_path):
    env = environment(tmp_path, pg_db, api.base_url, free_port(), **WEBHOOK)
    parent = servers(env, "--workers", "2")
    await until(lambda: len(api.sent("setWebhook")) >= 2, "both workers to connect")
    await parent.until_up(http)
    updates = citizens(api, 7_500_000, users=15, each=4)
    acks: list[int] = []
    await post_all(http, parent.url, updates, acks)
    ledger = await settle(engines(pg_db), flat(updates))
    assert check(api, ledger, flat(updates)) == 0
    parent.signal(signal.SIGTERM)
    assert await parent.exit_code() == 0, "SIGTERM to the parent did not stop every worker cleanly"


# ---- what these faults exposed, pinned in process ---------------------------------------------------------------


@pytest.fixture
def factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


def reply(factory, chat: str, n: int, now: datetime) -> int:
    """The outbox row of a turn's reply, as handlers/conversation.py writes it."""
    with factory.begin() as s:
        return outbox.enqueue(
            s, channel="telegram", chat_id=chat, text=f"trả lời {n}", key=f"reply:telegram:m:{chat}:{n}:0", now=now,
            reply={"buttons": [], "links": [], "edit": ""},
        )  # fmt: skip


class Accepting:
    """A sender whose channel accepts every message in one part (remote ids 1, 2, …)."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.texts: list[str] = []

    async def __call__(self, msg: outbox.Outgoing) -> None:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("channel down")
        self.texts.append(msg.text)
        await msg.part_accepted(1, str(len(self.texts)))


async def test_a_part_accepted_while_the_database_connection_drops_is_recorded_not_sent_twice(factory, monkeypatch):
    msg_id = reply(factory, "1", 1, MONDAY)
    finish = outbox._finish
    dropped = []

    def connection_cut_once(factory, msg_id, values):
        if "parts_sent" in values and not dropped:  # what pg_terminate_backend did to the part's record
            dropped.append(msg_id)
            raise OperationalError("UPDATE feedback_outbox", {}, Exception("server closed the connection"))
        finish(factory, msg_id, values)

    monkeypatch.setattr(outbox, "_finish", connection_cut_once)
    sender = Accepting()
    assert (await outbox.deliver(factory, sender, now=MONDAY)).sent == 1
    await outbox.deliver(factory, sender, now=MONDAY + timedelta(hours=1))
    assert dropped == [msg_id] and sender.texts == ["trả lời 1"]


@pytest.mark.parametrize("first_refused", [True, False], ids=["its retry due", "never tried"])
async def test_a_turn_reply_waits_behind_an_earlier_reply_still_unsent(factory, first_refused):
    reply(factory, "1", 1, MONDAY)
    if first_refused:  # its turn's pass failed; the retry is due two seconds later, the worker has not come yet
        assert (await outbox.deliver(factory, Accepting(refuse=1), now=MONDAY)).retried == 1
    later = MONDAY + timedelta(seconds=3)
    second = reply(factory, "1", 2, later)
    sender = Accepting()
    assert (await outbox.deliver(factory, sender, now=later, only=[second])).sent == 0
    await outbox.deliver(factory, sender, now=later)  # the worker: both, in order
    assert sender.texts == ["trả lời 1", "trả lời 2"]
