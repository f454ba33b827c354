"""The citizen dialog: menu and commands, questions answered from the knowledge base, browsing by
field, ratings, and the small forms that wait for a typed answer.

`Dialog.respond(state, msg, journal)` reads and updates the conversation `State` and returns `Reply`
values; `handlers.conversation` loads and saves the state around it. Nothing here knows Telegram,
Zalo or the console.

Button payloads are short (Telegram allows 64 bytes): `kind:turn[:args]`, where `turn` is the number of
the turn that drew the button. A button naming its procedure (`p`, `a`) still works from an old message;
one that points into the conversation (a candidate `c`, a rating `r`) works only while that list or
card is the current one, and is otherwise answered as stale.
"""

from __future__ import annotations

import re

from feedback import codes
from handlers import pakn
from handlers.ask import Answers, clean
from handlers.browse import Browser
from handlers.core import FILE_KINDS, Button, Incoming, Reply
from handlers.pakn import FORMS, Desk, Feedback
from handlers.smalltalk import smalltalk
from handlers.state import KEEP_CARDS, State
from handlers.store import Journal
from handlers.texts import (
    ALREADY_RATED,
    ASK_MISSING,
    ASK_PROMPT,
    CANCELLED,
    COMMANDS,
    EMPTY,
    FEEDBACK_OFF,
    FILE_NOT_HERE,
    FILE_NOT_IN_FORM,
    HELP,
    INVALID,
    MAX_TEXT,
    MEDIA_UNSUPPORTED,
    MENU_TEXT,
    MISSING_EMPTY,
    MISSING_THANKS,
    NOT_LISTED,
    NOTHING_TO_CANCEL,
    RATED,
    SMALLTALK,
    STALE_CHOICE,
    STALE_RATING,
    TOO_LONG,
    UNKNOWN_COMMAND,
    WELCOME,
    menu,
)
from knowledge.answer import ASPECT_TITLES, NOTHING_MORE, more_messages
from knowledge.kb import KnowledgeBase

PAYLOAD = re.compile(r"[A-Za-z]:\d{1,9}(?::[\w.\-]{1,32}){0,4}")
CODE = re.compile(r"[\w.\-]{1,32}")


class Dialog:
    def __init__(self, kb: KnowledgeBase, desk: Desk | None = None):
        self.kb = kb
        self.browser = Browser(kb)
        self.answers = Answers(kb, published=self._published)
        self.feedback = Feedback(kb, desk, self.answers.ask) if desk is not None else None

    def _published(self, code: str, journal: Journal | None) -> bool:
        return self.feedback is not None and self.feedback.has_published(code, journal)

    # ---- entry -------------------------------------------------------------------------------

    def respond(self, state: State, msg: Incoming, journal: Journal | None = None) -> list[Reply]:
        journal = journal or Journal(None, msg.channel, msg.user_id, msg.chat_id)
        before = pakn.held(state.form)
        replies = self._respond(state, msg, journal)
        released = before - pakn.held(state.form)
        if released and self.feedback is not None:
            self.feedback.release(journal, released)  # a form cancelled, cleared or left takes its files along
        state.remember(b for r in replies for b in r.buttons)  # their labels, typed, press them
        return replies

    def _respond(self, state: State, msg: Incoming, journal: Journal) -> list[Reply]:
        previous = state.turn
        state.turn = previous + 1
        if msg.payload:
            return self._button(state, msg.payload, previous, journal)
        text = (msg.text or "").strip()
        if text.startswith("/"):
            return self._command(state, text, journal)
        if any(a.kind in FILE_KINDS for a in msg.attachments):
            return self._files(state, msg, journal)
        if msg.attachments and not text:
            kinds = {a.kind for a in msg.attachments}
            state.outcome = "media"
            return [Reply(EMPTY, menu(state.turn))] if kinds <= {"sticker"} else [Reply(MEDIA_UNSUPPORTED)]
        pressed = state.pressed(text)
        if pressed:  # the label of a button just sent, typed: the same as pressing it, at any step
            return self._button(state, pressed, previous, journal)
        if state.form is not None:
            return self._form_text(state, text, journal)
        return self._free_text(state, text, journal)

    def _free_text(self, state: State, text: str, journal: Journal) -> list[Reply]:
        """A typed message no form waits for: a question, unless it concerns the user's feedback."""
        if not any(c.isalnum() for c in text):
            state.outcome = "empty"
            return [Reply(EMPTY, menu(state.turn))]
        if len(text) > MAX_TEXT:
            state.outcome = "too_long"
            return [Reply(TOO_LONG.format(n=MAX_TEXT))]
        talk = smalltalk(text)
        if talk is not None:  # before anything else: a "cảm ơn" is not a reply to a request for information
            state.outcome = f"smalltalk:{talk}"
            return [SMALLTALK[talk](state.turn)]
        if self.feedback is not None:
            fb = self._feedback_text(state, text, journal)
            if fb is not None:
                return fb
        return self.answers.ask(state, text, journal)

    def _feedback_text(self, state: State, text: str, journal: Journal) -> list[Reply] | None:
        """Free text that concerns the user's feedback: a tracking code, a rating, a reply to a request."""
        assert self.feedback is not None
        if codes.find_in_text(text):
            return self.feedback.track_text(state, text, journal)
        if not state.offered:
            rated = self.feedback.rate_typed(state, text, journal)
            if rated is not None:
                return rated
        return self.feedback.offer_info(state, text, journal)

    # ---- commands and buttons ----------------------------------------------------------------

    def _command(self, state: State, text: str, journal: Journal) -> list[Reply]:
        head, _, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        n = state.turn
        had_form = state.form
        if had_form is not None and name != "help":
            if had_form.get("soft", True):
                state.form = had_form.get("back")  # a soft form is left (a draft put aside returns)
            elif name in {"huy", "start", "menu"}:
                state.form = None
        state.outcome = f"command:{name if name in COMMANDS else '?'}"
        if name == "start":
            return [Reply(WELCOME, menu(n))]
        if name == "menu":
            return [Reply(MENU_TEXT, menu(n))]
        if name == "help":
            return [Reply(HELP, menu(n))]
        if name == "thutuc":
            rest = rest.strip()
            if rest and any(c.isalnum() for c in rest) and len(rest) <= MAX_TEXT:
                return self.answers.ask(state, rest, journal)
            return [Reply(ASK_PROMPT)]
        if name == "linhvuc":
            return [self.browser.page(state, "a", 0)]
        if name in ("phananh", "tracuu", "dulieucuatoi", "xoadulieu"):
            if self.feedback is None:
                return [Reply(FEEDBACK_OFF, menu(n))]
            if name == "phananh":
                return self.feedback.start(state, journal)
            if name == "tracuu":
                return self.feedback.track(state, rest, journal)
            if name == "dulieucuatoi":
                return self.feedback.my_data(state, journal)
            return self.feedback.erase(state, journal)
        if name == "huy":
            return [Reply(CANCELLED if had_form else NOTHING_TO_CANCEL, menu(n))]
        return [Reply(UNKNOWN_COMMAND, menu(n))]

    def _button(self, state: State, payload: str, previous: int, journal: Journal) -> list[Reply]:
        state.outcome = "button:?"
        if len(payload) > 64 or not PAYLOAD.fullmatch(payload):
            return [Reply(INVALID, menu(state.turn))]
        kind, drawn, *args = payload.split(":")
        if int(drawn) > previous or int(drawn) == 0:
            return [Reply(INVALID, menu(state.turn))]  # no such turn yet: forged
        state.outcome = f"button:{kind}"
        form = state.form
        if form is not None and form.get("soft", True):
            state.form = form.get("back")  # pressing another button leaves a soft form (a draft put aside returns)
        handler = {
            "m": self._menu_button,
            "p": self._proc_button,
            "a": self._aspect_button,
            "v": self._more_button,
            "c": self._choice_button,
            "q": self._not_listed_button,
            "r": self._rate_button,
            "x": self._cancel_button,
            "d": self.browser.domains_button,
            "l": self.browser.list_button,
            "f": self._feedback_button,
        }.get(kind)
        if handler is None:
            state.outcome = "button:?"
            return [Reply(INVALID, menu(state.turn))]
        return handler(state, int(drawn), args, journal, form)

    def _menu_button(self, state, drawn, args, journal, form) -> list[Reply]:
        item = args[0] if len(args) == 1 else ""
        n = state.turn
        if item == "ask":
            return [Reply(ASK_PROMPT)]
        if item == "browse":
            return [self.browser.page(state, "a", 0)]
        if item in ("feedback", "track"):
            if self.feedback is None:
                return [Reply(FEEDBACK_OFF, menu(n))]
            if item == "feedback":
                return self.feedback.start(state, journal)
            return self.feedback.track(state, "", journal)
        if item == "help":
            return [Reply(HELP, menu(n))]
        if item == "menu":
            return [Reply(MENU_TEXT, menu(n))]
        return [Reply(INVALID, menu(n))]

    def _proc_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 1 or not CODE.fullmatch(args[0]):
            return [Reply(INVALID, menu(state.turn))]
        return [self.answers.card(state, args[0], picked=True)]

    def _aspect_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or not CODE.fullmatch(args[0]) or args[1] not in ASPECT_TITLES:
            return [Reply(INVALID, menu(state.turn))]
        return [self.answers.card(state, args[0], (args[1],), picked=True)]

    def _more_button(self, state, drawn, args, journal, form) -> list[Reply]:
        """“Xem đủ” under a card (`v:turn:code[:aspect.aspect]`): the rest of the aspects it showed, or the
        overview's aspects in full; it names its procedure, so it works from an old card too."""
        aspects = args[1].split(".") if len(args) == 2 else []
        if not 1 <= len(args) <= 2 or not CODE.fullmatch(args[0]) or any(a not in ASPECT_TITLES for a in aspects):
            return [Reply(INVALID, menu(state.turn))]
        proc = self.kb.get(args[0])
        if proc is None:
            return [self.answers.card(state, args[0])]  # the procedure is gone: said as a card would
        return [Reply(text) for text in more_messages(proc, aspects)] or [Reply(NOTHING_MORE)]

    def _choice_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 1 or not args[0].isdigit():
            return [Reply(INVALID, menu(state.turn))]
        i = int(args[0])
        if drawn != state.offered_turn or not state.offered:
            state.outcome = "stale"
            return [Reply(STALE_CHOICE)]
        if i >= len(state.offered):
            return [Reply(INVALID, menu(state.turn))]
        aspects, q = state.offered_aspects, state.offered_q
        return [self.answers.card(state, state.offered[i], aspects, q, picked=True, journal=journal)]

    def _not_listed_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if args:
            return [Reply(INVALID, menu(state.turn))]
        if drawn != state.offered_turn or not state.offered:
            state.outcome = "stale"
            return [Reply(STALE_CHOICE)]
        journal.review("not_listed", state.offered_q)
        state.offered = []
        return [Reply(NOT_LISTED, self.answers.way_out(state.turn))]

    def _rate_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or args[1] not in {"0", "1"} or not CODE.fullmatch(args[0]):
            return [Reply(INVALID, menu(state.turn))]
        card = next((c for c in state.cards if c.get("n") == drawn and c.get("code") == args[0]), None)
        if card is None:
            state.outcome = "stale"
            return [Reply(STALE_RATING)]
        if drawn in state.rated:
            return [Reply(ALREADY_RATED)]
        helpful = args[1] == "1"
        state.rated = [*state.rated, drawn][-KEEP_CARDS * 4 :]
        journal.rating(args[0], helpful)
        if helpful:
            return [Reply(RATED)]
        review = journal.review("unhelpful", str(card.get("q") or ""), args[0])
        state.form = {"kind": "missing", "field": "text", "soft": True, "review": review, "files": False}
        return [Reply(ASK_MISSING, (Button("Bỏ qua", f"x:{state.turn}", group="form"),))]

    def _feedback_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if self.feedback is None or not args:
            return [Reply(INVALID, menu(state.turn))]
        return self.feedback.button(state, drawn, args, journal, form)

    def _cancel_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if args:
            return [Reply(INVALID, menu(state.turn))]
        state.form = None
        return [Reply(CANCELLED if form else NOTHING_TO_CANCEL, menu(state.turn))]  # as /huy ends

    # ---- forms -------------------------------------------------------------------------------

    def _form_text(self, state: State, text: str, journal: Journal) -> list[Reply]:
        form = state.form or {}
        state.outcome = f"form:{form.get('kind')}"
        if form.get("kind") in FORMS and self.feedback is not None:
            replies = self.feedback.form_text(state, text, journal)
            # None: not an answer to the form (which is left), but a new message
            return replies if replies is not None else self._free_text(state, text, journal)
        skip = (Button("Bỏ qua", f"x:{state.turn}", group="form"),)
        if not any(c.isalnum() for c in text):
            return [Reply(MISSING_EMPTY, skip)]
        if len(text) > MAX_TEXT:
            return [Reply(TOO_LONG.format(n=MAX_TEXT), skip)]
        if form.get("kind") == "missing":
            journal.missing(int(form.get("review") or 0), clean(text))
            state.form = None
            return [Reply(MISSING_THANKS, (Button("Gửi phản ánh, kiến nghị", f"m:{state.turn}:feedback"),))]
        state.form = None  # a form this version does not know (written by a newer one): drop it
        return self.answers.ask(state, text, journal)

    def _files(self, state: State, msg: Incoming, journal: Journal) -> list[Reply]:
        state.outcome = "file"
        if state.form is None:
            return [Reply(FILE_NOT_HERE)]
        if state.form.get("kind") in FORMS and self.feedback is not None:
            replies = self.feedback.files_in(state, msg, journal)
            if replies:
                return replies
        # No form of this version takes files (the feedback form will, where it asks for them).
        return [Reply(FILE_NOT_IN_FORM, (Button("Bỏ qua", f"x:{state.turn}", group="form"),))]
