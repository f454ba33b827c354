"""How a question fits each procedure's names: the official name, its main phrase, and its aliases and everyday
names (read through the lexicon as a question is). The search ranks and decides with these measures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from knowledge.model import Procedure
from knowledge.text import (
    Analysis,
    abbreviations,
    analyze,
    expand,
    fold_word,
    record_syllables,
    restyle,
    words,
)

# Words of procedure names that say nothing about which procedure it is.
GENERIC = frozenset(["thu", "tuc", "tai", "viec", "cua", "va", "cho", "doi", "voi", "trong", "cac", "hoac", "do"])
# The same words as written in names, so 'thú' (in 'thú y') is not taken for 'thủ' (in 'thủ tục').
GENERIC_FORMS = frozenset(["thủ", "tục", "tại", "việc", "của", "và", "cho", "đối", "với", "trong", "các", "hoặc", "do"])
# The same for aliases and everyday names, which are plain speech ('đổi căn cước': 'đổi' means change there).
ALIAS_GENERIC = GENERIC - {"doi", "voi", "do"}
# Words a name or a question may open with before it says which procedure (for the lead match).
LEAD_SKIP = frozenset(["thu", "tuc", "dang", "ky", "cap", "xin", "lam"])
PARENTHESES = re.compile(r"\([^)]*\)")
HEAD_END = re.compile(r"[,;:]")
HEAD_MIN_WORDS = 4
LEADING_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)
ACCENT_MISMATCH = 0.25
ALIAS_PARTIAL = 0.7  # an alias's words found loose, not as the phrase


def phrases_of(procs: Sequence[Procedure], everyday: Mapping[str, Sequence[str]]) -> list[list[Analysis]]:
    """Each procedure's aliases, sample questions and everyday names (by code), read as a question is."""
    return [[_named(a) for a in (*p.aliases, *p.questions, *everyday.get(p.code, ())) if a.strip()] for p in procs]


class NameFit:
    def __init__(self, procs: Sequence[Procedure], phrases: Sequence[list[Analysis]], idf: dict[str, float]):
        self.idf = idf
        pairs = list(zip(procs, phrases, strict=True))
        self.alias_seqs = [[tuple(t for t in a.terms if t not in ALIAS_GENERIC) for a in ps] for ps in phrases]
        # Each alias word as written ('tặng'), so a question's 'tầng' does not pass for it.
        self.alias_forms = [[dict(zip(a.terms, a.marks, strict=True)) for a in ps] for ps in phrases]
        self.alias_sets = [[frozenset(a) for a in seqs] for seqs in self.alias_seqs]
        self.name_words = [set(record_syllables(p.name)) for p in procs]
        self.name_seq = [record_syllables(head(p.name)) for p in procs]
        self.name_sets = [set(t) for t in self.name_seq]
        self.head_words = [_content(head(p.name)) for p in procs]
        self.full_words = [_content(PARENTHESES.sub(" ", p.name)) for p in procs]
        # The words of each name as written, and "" for a word typed without diacritics (never a mismatch).
        self.title_marks = [{"", *words(restyle(p.name)), *(m for a in ps for m in a.marks)} for p, ps in pairs]
        # A name word weighs by how rare it is as written: 'thú' (in 'thú y') is rare, though 'thu' is not.
        df: dict[str, int] = {}
        for name in self.full_words:
            for w in set(name.values()):
                df[w] = df.get(w, 0) + 1
        n = max(1, len(procs))
        form_idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.weights = {
            (whole, as_written): [
                {t: form_idf.get(w, 0.0) if as_written else idf.get(t, 0.0) for t, w in name.items()} for name in names
            ]
            for whole, names in ((False, self.head_words), (True, self.full_words))
            for as_written in (False, True)
        }
        self.totals = {key: [sum(ws.values()) for ws in table] for key, table in self.weights.items()}
        self._known = lru_cache(maxsize=4096)(self._known_uncached)

    def coverage(self, i: int, terms: Sequence[str], marks: dict[str, str] | None = None) -> float:
        """IDF-weighted share of the query's known words found in the procedure's name, or in one of its
        aliases or everyday names; a word typed with other diacritics than the name's ('vàng' against
        'vắng') counts for little."""
        known, total = self._known(tuple(terms))
        if not total:
            return 0.0
        bad = self.mismatched(i, marks)
        best = 0.0
        for names in (self.name_words[i], *self.alias_sets[i]):
            found = 0.0
            for t, w in known:
                if t in names:
                    found += w * ACCENT_MISMATCH if t in bad else w
            best = max(best, found)
        return best / total

    def _known_uncached(self, terms: tuple[str, ...]) -> tuple[tuple[tuple[str, float], ...], float]:
        known = tuple((t, self.idf[t]) for t in dict.fromkeys(terms) if t in self.idf)
        return known, sum(w for _, w in known)

    def mismatched(self, i: int, marks: dict[str, str] | None) -> set[str]:
        """The question's words typed with other diacritics than the procedure's names write them."""
        if not marks:
            return set()
        written = self.title_marks[i]
        return {t for t, typed in marks.items() if typed not in written}

    def precision(
        self, i: int, terms: set[str], marks: dict[str, str] | None = None, whole: bool = False, as_written=False
    ) -> float:
        """IDF-weighted share of the words of the name's main phrase (or `whole` name) that the question
        names (a word typed with other diacritics than the name's counts for little). `as_written`: words
        weigh by how rare they are as written in names, not folded ('thú' of 'thú y' is rare, 'thu' is not)."""
        weights, total = self.weights[whole, as_written][i], self.totals[whole, as_written][i]
        if not total:
            return 0.0
        bad = self.mismatched(i, marks)
        found = 0.0
        for t in terms:
            w = weights.get(t)
            if w:
                found += w * ACCENT_MISMATCH if t in bad else w
        return found / total

    def alias_fit(self, i: int, seq: Sequence[str], marks: dict[str, str] | None = None) -> float:
        """How far the question holds one of the procedure's aliases or everyday names: 1.0 when it holds one
        whole, its words in order ('sang tên sổ đỏ' inside a long story); otherwise the IDF-weighted share of
        the best one's words it holds, scaled down (loose words are weaker evidence than the phrase). A word
        typed with other diacritics than the alias's ('tầng' for 'tặng') is not the alias's word."""
        if not self.alias_seqs[i]:
            return 0.0
        best = 0.0
        for alias, forms in zip(self.alias_seqs[i], self.alias_forms[i], strict=True):
            words = seq
            if marks and any(t in marks for t in alias):
                words = [t for t in seq if marks.get(t, forms.get(t, "")) in (forms.get(t, ""), t)]
            if _holds(words, alias):
                return 1.0
            total = sum(self.idf.get(t, 0.0) for t in alias)
            if total:
                best = max(best, ALIAS_PARTIAL * sum(self.idf.get(t, 0.0) for t in set(alias) & set(words)) / total)
        return best

    def fit(self, i: int, terms: Sequence[str], marks: dict[str, str]) -> float:
        """How well question and procedure fit: the question's words found in the name, or the name's
        main phrase (or one of its everyday names) found in the question (a story that names the
        procedure among other things)."""
        named = max(self.precision(i, set(terms), marks, whole=True), self.alias_fit(i, terms, marks))
        return max(self.coverage(i, terms, marks), named)

    def lead(self, i: int, own: Sequence[str]) -> float:
        """How far the name begins with the question's words, in order (generic words aside)."""
        name = _skip_lead(self.name_seq[i])
        query = _skip_lead(own)
        n = 0
        while n < min(len(name), len(query)) and name[n] == query[n]:
            n += 1
        return n / min(len(query), 4) if query else 0.0


def head(name: str) -> str:
    """The name's main phrase: without parentheses, up to the first comma or semicolon that closes a
    phrase of HEAD_MIN_WORDS words or more ('Chứng thực bản sao từ bản chính giấy tờ, văn bản do …');
    a comma after a shorter item is a list ('Thay đổi, cải chính, bổ sung thông tin hộ tịch, …')."""
    text = LEADING_THU_TUC.sub("", PARENTHESES.sub(" ", name))
    start = 0
    for m in HEAD_END.finditer(text):
        if len(text[start : m.start()].split()) >= HEAD_MIN_WORDS:
            return text[: m.start()]
        start = m.end()
    return text



def _named(alias: str) -> Analysis:
    """An alias or everyday name read as a question is, what it implies included: it names that procedure."""
    a = analyze(alias)
    if not a.implied:
        return a
    words_ = list(a.terms) + [t for t in a.implied if t not in a.terms]
    return replace(a, terms=tuple(words_), marks=a.marks + tuple(t for t in a.implied if t not in a.terms))



def _content(name: str) -> dict[str, str]:
    """The words of a name that say which procedure it is (abbreviations written in full): folded, and as
    written."""
    written = expand(words(restyle(name)), abbreviations())
    return {fold_word(w): w for w in reversed(written) if w not in GENERIC_FORMS}



def _holds(seq: Sequence[str], phrase: Sequence[str], slack: int = 2) -> bool:
    """Whether `seq` holds the words of `phrase` in order, with at most `slack` other words among them."""
    if not phrase:
        return False
    for start, word in enumerate(seq):
        if word != phrase[0]:
            continue
        k, j = 1, start + 1
        while k < len(phrase) and j < len(seq) and j - start < len(phrase) + slack:
            if seq[j] == phrase[k]:
                k += 1
            j += 1
        if k == len(phrase):
            return True
    return False



def _skip_lead(tokens: Sequence[str]) -> list[str]:
    i = 0
    while i < len(tokens) and tokens[i] in LEAD_SKIP:
        i += 1
    return list(tokens[i:])
