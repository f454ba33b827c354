"""Search quality on several question sets at once, in-process (the same figures as ../shared/eval/score.py,
which runs the batch command): top-1, top-3, out-of-scope abstention and confident-wrong per set.

    .venv/bin/python bench/eval_sets.py [--misses N] [--set NAME] [--holdout]

Sets: ../shared/eval/dev.jsonl and dev_natural.jsonl (when present), and the project's own citizen-style
questions in bench/questions/ (citizen_work.jsonl; with --holdout also citizen_holdout.jsonl, which is
meant to be read as a figure only). Gold codes outside the KB, and records whose page names another code,
do not count, as in score.py.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from pathlib import Path

from knowledge.model import Procedure
from knowledge.search import SearchIndex
from knowledge.store import BUNDLED_KB

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
NAMED = re.compile(r"Mã thủ tục[:\s]*([0-9]\.[0-9]{6})")


def kb_codes() -> set[str]:
    """Codes that can be answered rightly: in the bundled KB, less records whose page names another code."""
    crawl = SHARED / "data/dichvucong/procedures.jsonl.gz"
    if not crawl.exists():
        with gzip.open(BUNDLED_KB, "rt", encoding="utf-8") as f:
            return {json.loads(line)["code"] for line in f}
    codes = set()
    with gzip.open(crawl, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            named = NAMED.findall(r.get("raw_text") or "")
            if not named or r["ma_thu_tuc"] in named:
                codes.add(r["ma_thu_tuc"])
    return codes


def sets(holdout: bool) -> dict[str, Path]:
    found = {
        "dev": SHARED / "eval/dev.jsonl",
        "dev_natural": SHARED / "eval/dev_natural.jsonl",
        "citizen_work": ROOT / "bench/questions/citizen_work.jsonl",
    }
    if holdout:
        found["citizen_holdout"] = ROOT / "bench/questions/citizen_holdout.jsonl"
    return {k: v for k, v in found.items() if v.exists()}


def score(index: SearchIndex, cases: list[dict], kb: set[str], misses: int) -> str:
    out, ms = {}, []
    for c in cases:
        t0 = time.perf_counter()
        r = index.search(c["q"], c.get("history") or [])
        ms.append((time.perf_counter() - t0) * 1000)
        out[c["id"]] = (r.codes, r.decision)
    answerable = [c for c in cases if c["behavior"] in ("answer", "clarify") and set(c["gold"]) & kb]
    oos = [c for c in cases if c["behavior"] == "apologize" and not c["gold"]]
    top1 = [c for c in answerable if out[c["id"]][0][:1] and out[c["id"]][0][0] in c["gold"]]
    top3 = [c for c in answerable if set(out[c["id"]][0][:3]) & set(c["gold"])]
    abstained = [c for c in oos if out[c["id"]][1] != "answer"]
    sure = [c for c in answerable if out[c["id"]][1] == "answer"]
    sure_wrong = [c for c in sure if c not in top1]
    for c in [c for c in answerable if c not in top1][:misses]:
        print(f"    MISS {c['id']}: {c['q']!r} gold={c['gold']} got={out[c['id']][0][:3]} {out[c['id']][1]}")
    for c in [c for c in oos if c not in abstained][:misses]:
        print(f"    ANSWERED {c['id']}: {c['q']!r} got={out[c['id']][0][:1]}")

    def rate(n: int, d: int) -> str:
        return f"{n / d:.3f}" if d else "  -  "

    return (
        f"top1={rate(len(top1), len(answerable))} top3={rate(len(top3), len(answerable))} "
        f"oos_abstain={rate(len(abstained), len(oos))} confident_wrong={rate(len(sure_wrong), len(answerable))} "
        f"p50_ms={statistics.median(ms):.2f}  answered={rate(len(sure), len(answerable))} "
        f"(answerable {len(answerable)}, out of scope {len(oos)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--misses", type=int, default=0)
    ap.add_argument("--set", action="append", help="only these sets (by name)")
    ap.add_argument("--holdout", action="store_true", help="also the held-out citizen set (figures only)")
    a = ap.parse_args()
    with gzip.open(BUNDLED_KB, "rt", encoding="utf-8") as f:
        # As the app does: records flagged as damaged at import are not searched.
        index = SearchIndex([p for p in (Procedure.from_dict(json.loads(line)) for line in f) if not p.flags])
    kb = kb_codes()
    for name, path in sets(a.holdout).items():
        if a.set and name not in a.set:
            continue
        cases = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        shown = 0 if name == "citizen_holdout" else a.misses
        print(f"{name:16s}", score(index, cases, kb, shown), flush=True)


if __name__ == "__main__":
    main()
