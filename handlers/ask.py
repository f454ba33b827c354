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
    EVENT,
    GONE,
    NOT_FOUND,
    NOT_HELD,
    WHICH,
    WHICH_OF_LIST,
    menu,
)
from knowledge.answer import ASPECT_TITLES, MORE_LABEL, NO_INFO, first_message, has_more, offer, part
from knowledge.choices import distinguish, plain
from knowledge.events import LifeEvent
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
LEAD_FIT, LEAD_MARGIN = 0.8, 0.5  # a candidate that leads the list this clearly answers an aspect follow-up
MAX_BUTTONS = 6  # on an answer card, all kinds together: it must fit a phone screen
MORE_ARG = 32  # the aspects a "Xem đủ" payload names, joined by "." (the limit of one payload argument)


def _leads(hits) -> bool:
    """Whether the first of a list of candidates leads the others clearly."""
    return len(hits) > 1 and hits[0].coverage >= LEAD_FIT and hits[0].score - hits[1].score >= LEAD_MARGIN


def _picks(turn: int, labels) -> tuple[Button, ...]:
    """Choice buttons for an offered list: `c:turn:index`."""
    return tuple(Button(f"{i}. {label}", f"c:{turn}:{i - 1}", group="pick") for i, label in enumerate(labels, 1))


def _web(url: str) -> bool:
    return url.startswith(("https://", "http://")) and " " not in url and len(url) < 1000


def clean(text: str) -> str:
    """The question as searched: markup-like tags dropped, whitespace collapsed."""
    return " ".join(TAG.sub(" ", text).split())


class Answers:
    def __init__(self, kb: KnowledgeBase, published: Callable[[str, Journal | None], bool] | None = None):
        self.kb = kb
        self.published = published  # whether a procedure has published feedback answers

    def ask(self, state: State, text: str, journal: Journal) -> list[Reply]:
        q = clean(text)
        pick = self._ordinal(state, q)
        if pick is not None:
            state.outcome = "pick"
            return [self.card(state, pick, state.offered_aspects, state.offered_q, picked=True, journal=journal)]
        r = self.kb.search(q, state.turns[-HISTORY:])
        waiting = state.offered and state.offered_turn == state.turn - 1  # the list is the last thing sent
        if waiting and r.aspects and not r.terms:  # "thế còn lệ phí?" while a list waits
            return [self._aspect_of_offered(state, r.aspects, q, journal)]
        state.turns = [*state.turns, q][-HISTORY:]
        state.last_q = q
        state.offered = []
        # A life event told ('bố tôi mới mất'), unless the citizen names the procedure they want outright.
        event = self.kb.events.detect(q) if not (r.named and r.decision == "answer") else None
        if event is not None and any(self.kb.get(s.code) for s in event.steps):
            state.outcome = f"event:{event.id}"
            return [self.steps(state, event, r.aspects, q)]
        if r.context_used and not r.terms and state.code and self.kb.get(state.code) is not None:
            state.outcome = "follow_up"
            return [self.card(state, state.code, r.aspects, q, journal=journal)]
        if r.decision == "answer" and r.hits:
            state.outcome = "answer"
            return [self.card(state, r.hits[0].code, r.aspects, q, journal=journal)]
        key = scope.out_of_scope(q)
        if key is not None:
            state.outcome = f"out_of_scope:{key}"
            return [Reply(feedback_texts.OUT_OF_SCOPE[key], menu(state.turn))]
        if r.decision == "clarify" and r.hits:
            state.outcome = "clarify"
            reply = self.offer(state, [h.code for h in r.hits[:CANDIDATES]], r.aspects, q)
            state.offered_lead = _leads(r.hits)
            return [reply]
        if r.topic:
            state.outcome = f"not_held:{r.topic}"
            journal.review("none", q)
            topic = self.kb.topics.by_id[r.topic]
            return [Reply(NOT_HELD.format(title=topic.title.lower(), where=topic.where), self.way_out(state.turn))]
        if not r.terms and r.aspects:
            state.outcome = "which"
            return [Reply(WHICH)]
        state.outcome = "none"
        journal.review("none", q)
        return [Reply(NOT_FOUND, self.way_out(state.turn))]

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
        """Candidates to choose from, with the question that tells them apart and labels showing where
        their names differ."""
        procs = [p for p in (self.kb.get(c) for c in codes) if p is not None]
        choice = distinguish([p.name for p in procs])
        self._offered(state, [p.code for p in procs], aspects, q)
        lines = "\n".join(f"{i}. {plain(p.name)}" for i, p in enumerate(procs, 1))
        none = Button("Không có thủ tục tôi cần", f"q:{state.turn}", group="none")
        return Reply(f"{choice.question}\n\n{lines}", (*_picks(state.turn, choice.labels), none))

    def steps(self, state: State, event: LifeEvent, aspects, q: str) -> Reply:
        """What a life event calls for, in order, each a choice that opens its card."""
        steps = [(step, p) for step in event.steps if (p := self.kb.get(step.code)) is not None]
        self._offered(state, [p.code for _, p in steps], aspects, q)
        lines = "\n".join(
            f"{i}. {plain(p.name)}" + (f": {step.note}" if step.note else "") for i, (step, p) in enumerate(steps, 1)
        )
        labels = distinguish([p.name for _, p in steps]).labels
        return Reply(EVENT.format(title=event.title, steps=lines), _picks(state.turn, labels))

    @staticmethod
    def _offered(state: State, codes: list[str], aspects, q: str) -> None:
        state.offered = codes
        state.offered_turn = state.turn
        state.offered_aspects = list(aspects)
        state.offered_q = q
        state.offered_lead = False

    def _aspect_of_offered(self, state: State, aspects, q: str, journal: Journal) -> Reply:
        """An aspect asked while a list waits: for the first candidate when it leads clearly; otherwise one
        short line asking which, the list kept (a number, or a button of the list, shows that aspect)."""
        if state.offered_lead:
            state.outcome = "follow_up:lead"
            code = state.offered[0]
            state.offered = []
            return self.card(state, code, aspects, q, picked=True, journal=journal)
        state.outcome = "follow_up:which"
        state.offered_aspects = list(aspects)
        what = ", ".join(ASPECT_BUTTONS.get(a, a).lower() for a in aspects)
        return Reply(WHICH_OF_LIST.format(what=what, n=len(state.offered)))

    def card(
        self,
        state: State,
        code: str,
        aspects=(),
        question: str = "",
        picked: bool = False,
        journal: Journal | None = None,
    ) -> Reply:
        """An answer card; `picked` when chosen by a button or an ordinal rather than typed. With the `journal`
        of a turn whose aspects the citizen asked in words, an aspect the record does not hold (the card says
        "chưa có thông tin") is kept for admins (`no_aspect`, the code, the aspects as what was missing)."""
        proc = self.kb.get(code)
        if proc is None:
            state.outcome = "gone"
            return Reply(GONE, menu(state.turn))
        shown = [a for a in aspects if a in ASPECT_TITLES]
        lacking = [ASPECT_TITLES[a] for a in shown if part(proc, a).first == NO_INFO] if journal is not None else []
        if lacking:
            journal.review("no_aspect", question or state.last_q, code, missing=", ".join(lacking))
        n = state.turn
        fixed = [
            Button("Hữu ích", f"r:{n}:{code}:1", group="rate"),
            Button("Chưa hữu ích", f"r:{n}:{code}:0", group="rate"),
        ]
        if self.published is not None and self.published(code, journal):
            fixed.append(Button("Phản ánh đã được trả lời", f"f:{n}:pub:{code}", group="pub"))
        links: tuple[str, ...] = ()
        if _web(proc.url):
            fixed.append(Button("Xem trên Cổng Dịch vụ công", url=proc.url, group="link"))
            links = (proc.url,)
        # "Xem đủ" names the aspects whose rest it shows (none: the overview's aspects in full).
        more = [a for a in shown if part(proc, a).rest]
        while len(".".join(more)) > MORE_ARG or len(f"v:{n}:{code}:{'.'.join(more)}") > 64:
            more.pop()
        head = []
        if more or (not shown and has_more(proc)):
            head.append(Button(MORE_LABEL, f"v:{n}:{code}" + (f":{'.'.join(more)}" if more else ""), group="more"))
        room = MAX_BUTTONS - len(fixed) - len(head)
        head += [
            Button(ASPECT_BUTTONS[a], f"a:{n}:{code}:{a}", group="aspects")
            for a in offer(proc, shown)
            if a in ASPECT_BUTTONS
        ][: max(room, 0)]
        buttons = [*head, *fixed]
        if picked and code != state.code:
            state.turns = [*state.turns, proc.name][-HISTORY:]  # a procedure picked, not typed, is the context
        state.code = code
        state.cards = [*state.cards, {"n": n, "code": code, "q": question or state.last_q}][-KEEP_CARDS:]
        return Reply(first_message(proc, shown), tuple(buttons), links)
