"""Life events: what happened to a citizen ('bố tôi mới mất', 'vợ sắp sinh', 'mới mua đất') and the
procedures it calls for, in order. The national portal's linked groups (liên thông) are the model.

The map is data (`data/life_events.json`, or the newest version admins saved: knowledge/vocabulary.py): an id,
a title, the phrases that tell the event, and the steps, each a procedure code with a short note; an event marked
`"active": false` is kept but not used. It knows nothing of chats; the dialog shows the steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from knowledge.text import Phrases

EVENTS_FILE = Path(__file__).with_name("data") / "life_events.json"


@dataclass(frozen=True)
class Step:
    code: str
    note: str


@dataclass(frozen=True)
class LifeEvent:
    id: str
    title: str
    triggers: tuple[str, ...]
    steps: tuple[Step, ...]


class EventMap:
    """The events and the phrases that tell them (matched like the lexicon: with or without diacritics)."""

    def __init__(self, events: Iterable[LifeEvent]):
        self.events = {e.id: e for e in events}
        self._phrases = Phrases((e.id, phrase) for e in self.events.values() for phrase in e.triggers)

    def detect(self, text: str) -> LifeEvent | None:
        """The first event the text tells of, or None."""
        found = self._phrases.find(text)
        return self.events[found[0]] if found else None

    def problems(self, codes: Iterable[str]) -> list[str]:
        """What is wrong with the map against the procedures known (`kb check`, tests): unknown codes,
        events without steps or phrases."""
        known = set(codes)
        out = []
        for e in self.events.values():
            if not e.steps or not e.triggers or not e.title:
                out.append(f"life event {e.id}: needs a title, phrases and steps")
            out += [f"life event {e.id}: no procedure {s.code}" for s in e.steps if s.code not in known]
        return out


def parse(data: list[dict]) -> EventMap:
    """The map of the active events from its JSON form; ValueError naming the event for a malformed entry."""
    events = []
    for n, item in enumerate(data, 1):
        try:
            if item.get("active", True) is False:
                continue
            steps = tuple(Step(str(s["code"]), str(s.get("note") or "")) for s in item["steps"])
            events.append(LifeEvent(str(item["id"]), str(item["title"]), tuple(map(str, item["triggers"])), steps))
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"life event {n}: missing or malformed {e}") from None
    return EventMap(events)


def bundled_data() -> list[dict]:
    """The map shipped with the app, in its JSON form."""
    return json.loads(EVENTS_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def bundled() -> EventMap:
    return parse(bundled_data())
