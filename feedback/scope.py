"""What the PAKN channel does not take: complaints, denunciations and requests for legal advice.

`out_of_scope(text)` recognises them from the words used, so the dialog can explain and point to the
right channel (`texts.OUT_OF_SCOPE[key]`) instead of filing them. A hint, not a verdict: staff can still
reject a filed item with the reason "khieu_nai_to_cao".
"""

from __future__ import annotations

import re

from knowledge.text import fold_chars

# Folded (no diacritics, lower case) phrases; the first key whose phrase occurs wins.
_PATTERNS = {
    "to_cao": r"\bto cao\b|\bto giac\b|\bdon to\b",
    "khieu_nai": r"\bkhieu nai\b|\bdon khieu\b|\bkhieu kien\b",
    "tu_van": r"\btu van (?:phap luat|luat|giup)\b|\bxin tu van\b|\bcan tu van\b|\bnho luat su\b",
}


def out_of_scope(text: str) -> str | None:
    """ "khieu_nai", "to_cao", "tu_van" or None."""
    folded = " ".join(fold_chars(text or "").split())
    for key, pattern in _PATTERNS.items():
        if re.search(pattern, folded):
            return key
    return None
