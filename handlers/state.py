"""What a conversation remembers between messages, stored as JSON in the conversation row."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from handlers.core import Button
from knowledge.text import fold

HISTORY = 6  # recent questions kept for follow-ups
KEEP_CARDS = 5  # answer cards that can still be rated
KEEP_LABELS = 20  # buttons of the last replies whose label, typed, presses them
CONTEXT_FIELDS = (
    "turns", "last_q", "code", "cards", "offered", "offered_turn", "offered_aspects", "offered_q", "offered_lead",
    "form", "labels",
)  # fmt: skip
_NUMBERING = re.compile(r"\s*\d{1,3}\s*[.)]\s+")
_PUNCTUATION = re.compile(r"[\W_]+")


def label_key(text: str) -> str:
    """A button label, or a typed text, as the two are compared: folded (no diacritics, lower case), without
    a leading number ("1. ") and punctuation. Empty for a number alone: typed numbers are ordinals."""
    key = " ".join(_PUNCTUATION.sub(" ", fold(_NUMBERING.sub("", text, count=1))).split())
    return "" if key.replace(" ", "").isdigit() else key


@dataclass
class State:
    """What the conversation remembers between messages (stored as JSON)."""

    turn: int = 0  # number of the current turn; buttons carry the turn that drew them
    turns: list[str] = field(default_factory=list)  # recent questions, the search's history
    last_q: str = ""  # the last question typed
    code: str = ""  # the procedure in context
    cards: list[dict[str, Any]] = field(default_factory=list)  # recent answer cards {n, code, q}
    rated: list[int] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)  # the candidates last offered
    offered_turn: int = 0
    offered_aspects: list[str] = field(default_factory=list)
    offered_q: str = ""
    offered_lead: bool = False  # the first candidate offered leads clearly (an aspect follow-up answers for it)
    form: dict[str, Any] | None = None  # a form waiting for a field: {kind, field, soft, …}
    labels: list[list[str]] = field(default_factory=list)  # [label_key, payload] of the last replies' buttons
    outcome: str = field(default="", compare=False)  # what this turn did, for logs (not stored)

    @classmethod
    def from_json(cls, data: Any) -> State:
        """Tolerant: a missing or malformed value (an older or newer version wrote it) takes its default."""
        s = cls()
        if not isinstance(data, dict):
            return s

        def ints(v):
            return [x for x in v if type(x) is int] if isinstance(v, list) else []

        def strs(v):
            return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []

        def text(v):
            return v if isinstance(v, str) else ""

        s.turn = data["turn"] if type(data.get("turn")) is int and data["turn"] >= 0 else 0
        s.turns, s.last_q, s.code = strs(data.get("turns")), text(data.get("last_q")), text(data.get("code"))
        s.cards = (
            [c for c in data.get("cards") or [] if isinstance(c, dict)] if isinstance(data.get("cards"), list) else []
        )
        s.rated = ints(data.get("rated"))
        s.offered, s.offered_aspects = strs(data.get("offered")), strs(data.get("offered_aspects"))
        s.offered_turn = data["offered_turn"] if type(data.get("offered_turn")) is int else 0
        s.offered_q = text(data.get("offered_q"))
        s.offered_lead = data.get("offered_lead") is True
        s.form = data["form"] if isinstance(data.get("form"), dict) else None
        labels = data.get("labels") if isinstance(data.get("labels"), list) else []
        s.labels = [x for x in labels if isinstance(x, list) and len(x) == 2 and all(isinstance(v, str) for v in x)]
        return s

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "turns": self.turns[-HISTORY:],
            "last_q": self.last_q,
            "code": self.code,
            "cards": self.cards[-KEEP_CARDS:],
            "rated": self.rated[-KEEP_CARDS * 4 :],
            "offered": self.offered,
            "offered_turn": self.offered_turn,
            "offered_aspects": self.offered_aspects,
            "offered_q": self.offered_q,
            "offered_lead": self.offered_lead,
            "form": self.form,
            "labels": self.labels[:KEEP_LABELS],
        }

    def remember(self, buttons: Iterable[Button]) -> None:
        """Keep the labels of the buttons just sent, so that typing one presses it (`pressed`)."""
        found: dict[str, str] = {}
        for b in buttons:
            key = label_key(b.label)
            if key and b.payload and not b.url:
                found.setdefault(key, b.payload)
        self.labels = [[k, p] for k, p in found.items()][:KEEP_LABELS]

    def pressed(self, text: str) -> str:
        """The payload of the last replies' button whose label is `text` (folded), or ""."""
        key = label_key(text)
        return next((p for k, p in self.labels if k == key), "") if key else ""

    def forget_context(self) -> None:
        """A long pause: the next question starts afresh (the turn counter stays, old buttons stay old)."""
        fresh = State()
        for name in CONTEXT_FIELDS:
            setattr(self, name, getattr(fresh, name))
