"""Hybrid procedure search: BM25 (bm25s) over folded syllables and syllable pairs, in two fields
(name with aliases and sample questions; body: field, papers, result), rapidfuzz re-ranking of the
candidates, level cues, typo repair, and a calibrated decision: answer, clarify or none.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from knowledge.model import Procedure
from knowledge.names import NameFit, head, phrases_of
from knowledge.repair import Repair
from knowledge.text import (
    analyze,
    everyday_names,
    fold,
    fold_word,
    record_syllables,
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
# A word pair found in at most this share of records names a procedure ('khai sinh', not 'đăng ký').
STRONG_PAIR_SHARE = 0.03
# "(thực hiện tại cấp tỉnh)", "(cấp xã)": the level a twin of the same procedure is done at.
LEVEL_NOTE = re.compile(r"\((?:thực hiện )?(?:tại |ở )?cấp [^)]{1,20}\)", re.IGNORECASE)
# Words that make a variant of a procedure: a name with one the question lacks is a sibling.
MODIFIERS = frozenset(
    ["lai", "dung", "huy", "xoa", "doi"]
    + ["cham_dut", "thay_doi", "gia_han", "tam_ngung", "dinh_chinh", "bo_sung", "dieu_chinh", "thu_hoi"]
    + ["luu_dong", "nuoc_ngoai", "ket_hop", "cap_doi", "cap_lai"]
)
MODIFIER_PENALTY = 0.2
ASKED_VARIANT_PENALTY = 0.4  # stated by the citizen, so stronger evidence than a variant word left unsaid
# Decision: below NONE_BELOW coverage nothing fits; an answer needs this coverage and margin.
NONE_BELOW = 0.5
ANSWER_COVERAGE = 0.8
ANSWER_MARGIN = 0.15
NAMED_MIN = 0.5  # an answer needs this much of the procedure's own name (or an everyday name) in the question
ACCENT_PENALTY = 0.4
# Longer input is cut (a question is never this long); longer "words" are not repaired.
MAX_QUERY_CHARS = 2000
RECENT = 4096  # searches kept (a few MB): the questions asked again come back at once
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
    def __init__(
        self,
        procs: Sequence[Procedure],
        topics: Topics | None = None,
        everyday: Mapping[str, Sequence[str]] | None = None,
    ):
        self.procs = list(procs)
        self.topics = topics if topics is not None else not_held()
        self.codes = [p.code for p in self.procs]
        self.by_code = {p.code: i for i, p in enumerate(self.procs)}
        n = max(1, len(self.procs))
        # Everyday names by code: the bundled ones unless given (the KB gives the version in use).
        phrases = phrases_of(self.procs, everyday if everyday is not None else everyday_names())
        pairs = zip(self.procs, phrases, strict=True)
        title_tokens = [record_syllables(p.name) + [t for a in ps for t in a.terms] for p, ps in pairs]
        self.title_sets = [set(t) for t in title_tokens]
        self.modifiers = [set(units(record_syllables(head(p.name)))) & MODIFIERS for p in self.procs]
        self.all_modifiers = [set(units(record_syllables(p.name))) & MODIFIERS for p in self.procs]
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
        self.prior = np.array([max((LEVEL_PRIOR[_level_key(lv)] for lv in p.levels), default=0.9) for p in self.procs])
        self.levels = [{_level_key(lv) for lv in p.levels} for p in self.procs]
        self.twin_keys = [fold(LEVEL_NOTE.sub(" ", p.name)) for p in self.procs]
        self.names = NameFit(self.procs, phrases, self.idf)
        self.repair = Repair(self.idf, self.pairs)
        self._recent = functools.lru_cache(maxsize=RECENT)(self._search_whole)

    @staticmethod
    def _body(p: Procedure) -> str:
        parts = [p.domain, p.result, *(d.name for d in p.documents[:12])]
        return " . ".join(x for x in parts if x)

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

    def _query(self, text: str) -> _Query:
        a = analyze(text, self.repair, self._paired)
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
        """What `text` asks (after the earlier questions of `history`). Results are immutable and depend only on
        the arguments and this index, so the recent ones are kept: many citizens ask the same first question."""
        return self._recent(text[:MAX_QUERY_CHARS], tuple(history), k)

    def _search_whole(self, text: str, history: tuple[str, ...], k: int) -> SearchResult:
        whole = self._query(text)
        result = replace(self._search(text, whole, history, k), named=whole.named)
        found = self.topics.find(text)
        if found is not None and self._not_held(result, found[1]):
            # What the records do not hold: say so (and where to go), rather than offer a lookalike.
            return replace(result, decision="none", topic=found[0].id)
        return result

    def _not_held(self, result: SearchResult, phrase: tuple[str, ...]) -> bool:
        """Whether a topic the records do not hold is what is asked: no procedure fits well, or the one
        that fits takes the topic's words without being about it ('hành nghề thú y' for 'hành nghề y')."""
        if not result.hits:
            return True
        if result.decision != "answer":
            return result.hits[0].coverage < ANSWER_COVERAGE
        name = f" {' '.join(fold_word(w) for w in words(result.hits[0].name))} "
        if f" {' '.join(phrase)} " in name:
            return False  # the procedure is about the topic ('ghi vào sổ hộ tịch việc ly hôn …')
        return any(f" {w} " in name for w in phrase)

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
            same_top = bool(alone and alone[1] and joint[1] and alone[1][0][1] == joint[1][0][1])
            if (
                alone is None
                or not alone[1]
                or weak
                or (joint[1] and not same_top and self._cov(joint, own) >= self._cov(alone, own) - 0.01)
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
        return self.names.coverage(ranked[1][0][1], own) if ranked[1] else 0.0

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
        head = np.argpartition(-scores, CANDIDATES)[:CANDIDATES] if len(scores) > CANDIDATES else np.arange(len(scores))
        top = [int(i) for i in head[np.argsort(-scores[head])] if scores[i] > 0]
        query_units = set(units(own)) | (set(units(self._own(ctx))) if ctx is not None else set())
        asked = {u for u in query_units & MODIFIERS if "_" in u}
        if not top:
            return scores, []
        best = scores[top[0]]
        ranked = []
        for i in top:
            extra = self.names.name_sets[i] - terms
            named = max(self.names.precision(i, terms), self.names.alias_fit(i, own, q.marks))
            s = scores[i] / best + PRECISION_WEIGHT * named + LEAD_WEIGHT * self.names.lead(i, own)
            if self.modifiers[i] - query_units:
                s -= MODIFIER_PENALTY
            if asked - self.all_modifiers[i]:  # the question names a variant this procedure is not
                s -= ASKED_VARIANT_PENALTY
            if q.marks and self.names.mismatched(i, q.marks):
                s -= ACCENT_PENALTY * (self.names.coverage(i, own) - self.names.coverage(i, own, q.marks))
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
            Hit(self.codes[i], self.procs[i].name, round(float(s), 4), round(self.names.fit(i, own, marks), 3))
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
        whole = self.names.precision(i, set(own), marks, whole=True, as_written=True)
        return max(whole, self.names.alias_fit(i, own, marks)) < NAMED_MIN

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


