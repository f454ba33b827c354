"""Load benchmark: a real server (`python -m bot run`, or `--workers N`) in webhook mode, its Bot API the fake of
tests/fake_telegram.py running in this process, and simulated citizens posting updates to the webhook (with the
secret header) over aiohttp.

    .venv/bin/python bench/load_bench.py --db sqlite --workers 1 --rate max [--seconds 20] [--inflight 64] [--closed]
    .venv/bin/python bench/load_bench.py --db postgres --workers 2 --rate 100 --seconds 20
    .venv/bin/python bench/load_bench.py --db postgres --workers 2 --feedback 10000 [--citizens 200]
    … --profile /tmp/load.txt [--threads busy|gil|all] [--py-spy PATH]   # py-spy samples of the server under load

Questions (`--rate max|R`): every update is the first message of a new citizen (its own chat), a question of
bench/questions/ or `/start`, so every message the fake receives for that chat is the reply to that one update.
`--rate max` keeps `--inflight` POSTs in flight for `--seconds` (a POST ends once the update is stored, so the
inbox fills faster than it is answered; with `--closed` each of the `--inflight` waits for its answer before the
next); `--rate R` posts at R a second whatever the answers (open loop). Latency runs from the POST being sent to
the reply's last part reaching the fake. Throughput: updates fully answered / (last reply − first POST). Lost:
acknowledged (200) but never answered; doubled: a chat that received one text twice.

Feedback (`--feedback N`): N citizens, `--citizens` at a time, each files one "phản ánh" through the whole
dialog (one update, then wait for the answer, then the next), its content carrying a marker of its own. Then the
database's feedback items are counted by marker (each exactly once) and the acknowledgements at the fake ("Mã
tra cứu", each citizen exactly one, with its item's code).

The database is fresh (SQLite in a temporary directory, or a PostgreSQL database created and dropped here),
prepared (`db upgrade`, the bundled KB loaded) before the server starts; the clock starts after `/healthz` is ok,
every process registered its webhook, and a warm-up (`--warmup` questions) was answered. The server runs with
TELEGRAM_SEND_RATE=0 and LOG_LEVEL=WARNING. The bench shares the machine's cores with the server: the CPU time
of the server's processes, of the bench and of the whole machine (PostgreSQL and anything else running) are
printed too, and on PostgreSQL the sessions and transactions. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import postgres_database  # noqa: E402
from fake_telegram import SECRET, Chat, FakeBotAPI, button, buttons  # noqa: E402
from feedback_util import CONTENT  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from bot.telegram import SECRET_HEADER  # noqa: E402
from feedback.tables import items  # noqa: E402

ACK = "Mã tra cứu"
STEP_TIMEOUT = 120.0  # seconds a citizen waits for one answer before giving up (counted as stuck)
PATIENCE = 60.0  # after the load: give up waiting for replies when none arrived for this long
QUIET = 3.0  # after the last expected reply: wait this long for doubles


class TimedAPI(FakeBotAPI):
    """The fake Bot API, noting when each message sent or edited reaches it, per chat."""

    def __init__(self):
        super().__init__()
        self.by_chat: dict[int, list[tuple[float, dict]]] = defaultdict(list)  # (arrival, message as sent)
        self.waiting: dict[int, asyncio.Event] = {}
        self.received = 0

    def _result(self, method, p):
        result = super()._result(method, p)
        if method in ("sendMessage", "editMessageText") and isinstance(result, dict):
            chat = result["chat"]["id"]
            self.by_chat[chat].append((time.perf_counter(), {**result, "method": method}))
            self.received += 1
            if chat in self.waiting:
                self.waiting[chat].set()
        return result

    def acks(self, chat: int) -> list[dict]:
        return [m for _, m in self.by_chat.get(chat, []) if m["method"] == "sendMessage" and ACK in m["text"]]

    async def answer(self, chat: int, before: int, expect: Callable[[dict], bool]) -> dict | None:
        """The first message after the chat's `before`-th that `expect` accepts (acknowledgements aside), or
        None after STEP_TIMEOUT."""
        event = self.waiting.setdefault(chat, asyncio.Event())
        deadline = time.perf_counter() + STEP_TIMEOUT
        while True:
            for _, m in self.by_chat[chat][before:]:
                if ACK not in m["text"] and expect(m):
                    return m
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), deadline - time.perf_counter())
            except TimeoutError:
                return None


class Server:
    """`python -m bot run [--workers N]` on a prepared database, in webhook mode against the fake."""

    def __init__(self, url: str, tmp: Path, workers: int):
        self.url = url
        self.workers = workers
        self.port = free_port()
        self.log = tmp / "server.log"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PROMETHEUS_", "STAFF_"))}
        self.env = inherited | {
            "DATABASE_URL": url,
            "DATA_DIR": str(tmp / "data"),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
        }
        self.proc: asyncio.subprocess.Process | None = None

    def prepare(self) -> None:
        """Schema and bundled KB, before the clock (the first start would import the KB)."""
        for command in (["db", "upgrade"], ["kb", "stats"]):
            subprocess.run([sys.executable, "-m", "bot", *command], env=self.env, cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip

    async def start(self, api: TimedAPI) -> None:
        env = self.env | {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PUBLIC_BASE_URL": "https://bench.invalid",
            "TELEGRAM_SEND_RATE": "0",
        }
        command = [sys.executable, "-m", "bot", "run"] + (["--workers", str(self.workers)] if self.workers > 1 else [])
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.perf_counter() + 120
        async with aiohttp.ClientSession() as s:
            while True:
                if self.proc.returncode is not None or time.perf_counter() > deadline:
                    raise SystemExit(f"the server did not start; its log:\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with s.get(f"{self.base}/healthz") as r:
                        body = await r.json()
                    registered = sum(1 for m, _ in api.calls if m == "setWebhook")
                    if body.get("status") == "ok" and registered >= self.workers:
                        return
                await asyncio.sleep(0.2)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def pids(self) -> list[int]:
        """The server process and its workers."""
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            pids += [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    async def stages(self) -> dict[str, tuple[float, float]]:
        """(sum of seconds, count) per stage of tthc_stage_seconds, and of tthc_search_seconds, over every process."""
        async with aiohttp.ClientSession() as s, s.get(f"{self.base}/metrics") as r:
            body = await r.text()
        found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for name, kind, labels, value in re.findall(
            r"^tthc_(stage|search)_seconds_(sum|count)(?:\{([^}]*)\})? (\S+)$", body, re.M
        ):
            stage = re.search(r'stage="([^"]+)"', labels).group(1) if name == "stage" else "search"
            found[stage][kind == "count"] += float(value)
        return {k: (v[0], v[1]) for k, v in found.items()}


class Usage:
    """CPU seconds used during a span: the server's processes, this bench, the whole machine (PostgreSQL too);
    on PostgreSQL, the database sessions opened meanwhile."""

    def __init__(self, server: Server):
        self.server = server
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, float, int]:
        jiffies = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]  # user … steal
        idle = jiffies[3] + jiffies[4]  # idle, iowait
        tick = os.sysconf("SC_CLK_TCK")
        busy, total = (sum(jiffies) - idle) / tick, sum(jiffies) / tick
        return self.server.cpu_seconds(), time.process_time(), busy, total, *self._postgres()

    def _postgres(self) -> tuple[int, int]:
        """Sessions opened and transactions ended in the database so far (0, 0 on SQLite)."""
        if not self.server.url.startswith("postgresql"):
            return 0, 0
        engine = create_engine(self.server.url)
        with engine.connect() as c:
            row = c.execute(text("SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
                                 "WHERE datname = current_database()")).one()  # fmt: skip
        engine.dispose()
        return int(row[0] or 0), int(row[1] or 0)

    def report(self, updates: int) -> str:
        """The figures, with CPU and transactions per answered update."""
        end = self._now()
        server, bench, busy, total, sessions, xacts = (b - a for a, b in zip(self.start, end, strict=True))
        updates = max(updates, 1)
        cores = os.cpu_count() or 1
        wall = total / cores
        line = (f"cpu: server {server:.1f} s ({server / wall / cores:.0%} of {cores} cores, "
                f"{server / updates * 1000:.0f} ms an update)  bench {bench:.1f} s ({bench / wall / cores:.0%})  "
                f"whole machine busy {busy / total:.0%}")  # fmt: skip
        if self.server.url.startswith("postgresql"):
            per = xacts / updates
            line += f"\n  postgres: sessions opened={sessions - 1}  transactions={xacts} ({per:.1f} an update)"
        return line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database(kind: str, tmp: Path):
    """A fresh database's URL: SQLite in `tmp`, or PostgreSQL (tests/conftest.py: TEST_POSTGRES_URL), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'app.db'}"
        return
    try:
        with postgres_database() as url:
            yield url
    except pytest.skip.Exception as e:  # the tests' way of saying PostgreSQL is unreachable
        raise SystemExit(f"error: {e.msg}") from None


OPENINGS = ("", "cho hỏi", "dạ cho em hỏi", "xin hỏi", "ad ơi", "chào bạn,", "mình muốn hỏi", "hỏi chút")
ENDINGS = ("", "ạ", "với ạ", "nhé", "vậy", "ak", "thế nào", "được không")


def varied(texts: list[str]) -> list[str]:
    """Each question with the openings and endings citizens add, all different (`--unique`: no search is asked
    twice, so the server's recent-search memory never answers)."""
    return [
        " ".join(w for w in (opening, text, ending) if w)
        for ending in ENDINGS
        for opening in OPENINGS
        for text in texts
    ]


def questions() -> list[str]:
    """The questions of bench/questions/ a citizen asks first (those with no history)."""
    found = []
    for path in sorted((ROOT / "bench" / "questions").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("q") and not item.get("history"):
                found.append(item["q"])
    return found


class Load:
    """Posts updates to the webhook and notes when each was sent and how it was answered."""

    def __init__(self, server: Server, api: TimedAPI, inflight: int, unique: bool = False):
        self.url = server.base + "/telegram/webhook"
        self.api = api
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=inflight))
        self.sent: dict[int, float] = {}  # chat: when its (one) question was posted
        self.statuses: Counter = Counter()
        self.acked: set[int] = set()
        self.users = itertools.count(random.randrange(10**9, 2 * 10**9, 10**6))
        shuffled = random.Random(12).sample(q := questions(), len(q))
        self.texts = iter(varied(shuffled)) if unique else itertools.cycle(shuffled)
        self.n = itertools.count()

    async def post(self, update: dict) -> int | str:
        try:
            async with self.session.post(
                self.url, data=json.dumps(update), headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"}
            ) as r:
                await r.read()
                status: int | str = r.status
        except (aiohttp.ClientError, TimeoutError) as e:
            status = type(e).__name__
        self.statuses[status] += 1
        return status

    async def question(self, wait: bool = False) -> None:
        """A new citizen's first message: every tenth `/start`, the others a question; with `wait`, until the
        answer came."""
        chat = Chat(self.api, next(self.users))
        text = "/start" if next(self.n) % 10 == 0 else next(self.texts)
        update = chat.message_update(text)
        self.sent[chat.chat["id"]] = time.perf_counter()
        if await self.post(update) == 200:
            self.acked.add(chat.chat["id"])
            if wait:
                await self.api.answer(chat.chat["id"], 0, anything)

    def answered(self) -> list[int]:
        return [c for c in self.acked if c in self.api.by_chat]

    async def settle(self, done: Callable[[], bool]) -> None:
        """Wait until `done` (then QUIET more seconds for doubles) or until nothing arrived for PATIENCE s."""
        seen, since = self.api.received, time.perf_counter()
        while not done() and time.perf_counter() - since < PATIENCE:
            await asyncio.sleep(0.1)
            if self.api.received != seen:
                seen, since = self.api.received, time.perf_counter()
        await asyncio.sleep(QUIET)

    async def close(self) -> None:
        await self.session.close()


async def at_max(work: Callable, inflight: int, seconds: float) -> None:
    """`inflight` at a time, each started as soon as one finishes, for `seconds`."""
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        while time.perf_counter() < deadline:
            await work()

    await asyncio.gather(*(lane() for _ in range(inflight)))


async def at_rate(work: Callable, rate: float, seconds: float) -> None:
    """Started at `rate` a second whether the earlier ones finished or not (open loop)."""
    started = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(work()))
    await asyncio.gather(*tasks)


async def warm_up(load: Load, n: int) -> None:
    """`n` questions answered before the clock starts (search indexes built, connections open), then forgotten."""
    await asyncio.gather(*(load.question() for _ in range(n)))
    await load.settle(lambda: len(load.answered()) == len(load.acked))
    load.sent.clear()
    load.acked.clear()
    load.statuses.clear()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def doubled(messages: list[tuple[float, dict]]) -> bool:
    texts = [m["text"] for _, m in messages if m["method"] == "sendMessage"]
    return len(texts) != len(set(texts))


async def run_questions(args, server: Server, api: TimedAPI, profiler: Profiler | None) -> None:
    load = Load(server, api, args.inflight if args.rate == "max" else 1000, args.unique)
    try:
        await warm_up(load, args.warmup)
        before, usage = await server.stages(), Usage(server)
        if profiler:
            await profiler.start()
        started = time.perf_counter()
        if args.rate == "max":
            await at_max(lambda: load.question(args.closed), args.inflight, args.seconds)
        else:
            await at_rate(load.question, args.rate, args.seconds)
        posted_for = time.perf_counter() - started
        await load.settle(lambda: len(load.answered()) == len(load.acked))
        if profiler:
            await profiler.stop()
        used = usage.report(len(load.answered()))
        stages = await server.stages()
    finally:
        await load.close()
    answered = load.answered()
    ends = {c: api.by_chat[c][-1][0] for c in answered}
    latencies = [(ends[c] - load.sent[c]) * 1000 for c in answered]
    wall = (max(ends.values()) - started) if ends else float("nan")
    twice = sum(doubled(api.by_chat[c]) for c in load.sent if c in api.by_chat)
    unacked = len([c for c in load.sent if c in api.by_chat and c not in load.acked])
    p50, p99, top = pct(latencies, 0.5), pct(latencies, 0.99), max(latencies, default=0)
    print(f"  posted={len(load.sent)} in {posted_for:.1f} s  statuses={dict(load.statuses)}  "
          f"acknowledged={len(load.acked)} ({len(load.acked) / posted_for:.0f}/s)")  # fmt: skip
    print(f"  replies received={len(answered)}  lost={len(load.acked) - len(answered)}  doubled={twice}  "
          f"answered without 200={unacked}")  # fmt: skip
    print(f"  throughput={len(answered) / wall:.0f} updates/s fully answered (over {wall:.1f} s)  "
          f"latency_ms p50={p50:.0f} p99={p99:.0f} max={top:.0f}")  # fmt: skip
    print_costs(stages, before, used)


def print_costs(stages, before, used: str) -> None:
    means = []
    for stage in ("store", "inbox_wait", "turn", "search", "send", "process", "reply"):
        total, count = stages.get(stage, (0, 0))
        total0, count0 = before.get(stage, (0, 0))
        if count > count0:
            means.append(f"{stage}={(total - total0) / (count - count0) * 1000:.1f} ({count - count0:.0f})")
    print(f"  server stage means in ms (observations): {' '.join(means)}")
    print(f"  {used}")


# ---- feedback ------------------------------------------------------------------------------------


def has_button(label: str) -> Callable[[dict], bool]:
    return lambda m: any(b["text"].startswith(label) for b in buttons(m))


def says(fragment: str) -> Callable[[dict], bool]:
    return lambda m: fragment in m["text"]


def anything(_m: dict) -> bool:
    return True


# The "phản ánh" dialog (tests/test_pakn_telegram.py): (say | press, text or button, what the answer must show)
FLOW = (
    ("say", "/phananh", has_button("Phản ánh")),
    ("press", "Phản ánh", anything),
    ("say", "{content}", has_button("Bỏ qua")),  # no procedure
    ("press", "Bỏ qua", anything),
    ("say", "UBND phường Hà Đông", has_button("Đồng ý")),
    ("press", "Đồng ý", has_button("Bỏ qua")),  # consent
    ("press", "Bỏ qua", anything),  # no files
    ("say", "Nguyễn Văn Bình", anything),
    ("say", "số 12 ngõ 45 phố Lê Lợi, Hà Đông, Hà Nội", anything),
    ("say", "0912 345 678", has_button("Gửi")),
    ("press", "Gửi", says("đã được gửi")),
)


def marker(user: int) -> str:
    """A citizen's mark in its content: letters only (digits could be taken for a phone or an id number)."""
    return "bench" + "".join("abcdefghij"[int(d)] for d in str(user))


async def file_feedback(load: Load, user: int, steps: list[float], outcome: Counter) -> None:
    chat, api = Chat(load.api, user), load.api
    shown: dict = {}
    for action, what, expect in FLOW:
        if action == "say":
            update = chat.message_update(what.format(content=f"{CONTENT} Mã kiểm thử: {marker(user)}."))
        else:
            update = chat.callback_update(button(shown, what)["callback_data"], shown)
        before = len(api.by_chat[user])
        sent = time.perf_counter()
        status = await load.post(update)
        if status != 200:
            outcome[f"refused {status}"] += 1
            return
        answer = await api.answer(user, before, expect)
        if answer is None:
            stuck = f"stuck after {action} {what[:12]!r}"
            if not outcome[stuck]:  # what the bot said last, to see why
                last = api.by_chat[user][-1][1]["text"] if api.by_chat[user] else "(nothing)"
                print(f"    {stuck}; the bot's last message: {last[:300]!r}", file=sys.stderr)
            outcome[stuck] += 1
            return
        steps.append((time.perf_counter() - sent) * 1000)
        shown = answer
    outcome["filed"] += 1


async def run_feedback(args, server: Server, api: TimedAPI, profiler: Profiler | None) -> None:
    load = Load(server, api, args.citizens)
    steps: list[float] = []
    outcome: Counter = Counter()
    users = [next(load.users) for _ in range(args.feedback)]
    gate = asyncio.Semaphore(args.citizens)

    async def one(user: int) -> None:
        async with gate:
            await file_feedback(load, user, steps, outcome)

    async def progress() -> None:
        while True:
            await asyncio.sleep(30)
            print(f"    … {time.perf_counter() - started:.0f} s: {dict(outcome)}", file=sys.stderr, flush=True)

    try:
        await warm_up(load, args.warmup)
        before, usage = await server.stages(), Usage(server)
        if profiler:
            await profiler.start()
        started = time.perf_counter()
        reporter = asyncio.create_task(progress())
        await asyncio.gather(*(one(u) for u in users))
        reporter.cancel()
        await load.settle(lambda: all(api.acks(u) for u in users))
        if profiler:
            await profiler.stop()
        used = usage.report(sum(load.statuses.values()))
        stages = await server.stages()
    finally:
        await load.close()
    ends = [t for u in users for t, _ in api.by_chat.get(u, [])]
    wall = max(ends, default=time.perf_counter()) - started
    posted = sum(load.statuses.values())
    print(f"  citizens={len(users)} at a time={args.citizens}  outcome={dict(outcome)}")
    print(f"  time={wall:.1f} s (to the last message)  updates posted={posted} ({posted / wall:.0f}/s)  "
          f"statuses={dict(load.statuses)}")  # fmt: skip
    print(f"  step latency_ms p50={pct(steps, 0.5):.0f} p99={pct(steps, 0.99):.0f} max={max(steps, default=0):.0f}")
    count_feedback(server.url, users, api)
    print_costs(stages, before, used)


def count_feedback(url: str, users: list[int], api: TimedAPI) -> None:
    """Items stored per citizen (by the content's marker) and acknowledgements per citizen, with the item's code."""
    engine = create_engine(url)
    with engine.connect() as c:
        rows = c.execute(select(items.c.code, items.c.content, items.c.channel_user_id)).all()
    engine.dispose()
    by_marker: dict[str, list] = defaultdict(list)
    for code, content, user_id in rows:
        found = re.search(r"Mã kiểm thử: (bench[a-j]+)", content)
        by_marker[found.group(1) if found else ""].append((code, user_id))
    stored = Counter(len(by_marker.get(marker(u), [])) for u in users)
    wrong_user = sum(1 for u in users for _, uid in by_marker.get(marker(u), []) if uid != str(u))
    acks = Counter(len(api.acks(u)) for u in users)
    wrong_code = 0
    for u in users:
        codes = {code for code, _ in by_marker.get(marker(u), [])}
        wrong_code += sum(1 for m in api.acks(u) if not any(code in m["text"] for code in codes))
    marked = len(rows) - len(by_marker.get("", []))
    more = sum(v for k, v in stored.items() if k > 1)
    print(f"  database: feedback items={len(rows)} with a citizen's marker={marked}  citizens with 1 item={stored[1]} "
          f"with none={stored[0]} with more={more}  stored under another user={wrong_user}")  # fmt: skip
    more = sum(v for k, v in acks.items() if k > 1)
    print(f"  acknowledgements ({ACK!r}): citizens with exactly 1={acks[1]} none={acks[0]} more than 1={more}  "
          f"not naming the citizen's item={wrong_code}")  # fmt: skip


# ---- profile -------------------------------------------------------------------------------------


class Profiler:
    """py-spy sampling the server processes' threads (`threads`: busy ones, the one holding the GIL, or all) while
    the load runs; then the top costs."""

    def __init__(self, py_spy: str, server: Server, out: Path, threads: str):
        self.py_spy, self.server, self.out, self.threads = py_spy, server, out, threads
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        which = {"busy": [], "gil": ["--gil"], "all": ["--idle"]}[self.threads]
        self.proc = await asyncio.create_subprocess_exec(
            self.py_spy, "record", "--pid", str(self.server.proc.pid), "--subprocesses", "--nonblocking",
            "--rate", "100", "--format", "raw", "--output", str(self.out), *which,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        await self.proc.wait()

    def report(self, top: int = 15) -> None:
        """Self samples per function (where the CPU goes), and inclusive samples of the project's functions."""
        own, inclusive, total = Counter(), Counter(), 0
        for line in self.out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            frames = [f for f in stack.split(";") if f.endswith(")") and "(" in f]
            if not frames:
                continue
            total += int(n)
            own[_frame(frames[-1])] += int(n)
            for f in {_frame(f) for f in frames}:
                if _ours(f):
                    inclusive[f] += int(n)
        print(f"  profile: {total} samples of {self.threads} threads, {self.out}")
        print("  self (where the CPU is):")
        for f, n in own.most_common(top):
            print(f"    {n / total:6.1%}  {f}")
        print("  inclusive, project code:")
        for f, n in inclusive.most_common(top):
            print(f"    {n / total:6.1%}  {f}")


def _ours(frame: str) -> bool:
    """A function of the project's own code, other than the entry point every main-thread sample passes."""
    path = frame.rpartition(" (")[2].rstrip(")")
    return (ROOT / path).is_file() and path not in ("bot/__main__.py", "bot/cli.py")


def _frame(frame: str) -> str:
    """`function (path/file.py:line)` → `function (file.py)`, the path relative to the project or site-packages."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    path = path.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
    return f"{name} ({path})"


# ---- main ----------------------------------------------------------------------------------------


async def bench(args, server: Server) -> None:
    api = await TimedAPI().start()
    profiler = Profiler(args.py_spy, server, Path(args.profile), args.threads) if args.profile else None
    try:
        started = time.perf_counter()
        await server.start(api)
        print(f"  server up in {time.perf_counter() - started:.1f} s (pid {server.proc.pid}, workers {server.workers})")
        if args.feedback:
            await run_feedback(args, server, api, profiler)
        else:
            await run_questions(args, server, api, profiler)
    finally:
        await server.stop()
        await api.stop()
    warnings = [ln for ln in server.log.read_text(errors="replace").splitlines() if " WARNING " in ln or "ERROR" in ln]
    print(f"  server log: {len(warnings)} warning/error lines" + "".join(f"\n    {ln[:200]}" for ln in warnings[-5:]))
    if profiler:
        profiler.report()


def rate(value: str) -> str | float:
    if value == "max":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("'max' or a number of updates a second") from None


def version() -> str:
    """The commit measured, + when the working tree differs from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return (head or "?") + ("+changes" if changed.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rate", default="max", type=rate, help="'max', or updates a second (open loop)")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long updates are posted")
    ap.add_argument("--inflight", type=int, default=64, help="POSTs in flight at --rate max")
    ap.add_argument("--closed", action="store_true", help="--rate max: each of --inflight waits for its answer")
    ap.add_argument("--unique", action="store_true", help="no question asked twice (openings and endings added)")
    ap.add_argument("--warmup", type=int, default=128, help="questions answered before the clock starts")
    ap.add_argument("--feedback", type=int, default=0, metavar="N", help="N citizens file feedback instead")
    ap.add_argument("--citizens", type=int, default=200, help="feedback: citizens in the dialog at a time")
    ap.add_argument("--profile", metavar="PATH", help="record py-spy samples of the server under load to PATH")
    ap.add_argument("--py-spy", default="py-spy", help="the py-spy executable (pip install py-spy)")
    ap.add_argument("--threads", choices=["busy", "gil", "all"], default="busy",
                    help="profile: threads not waiting; the one holding the GIL; all (waits too)")  # fmt: skip
    args = ap.parse_args()
    if args.feedback:
        what = f"feedback={args.feedback} citizens={args.citizens}"
    else:
        lanes = f" inflight={args.inflight}{' closed' if args.closed else ''}" if args.rate == "max" else ""
        what = f"rate={args.rate if args.rate == 'max' else f'{args.rate:g}'}{lanes} seconds={args.seconds:g}"
        what += " unique" if args.unique else ""
    print(f"load: db={args.db} workers={args.workers} {what}  code={version()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="load_bench_") as tmp, database(args.db, Path(tmp)) as url:
        server = Server(url, Path(tmp), args.workers)
        started = time.perf_counter()
        server.prepare()
        print(f"  database prepared in {time.perf_counter() - started:.1f} s", flush=True)
        asyncio.run(bench(args, server))


if __name__ == "__main__":
    main()
