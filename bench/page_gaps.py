"""How many answer aspects say "chưa có thông tin" although the procedure's portal page holds them.

Parses every record of the crawl, renders each aspect as the bot answers it (knowledge/answer.py), and
counts the aspects answered "no information" (for conditions: "no special condition") while the page text
(`raw_text`) has that section or table (knowledge/portal.py: `page_states`). Run from the project root:

    .venv/bin/python bench/page_gaps.py [CRAWL.jsonl.gz] [--list]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.answer import ASPECT_TITLES, NO_INFO, render  # noqa: E402
from knowledge.portal import page_sections, page_states, parse_portal_record  # noqa: E402

CRAWL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dichvucong" / "procedures.jsonl.gz"
NO_CONDITION = "không nêu điều kiện riêng"


def answered_empty(text: str) -> bool:
    return NO_INFO in text or NO_CONDITION in text


def gaps(raw: dict) -> list[str]:
    proc = parse_portal_record(raw)
    stated = page_states(page_sections(raw.get("raw_text") or ""))
    return [a for a in ASPECT_TITLES if a in stated and answered_empty(render(proc, (a,)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("crawl", nargs="?", default=str(CRAWL))
    ap.add_argument("--list", action="store_true", help="print every code and aspect found")
    args = ap.parse_args()
    with gzip.open(args.crawl, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    by_aspect: Counter[str] = Counter()
    for raw in records:
        for aspect in gaps(raw):
            by_aspect[aspect] += 1
            if args.list:
                print(f"{raw['ma_thu_tuc']}\t{aspect}")
    detail = ", ".join(f"{a} {n}" for a, n in by_aspect.most_common()) or "none"
    print(
        f"records: {len(records)}; aspects answered 'chưa có thông tin' although the page holds them: "
        f"{sum(by_aspect.values())} ({detail})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
