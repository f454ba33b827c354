"""Card length benchmark: the first message of the answer card for every bundled record × every aspect
(and the overview card, no aspect asked), in characters, as the dialog sends it. A phone screen holds
about 700 characters; the goal is p95 ≤ 700.

    .venv/bin/python bench/card_bench.py [--limit 700] [--worst 5]

Prints p50, p95 and max per aspect and over all cards, how many exceed the limit, the largest button
count, and the longest cards (code and aspect) to look at.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.ask import Answers  # noqa: E402
from handlers.state import State  # noqa: E402
from knowledge.answer import ASPECT_TITLES  # noqa: E402
from knowledge.model import Procedure  # noqa: E402
from knowledge.store import BUNDLED_KB  # noqa: E402


class Records:
    """The one method of the knowledge base a card needs: records by code, from the bundled file."""

    def __init__(self, procs: list[Procedure]):
        self.by_code = {p.code: p for p in procs}

    def get(self, code: str) -> Procedure | None:
        return self.by_code.get(code)


def load_bundled() -> list[Procedure]:
    with gzip.open(BUNDLED_KB, "rt", encoding="utf-8") as f:
        return [Procedure.from_dict(json.loads(line)) for line in f]


def pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=700, help="characters that fit one phone screen")
    ap.add_argument("--worst", type=int, default=5, help="how many of the longest cards to list")
    args = ap.parse_args()
    procs = load_bundled()
    answers = Answers(Records(procs))
    sizes: dict[str, list[int]] = {}
    cards: list[tuple[int, str, str]] = []
    most_buttons = 0
    for p in procs:
        for aspect in ("", *ASPECT_TITLES):
            state = State(turn=1)
            reply = answers.card(state, p.code, (aspect,) if aspect else ())
            n = len(reply.text)
            sizes.setdefault(aspect or "overview", []).append(n)
            cards.append((n, p.code, aspect or "overview"))
            most_buttons = max(most_buttons, len(reply.buttons))
    print(f"{len(procs)} records, {len(cards)} cards; first message in characters (limit {args.limit})")
    print(f"{'aspect':<12} {'p50':>6} {'p95':>6} {'max':>6} {'over':>6}")
    for name, values in [*sizes.items(), ("all", [n for n, _, _ in cards])]:
        over = sum(1 for n in values if n > args.limit)
        print(f"{name:<12} {pct(values, 0.5):>6} {pct(values, 0.95):>6} {max(values):>6} {over:>6}")
    print(f"most buttons on a card: {most_buttons} (the published-answers button is not counted here)")
    for n, code, aspect in sorted(cards, reverse=True)[: args.worst]:
        print(f"  {n:>6}  {code} {aspect}")


if __name__ == "__main__":
    main()
