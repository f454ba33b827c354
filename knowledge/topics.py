"""What citizens ask that the knowledge base does not hold (ly hôn at the court, trợ cấp thất nghiệp, school
and hospital matters …), and where to go instead. Data: `data/not_held.json` (an id, a title, the phrases
that tell the topic, and where to go). The search abstains on these rather than offer a procedure that
shares a word with the question; the dialog says "chưa có trong dữ liệu" with the pointer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from knowledge.text import Phrases

TOPICS_FILE = Path(__file__).with_name("data") / "not_held.json"


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    where: str


class Topics:
    def __init__(self, topics: list[tuple[Topic, list[str]]]):
        self.by_id = {t.id: t for t, _ in topics}
        self._phrases = Phrases((t.id, p) for t, phrases in topics for p in phrases)

    def find(self, text: str) -> tuple[Topic, tuple[str, ...]] | None:
        """The topic the text asks about, with the phrase that tells it (folded words), or None."""
        found = self._phrases.find(text)
        return (self.by_id[found[0]], found[1]) if found else None


def parse(data: list[dict]) -> Topics:
    """The topics from their JSON form; ValueError naming the entry for a malformed one."""
    out = []
    for n, item in enumerate(data, 1):
        try:
            topic = Topic(str(item["id"]), str(item["title"]), str(item["where"]))
            out.append((topic, [str(p) for p in item["phrases"]]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"topic {n}: missing or malformed {e}") from None
    return Topics(out)


@lru_cache(maxsize=1)
def bundled() -> Topics:
    return parse(json.loads(TOPICS_FILE.read_text(encoding="utf-8")))
