"""Report benchmark: a year's report (feedback.stats) and its XLSX and CSV exports over a SQLite database filled
with synthetic feedback items spread over a year (direct inserts: most answered, some transferred, rejected or
still open, a third rated) and the assistant's answer ratings.

    .venv/bin/python bench/report_bench.py [--items 20000] [--year 2026] [--db /tmp/report_bench.db]

Prints the time to fill the database, to compute the year's report (twice: the second finds the working-day
spans cached), and to render the XLSX and the CSV, with the file sizes; then the staff inbox over the same items
(`feedback.inbox`): the first page of open items, of every item, and a search (median of 5 runs each).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from bot import db  # noqa: E402
from dashboard.reports import to_csv, to_xlsx  # noqa: E402
from feedback import inbox, routing, stats, workdays  # noqa: E402
from feedback.tables import audit, items  # noqa: E402
from handlers.store import answer_ratings  # noqa: E402

FIELDS = ["Hộ tịch", "Chứng thực", "Lý lịch tư pháp", "Quốc tịch", "Nuôi con nuôi", "Luật sư", "Công chứng", None]
CHANNELS = ["telegram", "telegram", "telegram", "zalo", "web"]
ENDS = [("answer", "answered")] * 6 + [
    ("transfer", "transferred"),
    ("reject", "rejected"),
    ("mark_duplicate", "duplicate"),
]


def fill(factory, n: int, year: int, rng: random.Random) -> None:
    queue_ids = [routing.add_queue(factory, f"Phòng {i}", 10) for i in range(1, 5)]
    queue_ids.append(routing.list_queues(factory)[0]["id"])
    start = datetime(year, 1, 1, tzinfo=UTC)
    item_rows, audit_rows, rating_rows = [], [], []
    for i in range(1, n + 1):
        created = start + timedelta(seconds=rng.randrange(365 * 86400))
        received = workdays.local_date(created)
        deadline = workdays.add_working_days(received, 10)
        row = {
            "id": i, "code": f"PA-B{i:07d}", "kind": rng.choice(["phan_anh", "kien_nghi"]), "content": "nội dung",
            "field": rng.choice(FIELDS), "channel": rng.choice(CHANNELS), "queue_id": rng.choice(queue_ids),
            "state": "received", "version": 1, "deadline": deadline, "created_at": created, "updated_at": created,
            "answered_at": None, "rating": None, "rated_at": None,  # every row the same keys (one executemany)
        }  # fmt: skip
        audit_rows.append(
            {
                "item_id": i,
                "at": created,
                "actor": "citizen",
                "action": "submit",
                "from_state": None,
                "to_state": "received",
            }
        )
        if rng.random() < 0.85:
            action, state = rng.choice(ENDS)
            done = created + timedelta(days=rng.randrange(0, 25), hours=rng.randrange(8))
            row.update(state=state, answered_at=done if action == "answer" else None, updated_at=done)
            audit_rows.append(
                {
                    "item_id": i,
                    "at": done,
                    "actor": "bench",
                    "action": action,
                    "from_state": "received",
                    "to_state": state,
                }
            )
            if state == "answered" and rng.random() < 0.4:
                row.update(rating=rng.choice([5, 5, 4, 4, 4, 3, 2, 1]), rated_at=done + timedelta(days=1))
        item_rows.append(row)
        rating_rows.append({"at": created, "channel": "telegram", "code": "1.001193", "helpful": rng.random() < 0.83})
    with factory.begin() as s:
        for table, rows in ((items, item_rows), (audit, audit_rows), (answer_ratings, rating_rows)):
            for k in range(0, len(rows), 2000):
                s.execute(insert(table), rows[k : k + 2000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--year", type=int, default=2026)
    ap.add_argument("--db", default="/tmp/report_bench.db")
    args = ap.parse_args()
    Path(args.db).unlink(missing_ok=True)
    engine = db.make_engine(f"sqlite:///{args.db}")
    db.upgrade(engine)
    factory = db.session_factory(engine)

    t = time.perf_counter()
    fill(factory, args.items, args.year, random.Random(7))
    print(f"filled {args.items} items over {args.year}: {time.perf_counter() - t:.1f} s")

    period = stats.preset_period("year", date(args.year, 6, 1))
    for run in ("cold", "warm"):
        t = time.perf_counter()
        report = stats.compute(factory, period)
        print(f"year report ({run}): {(time.perf_counter() - t) * 1000:.0f} ms")
    print(
        f"  {report.total} items, {report.finished} finished, on time {report.on_time_rate} %, "
        f"mean {report.handling_mean} / p90 {report.handling_p90} working days, "
        f"feedback {report.feedback.share} % of {report.feedback.count}, answers {report.answers.share} %"
    )
    for name, render in (("xlsx", to_xlsx), ("csv", to_csv)):
        t = time.perf_counter()
        body = render(report)
        print(f"{name} export: {(time.perf_counter() - t) * 1000:.0f} ms, {len(body):,} bytes")
    for what, criteria in (
        ("open items", inbox.Criteria("bench", None)),
        ("every item", inbox.Criteria("bench", None, state="all")),
        ("a search by code", inbox.Criteria("bench", None, state="all", q="b00012")),
    ):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            page = inbox.inbox(factory, criteria)
            times.append((time.perf_counter() - t) * 1000)
        print(f"inbox, first page of {what}: {statistics.median(times):.0f} ms ({page.total} found)")
    engine.dispose()


if __name__ == "__main__":
    main()
