"""Search benchmark: index build time, per-query latency and process memory, on the bundled KB and on a
synthetic KB of 50,000 records made from it. Prints one line per KB; figures go to the README.

    .venv/bin/python bench/search_bench.py [--synthetic 50000] [--questions FILE.jsonl]

Questions: the `q` field of a JSON Lines file (default: ../shared/eval/dev.jsonl when present, else a
built-in list). The machine is shared and noisy: compare figures from one run, not across runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import statistics
import time
from dataclasses import replace
from pathlib import Path

from knowledge.model import Procedure
from knowledge.search import SearchIndex
from knowledge.store import BUNDLED_KB

BUILTIN = [
    "đăng ký khai sinh cần giấy tờ gì",
    "lam giay ket hon o dau",
    "chứng thực bản sao lệ phí bao nhiêu",
    "tạm trú mất mấy ngày",
    "thủ tục cấp lại giấy phép xây dựng",
    "dk hkd online dc ko",
    "thời tiết hôm nay",
    "xin xác nhận tình trạng hôn nhân",
]


def load_bundled() -> list[Procedure]:
    with gzip.open(BUNDLED_KB, "rt", encoding="utf-8") as f:
        return [Procedure.from_dict(json.loads(line)) for line in f]


def synthetic(base: list[Procedure], n: int, seed: int = 7) -> list[Procedure]:
    """Records made by crossing names and fields of real ones, with new codes."""
    rng = random.Random(seed)
    out = list(base)
    while len(out) < n:
        a, b = rng.choice(base), rng.choice(base)
        words = b.name.split()
        cut = rng.randrange(1, max(2, len(words)))
        out.append(replace(a, code=f"9.{len(out):06d}", name=f"{a.name} {' '.join(words[cut:])}".strip()))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(procs: list[Procedure], questions: list[str], label: str) -> None:
    t0 = time.perf_counter()
    index = SearchIndex(procs)
    build = time.perf_counter() - t0
    index.search("khởi động")
    times = []
    for q in questions:
        t = time.perf_counter()
        index.search(q)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(
        f"{label}: records={len(procs)} build_s={build:.2f} queries={len(times)} "
        f"p50_ms={statistics.median(times):.2f} p99_ms={p99:.2f} max_rss_mb={rss_mb():.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", type=int, default=50_000)
    ap.add_argument("--questions", default=str(Path(__file__).parent.parent / ".." / "shared/eval/dev.jsonl"))
    a = ap.parse_args()
    path = Path(a.questions)
    questions = [json.loads(x)["q"] for x in path.open(encoding="utf-8")] if path.is_file() else BUILTIN
    base = load_bundled()
    measure(base, questions, "bundled")
    if a.synthetic:
        measure(synthetic(base, a.synthetic), questions, "synthetic")


if __name__ == "__main__":
    main()
