"""Tracking codes: "PA-" and 8 characters of Crockford's base32 (40 random bits from `secrets`).

Short enough to read out on the phone, no I, L, O or U to confuse, and not guessable in sequence.
Typing is forgiving: case, spaces, dashes, O for 0 and I or L for 1 are accepted.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "PA-"
LENGTH = 8
MAX_TRIES = 20
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SHAPE = re.compile(rf"PA[{ALPHABET}]{{{LENGTH}}}")


def random_code() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def new_code(taken: Callable[[str], bool], generate: Callable[[], str] = random_code) -> str:
    """A fresh code that `taken` does not know; a collision (one in a trillion) draws again."""
    for _ in range(MAX_TRIES):
        code = generate()
        if not taken(code):
            return code
    raise RuntimeError("no free tracking code after many draws")


def normalize(typed: str) -> str | None:
    """The canonical code for what a citizen typed, or None when it cannot be a code."""
    s = re.sub(r"[\s\-_.:/]", "", (typed or "").upper())
    if not s.startswith("PA"):
        s = "PA" + s
    s = "PA" + s[2:].translate(_TYPED)
    if not _SHAPE.fullmatch(s):
        return None
    return PREFIX + s[2:]


def find_in_text(text: str) -> str | None:
    """A tracking code written somewhere in a message ("tra cứu PA-7K3M 9Q2X giúp tôi")."""
    m = re.search(r"\bPA[\s\-_.]?((?:[0-9A-Za-z][\s\-]?){8})", text or "", re.IGNORECASE)
    return normalize("PA" + m.group(1)) if m else None
