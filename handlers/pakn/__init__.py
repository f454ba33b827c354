"""The feedback dialogs (phản ánh, kiến nghị): the intake form, tracking, replies to a request for
information, ratings, published answers and the data-rights commands.

`handlers.dialog.Dialog` hands over the feedback commands, the `f:` buttons and the forms whose kind is
in `FORMS`; the rules live in `feedback/` (validation, submit, lookup …), this package only asks and
shows. Feedback operations run on the conversation turn's own connection (a savepoint inside its
transaction), so a submit and the cleared draft are stored together, and SQLite's single writer is
never waited for by itself.

The parts: `intake` (the form), `tracking` (status, information replies, ratings, published answers),
`rights` (data rights), on the plumbing of `common`; `Feedback` is all of them, and dispatches a typed
text, a file or a button to the part whose form or button it is.
"""

# ruff: noqa: F401  (re-exports: the texts and helpers others use as `pakn.X`)

from __future__ import annotations

from handlers.core import Incoming, Reply
from handlers.pakn.common import FILE_MISSING, FILES_FULL, STALE, Desk, held, sweep_uploads
from handlers.pakn.intake import (
    CONSENT_PRESS,
    CONSENT_REFUSED,
    EDIT_WHICH,
    FILE_RECEIVED,
    FILES_CLEARED,
    FILES_ONLY_HERE,
    FILES_WAITING,
    INTRO,
    NOT_A_PROCEDURE,
    PROMPTS,
    RESUME,
    STEPS,
    SUBMITTED,
    Intake,
)
from handlers.pakn.rights import (
    ERASE_ASK,
    ERASE_KEPT,
    ERASE_NOTHING,
    ERASE_NOTHING_LEFT,
    ERASED,
    ERASED_DRAFT,
    ERASED_ITEMS,
    ERASED_QUESTIONS,
    Rights,
)
from handlers.pakn.tracking import (
    INFO_FILE,
    INFO_SENT,
    NO_ITEMS,
    OFFER,
    OFFER_GONE,
    OFFER_WHICH,
    RATE_ASK,
    RATED,
    TRACK_PROMPT,
    Tracking,
)
from handlers.store import Journal

FORMS = frozenset({"pakn", "track", "info", "offer", "erase"})


class Feedback(Intake, Tracking, Rights):
    def form_text(self, state, text: str, journal: Journal) -> list[Reply] | None:
        """A typed text while a form of `FORMS` waits, given to that form's own part; None when it is not an
        answer to the form but a new message (the form is left, and the dialog takes it as any other)."""
        form = state.form or {}
        kind = form.get("kind")
        state.outcome = f"form:{kind}"
        if kind == "pakn":
            return self.intake_text(state, text, journal)
        if kind == "track":
            return self.track_text(state, text, journal)
        if kind == "info":
            return self._send_info(state, form.get("code") or "", text, journal, form.get("attached") or [])
        if kind == "offer":
            return self.offer_text(state, text, journal)
        if kind == "erase":
            return self.erase_text(state)
        state.form = None
        return None

    def files_in(self, state, msg: Incoming, journal: Journal) -> list[Reply]:
        """Files for the form that waits; [] when it takes none."""
        kind = (state.form or {}).get("kind")
        state.outcome = f"file:{kind}"
        if kind == "info":
            return self.info_files(state, msg, journal)
        if kind == "pakn":
            return self.intake_files(state, msg, journal)
        return []

    def button(self, state, drawn: int, args: list[str], journal: Journal, form: dict | None) -> list[Reply]:
        """`f:turn:what[:arg…]` buttons."""
        what, arg = args[0], (args[1] if len(args) > 1 else "")
        if what == "track":
            return self.show(state, arg, journal)
        if what == "rate":
            return self._rate(state, arg, args[2] if len(args) > 2 else "", journal)
        if what == "info":
            return self.info_button(state, arg)
        if what == "offer":
            return self._offer_button(state, arg, journal, form)
        if what == "pub":
            return self.published(state, arg, journal)
        if what == "erase":
            return self._erase_button(state, arg, journal, form)
        return self.intake_button(state, drawn, what, arg, journal, form)
