"""Typo repair for questions: joined syllables split, a misspelt syllable made the closest known one."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from knowledge.text import fold_word, rule_words

# A Vietnamese syllable without diacritics: onset, vowel nucleus, final.
SYLLABLE = re.compile(r"(ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(ng|nh|ch|[cmnpt])?")
FUZZY_ALONE = 76
MAX_REPAIR_LEN = 40


class Repair:
    """Knows the records' words (`idf`) and word pairs (`pairs`); called on a question's words."""

    def __init__(self, idf: dict[str, float], pairs: set[str]):
        self.idf = idf
        self.pairs = pairs
        self.vocab = sorted(t for t in idf if not t.isdigit() and len(t) > 1)
        self._fuzzy = lru_cache(maxsize=8192)(self._fuzzy_uncached)
        self._split = lru_cache(maxsize=8192)(self._split_uncached)

    def _fuzzy_uncached(self, tok: str) -> tuple[str, ...]:
        found = process.extract(tok, self.vocab, scorer=fuzz.ratio, score_cutoff=66, limit=6)
        return tuple((f[0], f[1]) for f in found)

    def _split_uncached(self, tok: str) -> tuple[str, ...] | None:
        """A run of joined syllables ('dangkykethon'): the split with fewest pieces, known pairs first."""
        known = rule_words()
        n = len(tok)
        best: list[tuple[float, tuple[str, ...]] | None] = [None] * (n + 1)
        best[0] = (0.0, ())
        for i in range(n):
            if best[i] is None:
                continue
            cost, pieces = best[i]
            for j in range(i + 1, min(n, i + 7) + 1):
                piece = tok[i:j]
                if not SYLLABLE.fullmatch(piece) and piece not in known:
                    continue
                if piece not in self.idf and piece not in known:
                    continue
                c = cost + 1.0 - (0.6 if pieces and f"{pieces[-1]}_{piece}" in self.pairs else 0.0)
                if best[j] is None or c < best[j][0]:
                    best[j] = (c, (*pieces, piece))
        if best[n] is None or len(best[n][1]) < 2:
            return None
        return tuple(best[n][1])

    def __call__(self, words: list[str]) -> list[str]:
        """Unknown words: a run of joined syllables is split; a misspelt syllable becomes the closest
        known one, if that forms a known word with a neighbour (or, closer still, if it cannot be a
        Vietnamese syllable at all). Known words pass unchanged, diacritics kept."""
        out: list[str] = []
        for k, w in enumerate(words):
            t = fold_word(w)
            if t in self.idf or t.isdigit() or not 2 <= len(t) <= MAX_REPAIR_LEN or t in rule_words():
                out.append(w)
                continue
            valid = bool(SYLLABLE.fullmatch(t))
            if valid and t != w:  # typed with diacritics: a real word the records do not use
                out.append(w)
                continue
            split = None if valid else self._split(t)
            if split:
                out.extend(split)
                continue
            cands = self._fuzzy(t) if len(t) >= 3 else ()
            prev = fold_word(out[-1]) if out else None
            nxt = fold_word(words[k + 1]) if k + 1 < len(words) else None
            paired = [c for c, _ in cands if f"{prev}_{c}" in self.pairs or f"{c}_{nxt}" in self.pairs]
            close = [c for c, score in cands if score >= FUZZY_ALONE]
            out.append(paired[0] if paired else close[0] if close and not valid else w)
        return out
