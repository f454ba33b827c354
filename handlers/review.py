"""What admins do with the questions the assistant failed to answer, and how citizens rated its answers.

- **Groups.** The questions kept in `review_questions` (no procedure found, none of the offered ones was it, an
  answer saying the record does not hold the aspect asked, an answer rated "Chưa hữu ích") are grouped by
  similarity of the need they state: the words left once `knowledge.text.analyze` has read the question as the
  search does (chat forms expanded, `dk` → `đăng ký`; fillers and aspect phrases such as `cho em hỏi`, `lệ phí bao
  nhiêu`, `cần giấy tờ gì` taken out), folded without diacritics. Two needs are alike when rapidfuzz's
  `token_set_ratio` is at least SIMILAR (word order, extra words and typos inside a word cost little) and
  `token_sort_ratio` at least SHAPE (so a short need held inside a long one, `thủ tục` in anything, does not pull
  unrelated questions together). The search index is not used to group: the questions that matter most here are
  those it found nothing for. Taken oldest first, a question joins the group whose first question it is most
  alike, or starts one.
- **Resolving** a group: its questions attached to a procedure as a sample question or an alias
  (`knowledge.store.add_text`: saved with its history and a revision bump, so the search takes it at once), or
  marked out of scope; every question of the group gets the resolution, the code, who and when.
- **Quality** per procedure: the "Hữu ích" / "Chưa hữu ích" ratings (`answer_ratings`), the share of "Hữu ích",
  and what citizens said was missing (their `unhelpful` rows).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz, process
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import sessionmaker

from handlers.store import answer_ratings, aware, now, review_questions
from knowledge import store
from knowledge.model import Procedure
from knowledge.store import procedures
from knowledge.text import analyze, fold, safe_text

REASON_LABELS = {
    "none": "Không tìm thấy thủ tục",
    "not_listed": "Không có trong các thủ tục gợi ý",
    "no_aspect": "Hồ sơ thủ tục chưa có thông tin được hỏi",
    "unhelpful": "Được đánh giá “Chưa hữu ích”",
}
RESOLUTION_LABELS = {
    "question": "Gắn làm câu hỏi mẫu",
    "alias": "Gắn làm tên gọi khác",
    "out_of_scope": "Ngoài phạm vi",
}
STATE_LABELS = {"open": "Chưa xử lý", "resolved": "Đã xử lý", "all": "Tất cả"}
PERIOD_LABELS = {"7": "7 ngày qua", "30": "30 ngày qua", "90": "90 ngày qua", "365": "12 tháng qua", "all": "Toàn bộ"}
QUALITY_COLUMNS = ("code", "name", "helpful", "unhelpful", "total", "share", "missing")
SIMILAR = 85  # token_set_ratio of two needs
SHAPE = 60  # token_sort_ratio of two needs (a short need held inside a long one scores low here)
MAX_ROWS = 3000  # the newest questions grouped on one page view
SAMPLES = 5  # distinct questions, and what-was-missing texts, shown per group or procedure
MAX_ATTACHED = 300  # characters of a sample question or alias attached to a procedure
CODE = re.compile(r"\d{1,3}\.\d{1,9}")


class ReviewError(ValueError):
    """A request that cannot be carried out; the message is Vietnamese, for the page."""


@lru_cache(maxsize=20000)
def need(question: str) -> str:
    """What a question asks for, as grouped: the words naming the procedure, folded; the whole question
    folded when it names none (`thế còn phí?`)."""
    return " ".join(analyze(question).terms) or fold(question)


@dataclass
class Group:
    """Similar questions, newest first (rows of review_questions as dicts)."""

    rows: list[dict] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [r["id"] for r in self.rows]

    @property
    def open_ids(self) -> list[int]:
        return [r["id"] for r in self.rows if r["resolution"] is None]

    @property
    def question(self) -> str:
        """The newest question: searched for candidates and offered as the text to attach."""
        return self.rows[0]["question"]

    @property
    def first(self) -> datetime:
        return self.rows[-1]["at"]

    @property
    def last(self) -> datetime:
        return self.rows[0]["at"]

    @property
    def reasons(self) -> list[tuple[str, int]]:
        return Counter(r["reason"] for r in self.rows).most_common()

    @property
    def samples(self) -> list[str]:
        return _distinct(r["question"] for r in self.rows)

    @property
    def missing(self) -> list[str]:
        return _distinct(r["missing"] for r in self.rows if r["missing"])

    @property
    def codes(self) -> list[tuple[str, int]]:
        """The procedures the assistant answered with (no_aspect, unhelpful), most often first."""
        return Counter(r["code"] for r in self.rows if r["code"]).most_common()

    @property
    def resolutions(self) -> list[dict]:
        """What was done with the group's resolved questions (one entry per distinct action)."""
        seen: dict[tuple, dict] = {}
        for r in self.rows:
            if r["resolution"]:
                seen.setdefault((r["resolution"], r["resolved_code"], r["resolved_by"]), r)
        return list(seen.values())


def _distinct(texts) -> list[str]:
    out: list[str] = []
    for t in texts:
        if t not in out:
            out.append(t)
            if len(out) == SAMPLES:
                break
    return out


def since(period: str, at: datetime | None = None) -> datetime | None:
    """The start of a period of PERIOD_LABELS, None for all."""
    if period not in PERIOD_LABELS:
        raise ReviewError("Khoảng thời gian không hợp lệ: hãy chọn trong danh sách.")
    return None if period == "all" else (at or now()) - timedelta(days=int(period))


def cluster(rows: list[dict]) -> list[Group]:
    """Rows (oldest first) in groups of alike needs; each group's rows newest first.

    A need joins the group whose first need it is most like by `token_set_ratio` (at least SIMILAR), among those
    whose `token_sort_ratio` is at least SHAPE: that one is `ratio` over words in sorted order, kept sorted here,
    so the first pass is a plain string comparison in rapidfuzz's batch (3,000 varied questions: about 1 s)."""
    firsts: list[str] = []  # the need of each group's first question
    ordered: list[str] = []  # the same, its words sorted
    groups: list[Group] = []
    exact: dict[str, int] = {}
    for row in rows:
        key = need(row["question"])
        at = exact.get(key)
        if at is None:
            words = " ".join(sorted(key.split()))
            shaped = process.extract(words, ordered, scorer=fuzz.ratio, score_cutoff=SHAPE, limit=None)
            score, best = max(((fuzz.token_set_ratio(key, firsts[i]), i) for _, _, i in shaped), default=(0, 0))
            if score >= SIMILAR:
                at = best
        if at is None:
            at = len(groups)
            firsts.append(key)
            ordered.append(" ".join(sorted(key.split())))
            groups.append(Group())
        exact[key] = at
        groups[at].rows.append(row)
    for g in groups:
        g.rows.reverse()
    return groups


def groups(factory: sessionmaker, reason: str = "", period: str = "all", state: str = "open", by: str = "recent"):
    """The groups of the newest MAX_ROWS questions matching the filters, newest (`by="recent"`) or largest
    (`by="count"`) first; and whether older questions were left out."""
    if reason and reason not in REASON_LABELS:
        raise ReviewError("Lý do không hợp lệ: hãy chọn trong danh sách.")
    if state not in STATE_LABELS:
        raise ReviewError("Trạng thái không hợp lệ: hãy chọn chưa xử lý, đã xử lý hoặc tất cả.")
    if by not in ("recent", "count"):
        raise ReviewError("Cách sắp xếp không hợp lệ.")
    rq = review_questions.c
    q = select(review_questions).order_by(rq.at.desc(), rq.id.desc()).limit(MAX_ROWS + 1)
    start = since(period)
    if start is not None:
        q = q.where(rq.at >= start)
    if reason:
        q = q.where(rq.reason == reason)
    if state == "open":
        q = q.where(rq.resolution.is_(None))
    elif state == "resolved":
        q = q.where(rq.resolution.is_not(None))
    with factory() as s:
        rows = [dict(r._mapping) for r in s.execute(q)]
    for r in rows:
        r["at"] = aware(r["at"])
    cut = len(rows) > MAX_ROWS
    found = cluster(rows[:MAX_ROWS][::-1])
    if by == "count":
        found.sort(key=lambda g: (len(g.rows), g.last), reverse=True)
    else:
        found.sort(key=lambda g: g.last, reverse=True)
    return found, cut


# ---- resolving ---------------------------------------------------------------------------------------------------


def usable(factory: sessionmaker, code: str) -> Procedure:
    """The procedure of `code`, if questions may be attached to it: it exists and is not flagged as damaged
    (a damaged record is kept out of search and answers, so what is attached to it would answer nothing)."""
    code = code.strip()
    if not code:
        raise ReviewError("Hãy chọn một thủ tục trong danh sách gợi ý hoặc nhập mã thủ tục.")
    if not CODE.fullmatch(code):
        raise ReviewError("Mã thủ tục không hợp lệ: mã có dạng 1.001193.")
    with factory() as s:
        proc = store.get(s, code)
    if proc is None:
        raise ReviewError(f"Không có thủ tục mã {code} trong dữ liệu.")
    if proc.flags:
        raise ReviewError(
            f"Thủ tục {code} đang bị đánh dấu lỗi dữ liệu nên trợ lý không dùng để trả lời; "
            "hãy sửa hồ sơ thủ tục trước hoặc chọn thủ tục khác."
        )
    return proc


@dataclass(frozen=True)
class Resolved:
    count: int  # questions resolved by this call
    resolution: str
    code: str | None = None
    name: str = ""
    text: str = ""  # what was attached
    added: bool = False  # False when the procedure already had this text


def resolve(
    factory: sessionmaker, ids: list[int], resolution: str, actor: str, code: str = "", text: str = ""
) -> Resolved:
    """Resolve the still open questions among `ids`: attach `text` to the procedure `code` (resolution
    "question" or "alias"), or mark them out of scope. ReviewError (Vietnamese) when it cannot be done."""
    if resolution not in RESOLUTION_LABELS:
        raise ReviewError("Hãy chọn cách xử lý: gắn làm câu hỏi mẫu, gắn làm tên gọi khác, hoặc ngoài phạm vi.")
    if not ids:
        raise ReviewError("Không có câu hỏi nào được chọn.")
    rq = review_questions.c
    with factory() as s:
        open_ids = list(s.scalars(select(rq.id).where(rq.id.in_(ids), rq.resolution.is_(None))))
    if not open_ids:
        raise ReviewError("Các câu hỏi này đã được xử lý (có thể bởi người khác); hãy tải lại trang.")
    proc, added = None, False
    if resolution != "out_of_scope":
        proc = usable(factory, code)
        text = " ".join(safe_text(text).split())
        if not any(c.isalnum() for c in text):
            raise ReviewError("Hãy nhập câu hỏi mẫu hoặc tên gọi cần gắn vào thủ tục.")
        if len(text) > MAX_ATTACHED:
            raise ReviewError(f"Câu gắn vào thủ tục dài quá {MAX_ATTACHED} ký tự: hãy rút gọn.")
        kind = "questions" if resolution == "question" else "aliases"
        added = store.add_text(factory, proc.code, kind, text, actor)
    with factory.begin() as s:
        done = s.execute(
            update(review_questions)
            .where(rq.id.in_(open_ids), rq.resolution.is_(None))
            .values(
                resolution=resolution,
                resolved_code=proc.code if proc else None,
                resolved_by=actor,
                resolved_at=now(),
                status="resolved",
            )
        ).rowcount
    if proc is None:
        return Resolved(done, resolution)
    return Resolved(done, resolution, proc.code, proc.name, text, added)


# ---- quality -----------------------------------------------------------------------------------------------------


@dataclass
class Quality:
    """One procedure's ratings in a period."""

    code: str
    name: str
    helpful: int
    unhelpful: int
    missing: list[str] = field(default_factory=list)  # what citizens said was missing, newest first
    missing_count: int = 0

    @property
    def total(self) -> int:
        return self.helpful + self.unhelpful

    @property
    def share(self) -> float | None:
        """The share of "Hữu ích", in %."""
        return 100 * self.helpful / self.total if self.total else None


def quality(factory: sessionmaker, period: str = "all", sort: str = "total", descending: bool = True) -> list[Quality]:
    """Every procedure rated in the period, sorted by a column of QUALITY_COLUMNS (ties by code)."""
    if sort not in QUALITY_COLUMNS:
        raise ReviewError("Cột sắp xếp không hợp lệ.")
    start = since(period)
    ar, rq = answer_ratings.c, review_questions.c
    counts = select(ar.code, func.sum(case((ar.helpful, 1), else_=0)), func.count()).group_by(ar.code)
    said = select(rq.code, rq.missing).where(rq.reason == "unhelpful", rq.missing.is_not(None)).order_by(rq.at.desc())
    if start is not None:
        counts = counts.where(ar.at >= start)
        said = said.where(rq.at >= start)
    with factory() as s:
        rows = {code: Quality(code, "", int(yes or 0), int(n) - int(yes or 0)) for code, yes, n in s.execute(counts)}
        named = select(procedures.c.code, procedures.c.name).where(procedures.c.code.in_(list(rows)))
        names = dict(s.execute(named).all())
        for code, text in s.execute(said):
            row = rows.get(code)
            if row is not None:
                row.missing_count += 1
                if len(row.missing) < SAMPLES and text not in row.missing:
                    row.missing.append(text)
    for row in rows.values():
        row.name = names.get(row.code, "")

    ordered = sorted(rows.values(), key=lambda r: r.code)  # ties keep the code order, either way
    return sorted(ordered, key=lambda r: _column(r, sort), reverse=descending)


def _column(row: Quality, sort: str):
    if sort == "name":
        return fold(row.name)
    if sort == "missing":
        return row.missing_count
    return getattr(row, sort)
