"""Development-set figures as written and with every diacritic removed, through the batch contract.

    .venv/bin/python bench/eval_variants.py [--cases ../shared/eval/dev.jsonl]

Writes the folded copy to a temporary file and runs ../shared/eval/score.py on both; prints the two summary
lines. Needs ../shared (the evaluation material is not part of the product).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from knowledge.text import fold

ROOT = Path(__file__).resolve().parent.parent
CMD = f"{sys.executable} -m bot kb search --jsonl -"


def score(cases: Path) -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT.parent / "shared/eval/score.py"), "--cases", str(cases), "--cmd", CMD],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=Path, default=ROOT.parent / "shared/eval/dev.jsonl")
    cases = ap.parse_args().cases
    print(f"as written:        {score(cases)}")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as f:
        for line in cases.open(encoding="utf-8"):
            c = json.loads(line)
            c["q"], c["history"] = fold(c["q"]), [fold(h) for h in c["history"]]
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"without diacritics: {score(Path(f.name))}")
    Path(f.name).unlink()


if __name__ == "__main__":
    main()
