"""Asking well when several procedures remain: the question that tells them apart, in the citizen's words,
and choice labels that show the part in which their names differ.

'Thủ tục đăng ký khai sinh', '… có yếu tố nước ngoài', '… lưu động' share 'đăng ký khai sinh'; the labels
are the differing parts, and the question asks about what differs (a foreign element, an officer coming
to the family, a copy or a new registration). The level that does a procedure is never asked: the search
keeps one procedure of a level twin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.text import fold

LABEL_MAX = 60
LEADING = re.compile(r"^\s*thủ tục\s*:?\s+", re.IGNORECASE)
TRAILING = re.compile(r"[\s.;:,]+$")
LEVEL_NOTE = re.compile(r"\s*\((?:thực hiện )?(?:tại |ở )?cấp [^)]{1,20}\)", re.IGNORECASE)

# What may tell candidates apart (folded phrases of the parts in which their names differ), and how to ask
# about it in the citizen's words. One question is asked when the differences are all of one kind.
QUESTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("yeu to nuoc ngoai", "nuoc ngoai", "khu vuc bien gioi"),
        "Người đăng ký đều là công dân Việt Nam ở trong nước, hay có yếu tố nước ngoài (một bên là người nước "
        "ngoài, hoặc việc xảy ra ở nước ngoài)?",
    ),
    (("luu dong",), "Bạn tự đến cơ quan làm, hay cần cán bộ đến tận nơi (đăng ký lưu động)?"),
    (("cap doi", "cap lai", "bi mat", "hu hong"), "Giấy cũ vẫn còn nhưng cần đổi (hỏng, hết hạn, sai), hay đã bị mất?"),
    (
        ("dang ky lai", "ban sao", "trich luc"),
        "Bạn cần bản sao của giấy đã đăng ký, hay đăng ký lại vì sổ gốc không còn lưu?",
    ),
    (("gia han",), "Bạn cần làm mới, hay gia hạn giấy đã có?"),
    (("thay doi", "dieu chinh", "cai chinh", "bo sung"), "Bạn làm mới, hay thay đổi, sửa nội dung đã đăng ký?"),
    (("cham dut", "xoa", "thoi", "thu hoi"), "Bạn bắt đầu, hay chấm dứt, thôi việc đã đăng ký?"),
    (("da co ho so", "da co giay to"), "Người được đăng ký đã có giấy tờ cá nhân (căn cước, học bạ…) chưa?"),
)
SHORT_PART = 14  # words: a longer differing part is a different procedure, not a variant to ask about
GENERIC_QUESTION = "Bạn cần thủ tục nào dưới đây?"


@dataclass(frozen=True)
class Choice:
    question: str
    labels: tuple[str, ...]


def plain(name: str) -> str:
    """A name as shown in a choice: without 'Thủ tục' in front, the level note and a trailing stop."""
    shown = TRAILING.sub("", LEVEL_NOTE.sub("", LEADING.sub("", name)))
    return shown[:1].upper() + shown[1:]


def _common_prefix(names: Sequence[list[str]]) -> int:
    """How many leading words (compared without case or diacritics) all names share."""
    n = 0
    while all(len(w) > n for w in names) and len({fold(w[n]) for w in names}) == 1:
        n += 1
    return n


def short(text: str, n: int = LABEL_MAX) -> str:
    """Cut at a word boundary with an ellipsis."""
    if len(text) <= n:
        return text
    cut = text[: n - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > n // 2 else cut).rstrip(" ,;") + "…"


def distinguish(names: Sequence[str]) -> Choice:
    """The question and the labels for a list of candidate procedures' names (in the order given)."""
    split = [plain(n).split() for n in names]
    shared = _common_prefix(split) if len(split) > 1 else 0
    if shared < 2:
        shared = 0
    head = " ".join(split[0][:shared])
    rests = [" ".join(words[shared:]).lstrip(" ,;") for words in split]
    labels = []
    for words, rest in zip(split, rests, strict=True):
        if not shared:
            label = " ".join(words)
        elif not rest:
            label = f"{head} (thông thường)"
        elif len(head) + len(rest) < LABEL_MAX:
            label = f"{head} {rest}"
        else:
            label = f"… {rest}"  # the part that differs, when the shared head would fill the label
        labels.append(short(label[:1].upper() + label[1:]))
    return Choice(_question(rests), tuple(labels))


def _question(rests: Sequence[str]) -> str:
    """The question about the one kind of difference among the differing parts, if there is one."""
    if any(len(r.split()) > SHORT_PART for r in rests):
        return GENERIC_QUESTION
    folded = [f" {fold(r)} " for r in rests]
    kinds = {n for n, (cues, _) in enumerate(QUESTIONS) for f in folded if any(f" {c} " in f for c in cues)}
    return QUESTIONS[kinds.pop()][1] if len(kinds) == 1 else GENERIC_QUESTION
