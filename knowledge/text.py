"""Vietnamese text as citizens write it: normalisation, diacritic folding, abbreviations, aspects.

Everything downstream works on *folded* syllables (no diacritics, đ → d), so a question typed without
diacritics meets the same index as one typed with them. The lexicon (`lexicon.tsv`) is a maintained
list of abbreviations, chat slang, regional words and everyday names for procedures and papers,
each rewritten into the words the official records use.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEXICON = Path(__file__).with_name("data") / "lexicon.tsv"
ABBREVIATIONS = Path(__file__).with_name("data") / "abbreviations.tsv"
ASPECTS_FILE = Path(__file__).with_name("data") / "aspects.tsv"
EVERYDAY = Path(__file__).with_name("data") / "everyday.tsv"

ASPECTS = ("documents", "fee", "time", "place", "steps", "conditions", "legal", "online", "result")

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_CAMEL = re.compile(f"(?<=[{_LOWER}])(?=[{_LOWER[3:].upper()}A-Z])")
# Old-style tone placement ("hoà", "thuỷ") written the way the records write it ("hòa", "thủy").
_TONE_STYLE = dict(
    zip(
        ["oà", "oá", "oả", "oã", "oạ", "oè", "oé", "oẻ", "oẽ", "oẹ", "uỳ", "uý", "uỷ", "uỹ", "uỵ"],
        ["òa", "óa", "ỏa", "õa", "ọa", "òe", "óe", "ỏe", "õe", "ọe", "ùy", "úy", "ủy", "ũy", "ụy"],
        strict=True,
    )
)


_TONE_RE = re.compile("(?:" + "|".join(_TONE_STYLE) + r")\b")


# What a message must not carry into storage, a search or a terminal: C0 and C1 controls (tab and line
# feed excepted), DEL, zero-width and bidirectional marks, overrides and isolates, line and paragraph
# separators, the BOM, interlinear annotation marks and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def safe_text(text: str) -> str:
    """Text as it may be stored and shown: NFC, line ends as \\n, no control or direction characters."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _UNSAFE.sub("", text)


def normalize(text: str) -> str:
    """NFC, camelCase split, lower case, one space between words."""
    text = _CAMEL.sub(" ", unicodedata.normalize("NFC", text))
    return " ".join(text.lower().split())


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    return "".join(c for c in fold_chars(unicodedata.normalize("NFC", word)) if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    return "d" if c in "đĐ" else unicodedata.normalize("NFD", c)[0].lower()


def fold_chars(text: str) -> str:
    """Lower case without diacritics, one character for one, so a position in the result is the same
    position in `text` (redaction maps matches back this way); give it NFC text."""
    return "".join(_fold_char(c) for c in text)


def fold(text: str) -> str:
    """Remove diacritics: 'Đăng ký' → 'dang ky'."""
    return " ".join(fold_word(w) for w in normalize(text).split())


def words(text: str) -> list[str]:
    """Normalised words (runs of letters and digits), diacritics kept."""
    return _WORD.findall(normalize(text))


@dataclass(frozen=True)
class Rule:
    pattern: tuple[str, ...]
    replacement: tuple[str, ...]
    implied: bool = False  # the replacement is inferred from a story ('mới mất' → khai tử), not named

    @property
    def key(self) -> str:
        """Rules are looked up by their first word, folded."""
        return fold_word(self.pattern[0])


def _load_rules(path: Path) -> dict[str, list[Rule]]:
    """TSV lines 'pattern<TAB>replacement', longest pattern first.

    A pattern word written with diacritics matches the same word, or the word typed without any
    diacritics; it does not match a different accented word ('bạn' does not match 'bản'). A replacement
    opening with '~' is implied: what a story suggests, used only when the question names no procedure.
    """
    rules: dict[str, list[Rule]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        pat, _, rep = line.partition("\t")
        rule = Rule(tuple(words(pat)), tuple(words(rep)), rep.lstrip().startswith("~"))
        if rule.pattern:
            rules.setdefault(rule.key, []).append(rule)
    for lst in rules.values():
        lst.sort(key=lambda r: -len(r.pattern))
    return rules


@lru_cache(maxsize=1)
def lexicon() -> dict[str, list[Rule]]:
    """Rules for questions: abbreviations, then chat forms, regional words and everyday names."""
    rules = _load_rules(LEXICON)
    for key, lst in abbreviations().items():
        rules[key] = sorted([*rules.get(key, []), *lst], key=lambda r: -len(r.pattern))
    return rules


@lru_cache(maxsize=1)
def abbreviations() -> dict[str, list[Rule]]:
    """Rules for both questions and records."""
    return _load_rules(ABBREVIATIONS)


@lru_cache(maxsize=1)
def aspect_rules() -> dict[str, list[Rule]]:
    """Aspect phrases: the replacement is the aspect name, or nothing for a filler."""
    return _load_rules(ASPECTS_FILE)


@lru_cache(maxsize=1)
def everyday_names() -> dict[str, tuple[str, ...]]:
    """Everyday names of procedures shipped with the app, by code (`everyday.tsv`: code, then names separated by
    '|'). The search uses the newest version admins saved, if any (knowledge/vocabulary.py), else these."""
    names: dict[str, tuple[str, ...]] = {}
    for raw in EVERYDAY.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        code, _, rest = line.partition("\t")
        found = tuple(n.strip() for n in rest.split("|") if n.strip())
        if code.strip() and found:
            names[code.strip()] = names.get(code.strip(), ()) + found
    return names


@lru_cache(maxsize=1)
def rule_words() -> frozenset[str]:
    """Folded words that open a rule of the lexicon or of the aspect phrases: known, not typos."""
    return frozenset([*lexicon(), *aspect_rules()])


def _same(word: str, pattern: str) -> bool:
    if word == pattern:
        return True
    folded = fold_word(word)
    return folded == word and folded == fold_word(pattern)


def _rewrite(tokens: list[str], rules: dict[str, list[Rule]]) -> list[tuple[list[str], Rule | None]]:
    """Greedy longest match of rules over words; spans with the rule that matched (or None)."""
    out: list[tuple[list[str], Rule | None]] = []
    i = 0
    while i < len(tokens):
        for rule in rules.get(fold_word(tokens[i]), ()):
            n = len(rule.pattern)
            span = tokens[i : i + n]
            if len(span) == n and all(_same(w, p) for w, p in zip(span, rule.pattern, strict=True)):
                out.append((span, rule))
                i += n
                break
        else:
            out.append(([tokens[i]], None))
            i += 1
    return out


class Phrases:
    """Phrases that tell a thing (a life event, a topic), matched like the lexicon: a word written with
    diacritics matches the same word or the word typed without any, longest phrase first."""

    def __init__(self, phrases: Iterable[tuple[str, str]]):
        self._rules: dict[str, list[Rule]] = {}
        for key, phrase in phrases:
            rule = Rule(tuple(words(phrase)), (key,))
            if rule.pattern:
                self._rules.setdefault(rule.key, []).append(rule)
        for rules in self._rules.values():
            rules.sort(key=lambda r: -len(r.pattern))

    def find(self, text: str) -> tuple[str, tuple[str, ...]] | None:
        """The key of the first phrase the text holds, and that phrase's words (folded), or None."""
        for _, rule in _rewrite(words(text), self._rules):
            if rule is not None:
                return rule.replacement[0], tuple(fold_word(w) for w in rule.pattern)
        return None


def expand(tokens: list[str], rules: dict[str, list[Rule]] | None = None) -> list[str]:
    """Apply the lexicon to words: abbreviations, slang and everyday names become the records' words."""
    out: list[str] = []
    for span, rule in _rewrite(tokens, lexicon() if rules is None else rules):
        out.extend(rule.replacement if rule else span)
    return out


def record_syllables(text: str) -> list[str]:
    """Folded syllables of a record's text, abbreviations written in full."""
    folded = [fold_word(w) for w in words(text)]
    if abbreviations().keys().isdisjoint(folded):
        return folded
    return [fold_word(w) for w in expand(folded, abbreviations())]


def restyle(text: str) -> str:
    """Old-style tone marks ('hoà', 'thuỷ') written as the records write them ('hòa', 'thủy')."""
    return _TONE_RE.sub(lambda m: _TONE_STYLE[m.group()], text)


NEGATIONS = (("chu", "khong", "phai"), ("khong", "phai"), ("dung", "dua"), ("khong", "hoi"))
_CLAUSE = re.compile(r"[.;,!?\n]+")


@dataclass(frozen=True)
class Analysis:
    """A question split into the words that name the procedure, the aspects asked, the words the
    citizen ruled out ('không phải loại có yếu tố nước ngoài')."""

    terms: tuple[str, ...]
    aspects: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()  # each term as typed (with its diacritics, if any)
    implied: tuple[str, ...] = ()  # what the story suggests ('bố tôi mới mất': khai tử), not named in it


def analyze(
    text: str,
    repair: Callable[[list[str]], list[str]] | None = None,
    paired: Callable[[str, str], bool] | None = None,
) -> Analysis:
    """Expand the lexicon, take out aspect phrases and fillers, set negated clauses apart.

    `repair` (from the search index, which knows the vocabulary) mends misspelt and joined words first.
    `paired(a, b)` tells whether two folded words make a word of the records: a filler typed without
    diacritics that makes one with a neighbour is a word that carries meaning, not the filler ('ban sao'
    is 'bản sao', not 'bạn'; 'lam the bhyt' is 'thẻ', not 'thế').
    """
    terms: list[str] = []
    marks: list[str] = []
    excluded: list[str] = []
    aspects: list[str] = []
    implied: list[str] = []
    for clause in _CLAUSE.split(text):
        typed = words(restyle(clause))
        tokens = []
        for span, rule in _rewrite(repair(typed) if repair else typed, lexicon()):
            if rule is not None and rule.implied:
                implied.extend(fold_word(w) for w in rule.replacement)
            else:
                tokens.extend(rule.replacement if rule else span)
        folded = [fold_word(t) for t in tokens]
        negated = _negation_at(folded)
        target = terms
        at = 0
        for span, rule in _rewrite(tokens, aspect_rules()):
            start, at = at, at + len(span)
            if rule is None or _meant(span, rule, folded, start, paired):
                target.extend(fold_word(w) for w in span)
                if target is terms:
                    marks.extend(span)
                continue
            for name in rule.replacement:
                if name in ASPECTS and name not in aspects:
                    aspects.append(name)
            if negated is not None and tuple(fold_word(w) for w in span) == negated:
                target = excluded
    return Analysis(tuple(terms), tuple(aspects), tuple(excluded), tuple(marks), tuple(implied))


def _meant(span: list[str], rule: Rule, folded: list[str], start: int, paired) -> bool:
    """A one-word filler typed without diacritics, that makes a word of the records with a neighbour."""
    if paired is None or rule.replacement or len(span) != 1 or span[0] != folded[start]:
        return False
    if rule.pattern[0] == folded[start]:  # the filler has no diacritics itself ('ad', 'ok'): it is the filler
        return False
    before = folded[start - 1] if start else ""
    after = folded[start + 1] if start + 1 < len(folded) else ""
    return bool(before and paired(before, folded[start])) or bool(after and paired(folded[start], after))


def _negation_at(folded: list[str]) -> tuple[str, ...] | None:
    """The negation phrase opening a clause ('không phải X', 'chứ không phải X'), if any."""
    joined = " ".join(folded)
    for neg in NEGATIONS:
        if f" {' '.join(neg)} " in f" {joined} ":
            return neg
    return None
