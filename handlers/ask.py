"""Questions answered from the knowledge base: the search's decision becomes an answer card, a choice
among candidates, or an honest "not found" with a way out."""

from __future__ import annotations

import re
from collections.abc import Callable

from feedback import scope
from feedback import texts as feedback_texts
from handlers.core import Button, Reply
from handlers.state import HISTORY, KEEP_CARDS, State
from handlers.store import Journal
from handlers.texts import (
    ASPECT_BUTTONS,
    CANDIDATES,
    CLARIFY,
    GONE,
    MAYBE,
    NOT_FOUND,
    WHICH,
    menu,
    short,
)
from knowledge.answer import ASPECT_TITLES, DEFAULT_ASPECTS, render
from knowledge.kb import KnowledgeBase
from knowledge.text import fold

TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
ORDINAL = re.compile(
    r"(?:(?:chon|lay|xem|cai|so|muc|thu tuc|lua chon|phuong an)\s+)*(?:thu\s+)?"
    r"(nhat|mot|hai|ba|tu|bon|nam|sau|bay|tam|[1-8]|dau tien|cuoi cung|cuoi)"
    r"(?:\s+(?:a|nhe|nha|di|do|ha|thoi))*"
)
ORDINAL_POS = {"nhat": 0, "mot": 0, "dau tien": 0, "hai": 1, "ba": 2, "tu": 3, "bon": 3, "nam": 4, "sau": 5}
ORDINAL_POS |= {"bay": 6, "tam": 7, "cuoi": -1, "cuoi cung": -1} | {str(n): n - 1 for n in range(1, 9)}


def _web(url: str) -> bool:
    return url.startswith(("https://", "http://")) and " " not in url and len(url) < 1000


def clean(text: str) -> str:
    """The question as searched: markup-like tags dropped, whitespace collapsed."""
    return " ".join(TAG.sub(" ", text).split())


class Answers:
    def __init__(self, kb: KnowledgeBase, published: Callable[[str], bool] | None = None):
        self.kb = kb
        self.published = published  # whether a procedure has published feedback answers

    def ask(self, state: State, text: str, journal: Journal) -> list[Reply]:
        q = clean(text)
        pick = self._ordinal(state, q)
        if pick is not None:
            state.outcome = "pick"
            return [self.card(state, pick, state.offered_aspects, state.offered_q, picked=True)]
        r = self.kb.search(q, state.turns[-HISTORY:])
        state.turns = [*state.turns, q][-HISTORY:]
        state.last_q = q
        state.offered = []
        if r.context_used and not r.terms and state.code and self.kb.get(state.code) is not None:
            state.outcome = "follow_up"
            return [self.card(state, state.code, r.aspects, q)]
        if r.decision == "answer" and r.hits:
            state.outcome = "answer"
            return [self.card(state, r.hits[0].code, r.aspects, q)]
        if r.decision == "clarify" and r.hits:
            state.outcome = "clarify"
            return [self.offer(state, [h.code for h in r.hits[:CANDIDATES]], r.aspects, q)]
        if not r.terms and r.aspects:
            state.outcome = "which"
            return [Reply(WHICH)]
        state.outcome = "none"
        key = scope.out_of_scope(q)
        if key is not None:
            state.outcome = f"out_of_scope:{key}"
            return [Reply(feedback_texts.OUT_OF_SCOPE[key], menu(state.turn))]
        journal.review("none", q)
        suggestions = [h for h in r.hits[:3] if h.coverage >= 0.4]
        text = NOT_FOUND
        if suggestions:
            text += "\n\n" + MAYBE + "\n" + "\n".join(f"• {h.name}" for h in suggestions)
        buttons = tuple(Button(short(h.name), f"p:{state.turn}:{h.code}", group="maybe") for h in suggestions)
        return [Reply(text, (*buttons, *self.way_out(state.turn)))]

    def way_out(self, turn: int) -> tuple[Button, ...]:
        return (
            Button("Tra cứu theo lĩnh vực", f"m:{turn}:browse", group="out"),
            Button("Gửi phản ánh, kiến nghị", f"m:{turn}:feedback", group="out"),
        )

    def _ordinal(self, state: State, q: str) -> str | None:
        """'cái thứ hai', 'số 2', '2' when candidates were offered: that candidate."""
        if not state.offered:
            return None
        folded = " ".join(re.sub(r"[^\w\s]", " ", fold(q)).split())
        m = ORDINAL.fullmatch(folded)
        if not m:
            return None
        pos = ORDINAL_POS[m.group(1)]
        return state.offered[pos] if -len(state.offered) <= pos < len(state.offered) else None

    def offer(self, state: State, codes: list[str], aspects, q: str) -> Reply:
        procs = [p for p in (self.kb.get(c) for c in codes) if p is not None]
        state.offered = [p.code for p in procs]
        state.offered_turn = state.turn
        state.offered_aspects = list(aspects)
        state.offered_q = q
        text = CLARIFY + "\n\n" + "\n".join(f"{i}. {p.name}" for i, p in enumerate(procs, 1))
        buttons = [
            Button(f"{i}. {short(p.name)}", f"c:{state.turn}:{i - 1}", group="pick") for i, p in enumerate(procs, 1)
        ]
        buttons.append(Button("Không có thủ tục tôi cần", f"q:{state.turn}", group="none"))
        return Reply(text, tuple(buttons))

    def card(self, state: State, code: str, aspects=(), question: str = "", picked: bool = False) -> Reply:
        """An answer card; `picked` when chosen by a button or an ordinal rather than typed."""
        proc = self.kb.get(code)
        if proc is None:
            state.outcome = "gone"
            return Reply(GONE, menu(state.turn))
        shown = [a for a in aspects if a in ASPECT_TITLES]
        n = state.turn
        buttons = [
            Button(label, f"a:{n}:{code}:{a}", group="aspects")
            for a, label in ASPECT_BUTTONS.items()
            if a not in (shown or DEFAULT_ASPECTS)
        ]
        buttons += [
            Button("Hữu ích", f"r:{n}:{code}:1", group="rate"),
            Button("Chưa hữu ích", f"r:{n}:{code}:0", group="rate"),
        ]
        if self.published is not None and self.published(code):
            buttons.append(Button("Phản ánh đã được trả lời", f"f:{n}:pub:{code}", group="pub"))
        links: tuple[str, ...] = ()
        if _web(proc.url):
            buttons.append(Button("Xem trên Cổng Dịch vụ công", url=proc.url, group="link"))
            links = (proc.url,)
        if picked and code != state.code:
            state.turns = [*state.turns, proc.name][-HISTORY:]  # a procedure picked, not typed, is the context
        state.code = code
        state.cards = [*state.cards, {"n": n, "code": code, "q": question or state.last_q}][-KEEP_CARDS:]
        return Reply(render(proc, tuple(shown)), tuple(buttons), links)
