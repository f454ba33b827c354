"""What a conversation remembers between messages, stored as JSON in the conversation row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HISTORY = 6  # recent questions kept for follow-ups
KEEP_CARDS = 5  # answer cards that can still be rated
CONTEXT_FIELDS = ("turns", "last_q", "code", "cards", "offered", "offered_turn", "offered_aspects", "offered_q", "form")


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
    form: dict[str, Any] | None = None  # a form waiting for a field: {kind, field, soft, …}
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
        s.form = data["form"] if isinstance(data.get("form"), dict) else None
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
            "form": self.form,
        }

    def forget_context(self) -> None:
        """A long pause: the next question starts afresh (the turn counter stays, old buttons stay old)."""
        fresh = State()
        for name in CONTEXT_FIELDS:
            setattr(self, name, getattr(fresh, name))
