"""Hybrid procedure search: BM25 (bm25s) over folded syllables and syllable pairs, in two fields
(name with aliases and sample questions; body: field, papers, result), rapidfuzz re-ranking of the
candidates, level cues, typo repair, and a calibrated decision: answer, clarify or none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from knowledge.model import Procedure
from knowledge.text import analyze, expand, fold, fold_word, lexicon, syllables

CANDIDATES = 40
# Level prior for a provincial assistant: commune and province procedures are what citizens do.
LEVEL_PRIOR = {"xa": 1.0, "tinh": 0.97, "bo": 0.9}
LEVEL_CUES = {
    "xa": {"xa", "phuong", "thi tran"},
    "tinh": {"tinh", "so", "thanh pho"},
    "bo": {"bo", "trung uong", "cuc"},
}
BODY_WEIGHT = 0.35
PRECISION_WEIGHT = 0.5
LEAD_WEIGHT = 0.2
EXCLUDED_PENALTY = 0.6
HISTORY_WEIGHT = 0.45
# Words of procedure names that say nothing about which procedure it is.
GENERIC = frozenset(
    [
        "thu",
        "tuc",
        "dang",
        "ky",
        "cap",
        "giay",
        "chung",
        "nhan",
        "thuc",
        "hien",
        "tai",
        "viec",
        "cua",
        "va",
        "cho",
        "doi",
        "voi",
    ]
)
# Where one message may turn to a second procedure.
# A Vietnamese syllable without diacritics: onset, vowel nucleus, final.
SYLLABLE = re.compile(r"(ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(ng|nh|ch|[cmnpt])?")
# Words that make a variant of a procedure: a name with one the question lacks is a sibling.
MODIFIERS = frozenset(
    [
        "lai",
        "dung",
        "cham",
        "dut",
        "thay",
        "doi",
        "gia",
        "han",
        "huy",
        "xoa",
        "tam",
        "ngung",
        "dinh",
        "chinh",
        "bo",
        "sung",
        "dieu",
        "chinh",
        "doi",
        "thu",
        "hoi",
        "luu",
        "dong",
        "nuoc",
        "ngoai",
        "ket",
        "hop",
    ]
)
MODIFIER_PENALTY = 0.12
INTENT_SPLIT = re.compile(r"[;?,]|\s(?:còn|và|với|so với)\s", re.IGNORECASE)


def units(tokens: Sequence[str]) -> list[str]:
    """Index units: syllables and adjacent syllable pairs (most Vietnamese words are one or two)."""
    return [*tokens, *(f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False))]


def _level_key(level: str) -> str:
    f = fold(level)
    return "xa" if "xa" in f else "tinh" if "tinh" in f else "bo"


@dataclass(frozen=True)
class Hit:
    code: str
    name: str
    score: float
    coverage: float


@dataclass(frozen=True)
class SearchResult:
    decision: str
    hits: tuple[Hit, ...]
    aspects: tuple[str, ...]
    confidence: float
    terms: tuple[str, ...]
    context_used: bool = False

    @property
    def codes(self) -> list[str]:
        return [h.code for h in self.hits]


@dataclass
class _Query:
    terms: list[str]
    excluded: list[str]
    weight: float = 1.0


class SearchIndex:
    def __init__(self, procs: Sequence[Procedure]):
        self.procs = list(procs)
        self.codes = [p.code for p in self.procs]
        self.by_code = {p.code: i for i, p in enumerate(self.procs)}
        title_tokens = [syllables(" . ".join([p.name, *p.aliases, *p.questions])) for p in self.procs]
        name_tokens = [syllables(p.name) for p in self.procs]
        body_tokens = [syllables(self._body(p)) for p in self.procs]
        self.title_sets = [set(t) for t in title_tokens]
        self.name_sets = [set(t) for t in name_tokens]
        self.name_seq = name_tokens
        self.title = bm25s.BM25()
        self.title.index([units(t) for t in title_tokens], show_progress=False)
        self.body = bm25s.BM25()
        self.body.index([units(t) for t in body_tokens], show_progress=False)
        df: dict[str, int] = {}
        for toks in (set(t) | set(b) for t, b in zip(title_tokens, body_tokens, strict=True)):
            for tok in toks:
                df[tok] = df.get(tok, 0) + 1
        n = max(1, len(self.procs))
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.pairs = {u for toks in title_tokens for u in units(toks)[len(toks) :]}
        self.vocab = sorted(t for t in self.idf if not t.isdigit() and len(t) > 1)
        self.prior = np.array([max((LEVEL_PRIOR[_level_key(lv)] for lv in p.levels), default=0.9) for p in self.procs])
        self.levels = [{_level_key(lv) for lv in p.levels} for p in self.procs]
        self._fuzzy = lru_cache(maxsize=8192)(self._fuzzy_uncached)
        self._split = lru_cache(maxsize=8192)(self._split_uncached)

    @staticmethod
    def _body(p: Procedure) -> str:
        parts = [p.domain, p.result, *(d.name for d in p.documents[:12])]
        return " . ".join(x for x in parts if x)

    # --- query side -----------------------------------------------------------------------------

    def _fuzzy_uncached(self, tok: str) -> tuple[str, ...]:
        found = process.extract(tok, self.vocab, scorer=fuzz.ratio, score_cutoff=66, limit=6)
        return tuple(f[0] for f in found)

    def _split_uncached(self, tok: str) -> tuple[str, ...] | None:
        """A run of joined syllables ('dangkykethon'): the split with fewest pieces, known pairs first."""
        known = lexicon_keys()
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
        return tuple(fold_word(w) for w in expand(list(best[n][1])))

    def _repair(self, terms: Sequence[str]) -> list[str]:
        """Unknown words: a run of joined syllables is split; a misspelt syllable becomes the closest
        known one, if that forms a known word with a neighbour (or if it cannot be a syllable at all)."""
        out: list[str] = []
        for k, t in enumerate(terms):
            if t in self.idf or t.isdigit() or len(t) < 2:
                out.append(t)
                continue
            valid = bool(SYLLABLE.fullmatch(t))
            split = None if valid else self._split(t)
            if split:
                out.extend(split)
                continue
            cands = self._fuzzy(t) if len(t) >= 3 else ()
            prev = out[-1] if out else None
            nxt = terms[k + 1] if k + 1 < len(terms) else None
            paired = [c for c in cands if f"{prev}_{c}" in self.pairs or f"{c}_{nxt}" in self.pairs]
            out.append(paired[0] if paired else cands[0] if cands and not valid else t)
        return out

    def _scores(self, terms: Sequence[str]) -> np.ndarray:
        q = units(terms)
        t = [u for u in q if u in self.title.vocab_dict]
        b = [u for u in q if u in self.body.vocab_dict]
        scores = np.zeros(len(self.procs))
        if t:
            scores += self.title.get_scores(t)
        if b:
            scores += BODY_WEIGHT * self.body.get_scores(b)
        return scores

    def coverage(self, i: int, terms: Sequence[str]) -> float:
        """IDF-weighted share of the query's known words found in the procedure's name and aliases."""
        known = [t for t in dict.fromkeys(terms) if t in self.idf]
        if not known:
            return 0.0
        total = sum(self.idf[t] for t in known)
        return sum(self.idf[t] for t in known if t in self.title_sets[i]) / total

    def precision(self, i: int, terms: set[str]) -> float:
        """IDF-weighted share of the procedure name's words that the question names."""
        name = self.name_sets[i] - GENERIC
        total = sum(self.idf.get(t, 0.0) for t in name)
        if not total:
            return 0.0
        return sum(self.idf.get(t, 0.0) for t in name if t in terms) / total

    def lead(self, i: int, own: Sequence[str]) -> float:
        """How far the name begins with the question's words, in order (generic words aside)."""
        name = [t for t in self.name_seq[i] if t not in GENERIC]
        query = [t for t in own if t not in GENERIC]
        n = 0
        while n < min(len(name), len(query)) and name[n] == query[n]:
            n += 1
        return n / min(len(query), 4) if query else 0.0

    def _query(self, text: str) -> _Query:
        a = analyze(text)
        return _Query(self._repair(a.terms), self._repair(a.excluded))

    def _own(self, q: _Query) -> list[str]:
        return [t for t in q.terms if t in self.idf]

    def search(self, text: str, history: Sequence[str] = (), k: int = 5) -> SearchResult:
        aspects = analyze(text).aspects
        q = self._first_intent(text)
        ctx: _Query | None = None
        for earlier in reversed(history):
            cq = self._first_intent(earlier)
            if self._own(cq):
                ctx = cq
                break
        own = self._own(q)
        if not own and ctx is None:
            return SearchResult("none", (), aspects, 0.0, tuple(q.terms))
        alone = self._rank(q, None) if own else None
        if ctx is not None:
            joint = self._rank(q, ctx)
            weak = not any(u in self.pairs for u in units(own)[len(own) :])
            if (
                alone is None
                or not alone[1]
                or weak
                or (joint[1] and self._cov(joint, own) >= self._cov(alone, own) - 0.01)
            ):
                return self._result(joint, aspects, q, ctx, k)
        return self._result(alone, aspects, q, None, k)

    def _cov(self, ranked, own) -> float:
        return self.coverage(ranked[1][0][1], own) if ranked[1] else 0.0

    def _first_intent(self, text: str) -> _Query:
        """Several procedures in one message ('khai sinh cần gì, còn kết hôn thì sao'): the first."""
        whole = self._query(text)
        parts = [p for p in INTENT_SPLIT.split(text) if p and p.strip()]
        if len(parts) < 2:
            return whole
        found: list[tuple[_Query, int]] = []
        for part in parts:
            pq = self._query(part)
            if not self._own(pq):
                continue
            ranked = self._rank(pq, None)[1]
            if ranked and self.coverage(ranked[0][1], self._own(pq)) >= 0.8:
                found.append((pq, ranked[0][1]))
        if len(found) >= 2 and len({i for _, i in found}) >= 2:
            return found[0][0]
        return whole

    def _rank(self, q: _Query, ctx: _Query | None) -> tuple[np.ndarray, list[tuple[float, int]]]:
        own = self._own(q)
        scores = self._scores(own) if own else np.zeros(len(self.procs))
        terms = set(own)
        excluded = set(q.excluded)
        if ctx is not None:
            weak = not any(u in self.pairs for u in units(own)[len(own) :])
            scores = scores + (1.0 if weak else HISTORY_WEIGHT) * self._scores(self._own(ctx))
            terms |= set(self._own(ctx)) - excluded
            excluded |= set(ctx.excluded)
        scores = scores * self._level_weights(own or self._own(ctx))
        top = [int(i) for i in np.argsort(-scores)[:CANDIDATES] if scores[i] > 0]
        if not top:
            return scores, []
        best = scores[top[0]]
        ranked = []
        for i in top:
            extra = self.name_sets[i] - terms
            s = scores[i] / best + PRECISION_WEIGHT * self.precision(i, terms) + LEAD_WEIGHT * self.lead(i, own)
            s -= MODIFIER_PENALTY * len(extra & MODIFIERS)
            if excluded & extra:
                s -= EXCLUDED_PENALTY
            ranked.append((s, i))
        ranked.sort(reverse=True)
        return scores, ranked

    def _result(self, ranked, aspects, q: _Query, ctx: _Query | None, k: int) -> SearchResult:
        _, order = ranked
        own = self._own(q) or (self._own(ctx) if ctx else [])
        if not order:
            return SearchResult("none", (), aspects, 0.0, tuple(q.terms), ctx is not None)
        hits = tuple(
            Hit(self.codes[i], self.procs[i].name, round(float(s), 4), round(self.coverage(i, own), 3))
            for s, i in order[:k]
        )
        decision, conf = self._decide(hits)
        return SearchResult(decision, hits, aspects, conf, tuple(q.terms), ctx is not None)

    def _level_weights(self, terms: Sequence[str]) -> np.ndarray:
        joined = f" {' '.join(terms)} "
        asked = {lv for lv, cues in LEVEL_CUES.items() if any(f" {c} " in joined for c in cues)}
        if not asked:
            return self.prior
        return np.array([1.0 if lv & asked else 0.85 for lv in self.levels])

    @staticmethod
    def _decide(hits: Sequence[Hit]) -> tuple[str, float]:
        top = hits[0]
        margin = top.score - hits[1].score if len(hits) > 1 else 1.0
        conf = max(0.0, min(1.0, top.coverage * (0.5 + min(margin, 0.5))))
        if top.coverage < 0.5:
            return "none", conf
        close = [h for h in hits[1:4] if top.score - h.score < 0.05 and h.coverage >= top.coverage - 0.1]
        if close or top.coverage < 0.75:
            return "clarify", conf
        return "answer", conf


@lru_cache(maxsize=1)
def lexicon_keys() -> frozenset[str]:
    return frozenset(k for k, rules in lexicon().items() if any(len(r.pattern) == 1 for r in rules))
