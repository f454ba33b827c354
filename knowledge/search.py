"""Hybrid procedure search: BM25 (bm25s) over folded syllables and syllable pairs, in two fields
(name with aliases and sample questions; body: field, papers, result), rapidfuzz re-ranking of the
candidates, level cues, typo repair, and a calibrated decision: answer, clarify or none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized
from rapidfuzz import fuzz, process

from knowledge.model import Procedure
from knowledge.text import (
    Analysis,
    abbreviations,
    analyze,
    everyday_names,
    expand,
    fold,
    fold_word,
    record_syllables,
    restyle,
    rule_words,
    words,
)
from knowledge.topics import Topics
from knowledge.topics import bundled as not_held

CANDIDATES = 40
# Level prior for a provincial assistant: commune and province procedures are what citizens do.
LEVEL_PRIOR = {"xa": 1.0, "tinh": 0.97, "bo": 0.9}
LEVEL_CUES = {
    "xa": {"xa", "phuong", "thi tran"},
    "tinh": {"tinh", "so", "thanh pho"},
    "bo": {"bo", "trung uong", "cuc"},
}
TITLE_K1, TITLE_B = 1.2, 0.3
BODY_WEIGHT = 0.35
PRECISION_WEIGHT = 0.7
LEAD_WEIGHT = 0.2
EXCLUDED_PENALTY = 0.6
HISTORY_WEIGHT = 0.45
WEAK_OWN_WEIGHT = 0.3
# Words of procedure names that say nothing about which procedure it is.
GENERIC = frozenset(["thu", "tuc", "tai", "viec", "cua", "va", "cho", "doi", "voi", "trong", "cac", "hoac", "do"])
# The same words as written in names, so 'thú' (in 'thú y') is not taken for 'thủ' (in 'thủ tục').
GENERIC_FORMS = frozenset(["thủ", "tục", "tại", "việc", "của", "và", "cho", "đối", "với", "trong", "các", "hoặc", "do"])
# The same for aliases and everyday names, which are plain speech ('đổi căn cước': 'đổi' means change there).
ALIAS_GENERIC = GENERIC - {"doi", "voi", "do"}
# Words a name or a question may open with before it says which procedure (for the lead match).
LEAD_SKIP = frozenset(["thu", "tuc", "dang", "ky", "cap", "xin", "lam"])
# A word pair found in at most this share of records names a procedure ('khai sinh', not 'đăng ký').
STRONG_PAIR_SHARE = 0.03
PARENTHESES = re.compile(r"\([^)]*\)")
# "(thực hiện tại cấp tỉnh)", "(cấp xã)": the level a twin of the same procedure is done at.
LEVEL_NOTE = re.compile(r"\((?:thực hiện )?(?:tại |ở )?cấp [^)]{1,20}\)", re.IGNORECASE)
HEAD_END = re.compile(r"[,;:]")
HEAD_MIN_WORDS = 4
LEADING_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)
# A Vietnamese syllable without diacritics: onset, vowel nucleus, final.
SYLLABLE = re.compile(r"(ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(ng|nh|ch|[cmnpt])?")
# Words that make a variant of a procedure: a name with one the question lacks is a sibling.
MODIFIERS = frozenset(
    ["lai", "dung", "huy", "xoa", "doi"]
    + ["cham_dut", "thay_doi", "gia_han", "tam_ngung", "dinh_chinh", "bo_sung", "dieu_chinh", "thu_hoi"]
    + ["luu_dong", "nuoc_ngoai", "ket_hop", "cap_doi", "cap_lai"]
)
MODIFIER_PENALTY = 0.2
ASKED_VARIANT_PENALTY = 0.4  # stated by the citizen, so stronger evidence than a variant word left unsaid
ACCENT_MISMATCH = 0.25
ALIAS_PARTIAL = 0.7  # an alias's words found loose, not as the phrase
# Decision: below NONE_BELOW coverage nothing fits; an answer needs this coverage and margin.
NONE_BELOW = 0.5
ANSWER_COVERAGE = 0.8
ANSWER_MARGIN = 0.25
NAMED_MIN = 0.7  # an answer needs this much of the procedure's own name (or an everyday name) in the question
ACCENT_PENALTY = 0.4
FUZZY_ALONE = 76
# Longer input is cut (a question is never this long); longer "words" are not repaired.
MAX_QUERY_CHARS = 2000
MAX_REPAIR_LEN = 40
# Ordinal references to earlier choices, as folded phrases, and the position they pick.
ORDINALS = (
    *((p, 0) for p in ("dau tien", "thu nhat", "so 1", "thu 1", "so mot")),
    *((p, 1) for p in ("thu hai", "thu 2", "so 2", "so hai")),
    *((p, 2) for p in ("thu ba", "thu 3", "so 3", "so ba")),
    *((p, 3) for p in ("thu tu", "thu 4", "so 4", "so bon")),
    ("truoc do", -2),
    ("cuoi", -1),
)
MAX_REPLAY = 6
# Where one message may turn to a second procedure.
INTENT_SPLIT = re.compile(r"[;?,]|\s(?:còn|và|so với|nhưng)\s", re.IGNORECASE)


def units(tokens: Sequence[str]) -> list[str]:
    """Index units: syllables and adjacent syllable pairs (most Vietnamese words are one or two)."""
    return [*tokens, *(f"{a}_{b}" for a, b in zip(tokens, tokens[1:], strict=False))]


def _locality(levels: set[str]) -> int:
    """How close to the citizen: commune 2, province 1, ministry only 0."""
    return 2 if "xa" in levels else 1 if "tinh" in levels else 0


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
    named: bool = True  # the question names a procedure itself (not only a story that implies one)
    topic: str = ""  # a need the knowledge base does not hold (knowledge.topics), when that is what is asked

    @property
    def codes(self) -> list[str]:
        return [h.code for h in self.hits]


@dataclass
class _Query:
    terms: list[str]
    aspects: tuple[str, ...]
    excluded: list[str]
    marks: dict[str, str]  # folded term -> the accented form typed, for terms typed with diacritics
    named: bool = True  # the words name a procedure; False when only a story's implied one was added


class SearchIndex:
    def __init__(self, procs: Sequence[Procedure], topics: Topics | None = None):
        self.procs = list(procs)
        self.topics = topics if topics is not None else not_held()
        self.codes = [p.code for p in self.procs]
        self.by_code = {p.code: i for i, p in enumerate(self.procs)}
        n = max(1, len(self.procs))
        everyday = everyday_names()
        # Aliases, sample questions and everyday names are read as a question is (through the lexicon).
        phrases = [
            [_named(a) for a in (*p.aliases, *p.questions, *everyday.get(p.code, ())) if a.strip()] for p in self.procs
        ]
        self.alias_seqs = [[tuple(t for t in a.terms if t not in ALIAS_GENERIC) for a in ps] for ps in phrases]
        # Each alias word as written ('tặng'), so a question's 'tầng' does not pass for it.
        self.alias_forms = [[dict(zip(a.terms, a.marks, strict=True)) for a in ps] for ps in phrases]
        self.name_words = [set(record_syllables(p.name)) for p in self.procs]
        self.alias_sets = [[frozenset(a) for a in seqs] for seqs in self.alias_seqs]
        pairs = list(zip(self.procs, phrases, strict=True))
        title_tokens = [record_syllables(p.name) + [t for a in ps for t in a.terms] for p, ps in pairs]
        name_tokens = [record_syllables(head(p.name)) for p in self.procs]
        self.title_sets = [set(t) for t in title_tokens]
        self.name_sets = [set(t) for t in name_tokens]
        self.head_words = [_content(head(p.name)) for p in self.procs]
        self.full_words = [_content(PARENTHESES.sub(" ", p.name)) for p in self.procs]
        self.modifiers = [set(units(t)) & MODIFIERS for t in name_tokens]
        self.all_modifiers = [set(units(record_syllables(p.name))) & MODIFIERS for p in self.procs]
        # The words of each name as written, and "" for a word typed without diacritics (never a mismatch).
        self.title_marks = [{"", *words(restyle(p.name)), *(m for a in ps for m in a.marks)} for p, ps in pairs]
        self.name_seq = name_tokens
        df: dict[str, int] = {}
        pair_df: dict[str, int] = {}
        for toks in title_tokens:
            for u in set(units(toks)[len(toks) :]):
                pair_df[u] = pair_df.get(u, 0) + 1
        self.title = _bm25(title_tokens, df, k1=TITLE_K1, b=TITLE_B)
        self.body = _bm25((record_syllables(self._body(p)) for p in self.procs), df, self.title_sets)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.pairs = set(pair_df)
        self.strong_pairs = {u for u, c in pair_df.items() if c <= max(2, STRONG_PAIR_SHARE * n)}
        self.vocab = sorted(t for t in self.idf if not t.isdigit() and len(t) > 1)
        self.prior = np.array([max((LEVEL_PRIOR[_level_key(lv)] for lv in p.levels), default=0.9) for p in self.procs])
        self.levels = [{_level_key(lv) for lv in p.levels} for p in self.procs]
        self.twin_keys = [fold(LEVEL_NOTE.sub(" ", p.name)) for p in self.procs]
        self._fuzzy = lru_cache(maxsize=8192)(self._fuzzy_uncached)
        self._split = lru_cache(maxsize=8192)(self._split_uncached)
        self._known = lru_cache(maxsize=4096)(self._known_uncached)

    @staticmethod
    def _body(p: Procedure) -> str:
        parts = [p.domain, p.result, *(d.name for d in p.documents[:12])]
        return " . ".join(x for x in parts if x)

    # --- query side -----------------------------------------------------------------------------

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

    def _repair(self, words: list[str]) -> list[str]:
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

    def _paired(self, a: str, b: str) -> bool:
        return f"{a}_{b}" in self.pairs

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

    def coverage(self, i: int, terms: Sequence[str], marks: dict[str, str] | None = None) -> float:
        """IDF-weighted share of the query's known words found in the procedure's name, or in one of its
        aliases or everyday names; a word typed with other diacritics than the name's ('vàng' against
        'vắng') counts for little."""
        known = self._known(tuple(terms))
        if not known:
            return 0.0
        weights = known
        if marks:
            own_marks = self.title_marks[i]
            weights = tuple((t, w * ACCENT_MISMATCH if marks.get(t, "") not in own_marks else w) for t, w in known)
        best = 0.0
        for names in (self.name_words[i], *self.alias_sets[i]):
            best = max(best, sum(w for t, w in weights if t in names))
        return best / sum(w for _, w in known)

    def _known_uncached(self, terms: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
        return tuple((t, self.idf[t]) for t in dict.fromkeys(terms) if t in self.idf)

    def precision(self, i: int, terms: set[str], marks: dict[str, str] | None = None, whole: bool = False) -> float:
        """IDF-weighted share of the words of the name's main phrase (or `whole` name) that the question
        names (a word typed with other diacritics than the name's counts for little)."""
        name = self.full_words[i] if whole else self.head_words[i]
        total = sum(self.idf.get(t, 0.0) for t in name)
        if not total:
            return 0.0
        found = 0.0
        for t in name & terms:
            typed = (marks or {}).get(t)
            found += self.idf.get(t, 0.0) * (ACCENT_MISMATCH if typed and typed not in self.title_marks[i] else 1.0)
        return found / total

    def alias_fit(self, i: int, seq: Sequence[str], marks: dict[str, str] | None = None) -> float:
        """How far the question holds one of the procedure's aliases or everyday names: 1.0 when it holds one
        whole, its words in order ('sang tên sổ đỏ' inside a long story); otherwise the IDF-weighted share of
        the best one's words it holds, scaled down (loose words are weaker evidence than the phrase). A word
        typed with other diacritics than the alias's ('tầng' for 'tặng') is not the alias's word."""
        best = 0.0
        for alias, forms in zip(self.alias_seqs[i], self.alias_forms[i], strict=True):
            words = [t for t in seq if not marks or marks.get(t, forms.get(t, "")) in (forms.get(t, ""), t)]
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

    def _query(self, text: str) -> _Query:
        a = analyze(text, self._repair, self._paired)
        marks = {t: m for t, m in zip(a.terms, a.marks, strict=True) if m != t}
        terms = list(a.terms)
        named = self._strong([t for t in terms if t in self.idf])
        if a.implied and not named:
            terms += [t for t in a.implied if t not in terms]  # the story's procedure, as nothing is named
        return _Query(terms, a.aspects, list(a.excluded), marks, named)

    def _strong(self, terms: Sequence[str]) -> bool:
        """Whether the words name a procedure: a pair of them that few records share."""
        return any(u in self.strong_pairs for u in units(terms)[len(terms) :])

    def _own(self, q: _Query) -> list[str]:
        """The question's words the records know (numbers alone name no procedure)."""
        return [t for t in q.terms if t in self.idf and not t.isdigit()]

    def search(self, text: str, history: Sequence[str] = (), k: int = 5) -> SearchResult:
        text = text[:MAX_QUERY_CHARS]
        whole = self._query(text)
        result = replace(self._search(text, whole, history, k), named=whole.named)
        topic = self.topics.find(text) if result.decision != "answer" else None
        if topic is not None and not (result.hits and result.hits[0].coverage >= ANSWER_COVERAGE):
            # What the records do not hold: say so (and where to go), rather than offer a lookalike.
            return replace(result, decision="none", topic=topic.id)
        return result

    def _search(self, text: str, whole: _Query, history: Sequence[str], k: int) -> SearchResult:
        aspects = whole.aspects
        q = self._first_intent(text, whole)
        picked = self._pick(text, q, history[-MAX_REPLAY:]) if history else None
        if picked is not None:
            i = self.by_code[picked]
            hit = Hit(picked, self.procs[i].name, 1.0, 1.0)
            return SearchResult("answer", (hit,), aspects, 1.0, tuple(q.terms), True)
        ctx: _Query | None = None
        for earlier in reversed(history):
            cq = self._first_intent(earlier, self._query(earlier))
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
                result = self._result(joint, aspects, q, ctx, k)
                if weak and not aspects and result.decision == "answer":
                    # Nothing of its own and no aspect asked ('hôm nay trời đẹp nhỉ' after a question):
                    # it may not be about the earlier procedure at all, so offer it rather than answer.
                    return replace(result, decision="clarify")
                return result
        return self._result(alone, aspects, q, None, k)

    def _pick(self, text: str, q: _Query, history: Sequence[str]) -> str | None:
        """'cái thứ hai', 'cái cuối', 'cái trước đó': an item of the choices the bot offered in the last
        turn, or else of the procedures discussed so far. The earlier turns are replayed, so this works
        from the citizen's messages alone."""
        if self._strong(self._own(q)):
            return None
        folded = f" {' '.join(fold_word(w) for w in words(text))} "
        pos = next((p for phrase, p in ORDINALS if f" {phrase} " in folded), None)
        if pos is None:
            return None
        offered: list[str] = []
        discussed: list[str] = []
        for n, turn in enumerate(history):
            r = self.search(turn, history[:n])
            offered = r.codes[:4] if r.decision == "clarify" else []
            if r.decision != "none" and r.codes and r.codes[0] not in discussed[-1:]:
                discussed.append(r.codes[0])
        choices = offered or discussed
        return choices[pos] if -len(choices) <= pos < len(choices) else None

    def _cov(self, ranked, own) -> float:
        return self.coverage(ranked[1][0][1], own) if ranked[1] else 0.0

    def _first_intent(self, text: str, whole: _Query) -> _Query:
        """Several procedures in one message ('khai sinh cần gì, còn kết hôn thì sao'): the first."""
        parts = [p for p in INTENT_SPLIT.split(text) if p and p.strip()]
        if len(parts) < 2:
            return whole
        found: list[tuple[_Query, int]] = []
        for part in parts:
            pq = self._query(part)
            if not pq.named or not self._strong(self._own(pq)):  # a story's implied procedure is no intent
                continue
            ranked = self._rank(pq, None)
            if ranked[1] and self._result(ranked, (), pq, None, 2).decision == "answer":
                found.append((pq, ranked[1][0][1]))
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
            scores = (WEAK_OWN_WEIGHT if weak else 1.0) * scores + (1.0 if weak else HISTORY_WEIGHT) * self._scores(
                self._own(ctx)
            )
            terms |= set(self._own(ctx)) - excluded
            excluded |= set(ctx.excluded)
        scores = scores * self._level_weights(own or self._own(ctx))
        top = [int(i) for i in np.argsort(-scores)[:CANDIDATES] if scores[i] > 0]
        query_units = set(units(own)) | (set(units(self._own(ctx))) if ctx is not None else set())
        asked = {u for u in query_units & MODIFIERS if "_" in u}
        if not top:
            return scores, []
        best = scores[top[0]]
        ranked = []
        for i in top:
            extra = self.name_sets[i] - terms
            named = max(self.precision(i, terms), self.alias_fit(i, own, q.marks))
            s = scores[i] / best + PRECISION_WEIGHT * named + LEAD_WEIGHT * self.lead(i, own)
            if self.modifiers[i] - query_units:
                s -= MODIFIER_PENALTY
            if asked - self.all_modifiers[i]:  # the question names a variant this procedure is not
                s -= ASKED_VARIANT_PENALTY
            if q.marks:
                s -= ACCENT_PENALTY * (self.coverage(i, own) - self.coverage(i, own, q.marks))
            if excluded & extra:
                s -= EXCLUDED_PENALTY
            ranked.append((s, i))
        ranked.sort(reverse=True)
        return scores, ranked

    def _result(self, ranked, aspects, q: _Query, ctx: _Query | None, k: int) -> SearchResult:
        _, order = ranked
        own = self._own(q)
        marks = dict(q.marks)
        if ctx is not None and (not own or not self._strong(own)):
            own = own + [t for t in self._own(ctx) if t not in own and t not in q.excluded]
            marks = {**ctx.marks, **q.marks}
        if not order:
            return SearchResult("none", (), aspects, 0.0, tuple(q.terms), ctx is not None)
        order = self._one_per_level_twin(order)
        hits = tuple(
            Hit(self.codes[i], self.procs[i].name, round(float(s), 4), round(self.fit(i, own, marks), 3))
            for s, i in order[:k]
        )
        decision, conf = self._decide(hits)
        if decision == "answer" and self._doubtful(order[0][1], own, marks):
            decision = "clarify"
        return SearchResult(decision, hits, aspects, conf, tuple(q.terms), ctx is not None)

    def _one_per_level_twin(self, order: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """Procedures that differ only by the level that does them ('Cấp thẻ bảo hiểm y tế (thực hiện tại
        cấp tỉnh)' and '(… cấp trung ương)'): one place in the list, the most local one, at the place of
        the first. A citizen cannot tell which level to choose, and need not."""
        best: dict[str, tuple[float, int]] = {}
        for s, i in order:
            key = self.twin_keys[i]
            if key not in best or _locality(self.levels[i]) > _locality(self.levels[best[key][1]]):
                best[key] = (best[key][0] if key in best else s, i)
        seen: set[str] = set()
        out = []
        for _, i in order:
            key = self.twin_keys[i]
            if key not in seen:
                seen.add(key)
                out.append(best[key])
        return out

    def _doubtful(self, i: int, own: Sequence[str], marks: dict[str, str]) -> bool:
        """Reasons to offer a well-fitting procedure rather than assert it:
        - a provincial assistant answers outright what the province and its communes do; a procedure done
          only by a ministry is offered with the others;
        - the question barely names the procedure itself (its name's words, or one of its everyday names):
          'nhận trợ cấp thất nghiệp' is not 'ủy quyền lĩnh thay … trợ cấp thất nghiệp'."""
        if self.levels[i] == {"bo"} and "bo" not in self._asked_levels(own):
            return True
        return max(self.precision(i, set(own), marks, whole=True), self.alias_fit(i, own, marks)) < NAMED_MIN

    @staticmethod
    def _asked_levels(terms: Sequence[str]) -> set[str]:
        joined = f" {' '.join(terms)} "
        return {lv for lv, cues in LEVEL_CUES.items() if any(f" {c} " in joined for c in cues)}

    def _level_weights(self, terms: Sequence[str]) -> np.ndarray:
        asked = self._asked_levels(terms)
        if not asked:
            return self.prior
        return np.array([1.0 if lv & asked else 0.85 for lv in self.levels])

    @staticmethod
    def _decide(hits: Sequence[Hit]) -> tuple[str, float]:
        """`answer` needs the question's words covered and a clear lead over the next candidate."""
        top = hits[0]
        margin = top.score - hits[1].score if len(hits) > 1 else 1.0
        conf = round(top.coverage * min(1.0, 0.5 + margin), 3)
        if top.coverage < NONE_BELOW:
            return "none", conf
        if top.coverage < ANSWER_COVERAGE or margin < ANSWER_MARGIN:
            return "clarify", conf
        return "answer", conf


def _bm25(docs: Iterable[list[str]], df: dict[str, int], counted: Sequence[set[str]] = (), **params) -> bm25s.BM25:
    """A BM25 index over the documents' units, built from ids so each distinct unit is stored once. Adds
    each document's syllables to the document frequencies `df`, but for those `counted` already."""
    vocab: dict[str, int] = {}
    ids = []
    for n, toks in enumerate(docs):
        ids.append([vocab.setdefault(u, len(vocab)) for u in units(toks)])
        for tok in set(toks).difference(counted[n] if counted else ()):
            df[tok] = df.get(tok, 0) + 1
    index = bm25s.BM25(**params)
    index.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return index


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


def _content(name: str) -> frozenset[str]:
    """The folded words of a name that say which procedure it is (abbreviations written in full)."""
    written = expand(words(restyle(name)), abbreviations())
    return frozenset(fold_word(w) for w in written if w not in GENERIC_FORMS)


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
