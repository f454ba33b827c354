"""Small talk: greetings, thanks, who the assistant is, what it can do, goodbyes. Recognised only when it is
the whole message (politeness words aside): 'chào bạn, cho hỏi khai sinh' is a question."""

from __future__ import annotations

import re

from knowledge.text import fold

# Words of address and politeness that may surround small talk ("ad ơi cảm ơn nhiều nhé").
POLITE = frozenset(
    ["a", "ad", "admin", "ak", "ah", "ba", "ban", "bot", "chi", "co", "chu", "em", "anh", "minh", "nha", "nhe"]
    + ["nhen", "oi", "nhieu", "nhi", "ha", "hen", "shop", "ta", "to", "toi"]
)
KINDS: dict[str, frozenset[str]] = {
    "greeting": frozenset(
        ["xin chao", "chao", "hello", "hi", "helo", "alo", "hey", "menu", "chao buoi sang", "chao buoi chieu"]
    ),
    "thanks": frozenset(
        ["cam on", "thank", "thanks", "thank you", "tks", "thanks a lot", "ok", "oke", "okay", "vang", "da",
         "da vang", "duoc roi", "hieu roi", "ro roi", "tot qua", "hay qua", "tuyet voi"]
    ),  # fmt: skip
    "who": frozenset(["la ai", "ten gi", "ai day", "ai vay", "la nguoi hay may", "la nguoi that khong", "la may a"]),
    "what": frozenset(["lam duoc gi", "giup duoc gi", "biet lam gi", "lam gi duoc", "huong dan", "giup voi"]),
    "bye": frozenset(["tam biet", "bye", "bye bye", "hen gap lai", "chao nhe"]),
}
_WORDS = re.compile(r"[^\W_]+")


def smalltalk(text: str) -> str | None:
    """The kind of small talk the message is ("greeting", "thanks", "who", "what", "bye"), or None."""
    found = _WORDS.findall(fold(text))
    core = " ".join(w for w in found if w not in POLITE)
    if not core:
        return "greeting" if found else None
    return next((kind for kind, phrases in KINDS.items() if core in phrases), None)
