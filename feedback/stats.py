"""Figures for the periodic reports on feedback (báo cáo định kỳ), computed once here and rendered by the
dashboard as a page, a CSV file and an XLSX file.

Definitions (all dates are dates in Vietnam, UTC+7, as `workdays.local_date` gives them):

- Period: the days `start` to `end`, both included. Presets are calendar periods containing a given day: the
  month, the quarter (I: Jan-Mar … IV: Oct-Dec), the half-year (6 tháng đầu năm: Jan-Jun, 6 tháng cuối năm:
  Jul-Dec) and the year, the periods the provincial plans ask reports for ("định kỳ quý, 6 tháng và năm báo
  cáo", KH 264/KH-UBND Đồng Tháp 2021; "hàng quý, 6 tháng, hàng năm", QĐ 772/2013 Hà Nam). A province that
  cuts its figures before the period ends (Phú Thọ's 2016-2020 plan wants the quarterly report before the 10th
  of the quarter's last month) gives the days itself as a custom range. At most MAX_DAYS days.
- Items counted: received in the period (the local date of `created_at`). They form a cohort: the counts by
  current state, kind, field (none given: NO_FIELD), queue and channel, and the outcomes below, are as they
  stand when the report is made, so a report on a past period changes while its items are still being handled.
- Finished: reached an answer or an end state: the first audit entry of an answer, a transfer, a rejection or
  a duplicate mark (FINISH_ACTIONS) is the finish. Publishing and closing come after an answer, so they add
  nothing.
- On time: finished on or before the item's deadline, the local date of the finish <= `items.deadline`. The
  stored deadline already holds the pauses: when the sender replies to a request for information
  (`citizen.reply_info`), it moves by the working days spent waiting. On-time rate: on time / finished, in %.
- Handling time: `workdays.working_days_between(receipt date, finish date)`, the working days after the day of
  receipt up to the day of the finish (answered the same day: 0), waiting for the sender included. Mean, and
  the 90th percentile by nearest rank: the ceil(0.9 n)-th smallest of the n values.
- Still open: in an open state now; of those, past their deadline today.
- Satisfaction with feedback handling: the senders' 1-5 stars given in the period (`rated_at`, whatever the
  item's receipt date): the count and the share of 4-5 stars, against FEEDBACK_TARGET.
- Satisfaction with answers: the "Hữu ích" / "Chưa hữu ích" buttons under the assistant's answer cards
  (`handlers.store.answer_ratings`) pressed in the period: the count and the share marked "Hữu ích" (a yes or
  no, not stars), against ANSWER_TARGET.
- A target is met when the share is above it: the plans say "đạt trên 90%", "đạt mức trên 80%".
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from feedback import texts, workdays
from feedback.model import OPEN_STATES
from feedback.outbox import utcnow
from feedback.reports import satisfaction
from feedback.tables import audit, items, queues
from handlers.store import answer_ratings

FINISH_ACTIONS = ("answer", "transfer", "reject", "mark_duplicate")
PRESETS = ("month", "quarter", "half", "year")
MAX_DAYS = 5 * 366
NO_FIELD = "Không rõ lĩnh vực"
# QĐ 772/QĐ-UBND 19/7/2013 of Hà Nam (CCHC programme 2013-2020), objective 5: "sự hài lòng của cá nhân, tổ
# chức đối với sự phục vụ của cơ quan hành chính nhà nước đạt trên 90%" (Phú Thọ's 2016-2020 plan, target n,
# sets 80% for the same measure). Handling a citizen's feedback is such a service.
FEEDBACK_TARGET = 90
# QĐ 772/2013 Hà Nam, phase 2 target b: "mức độ hài lòng của nhân dân và doanh nghiệp về thủ tục hành chính
# đạt mức trên 80%". The assistant's answers are about administrative procedures.
ANSWER_TARGET = 80
CHANNEL_LABELS = {"telegram": "Telegram", "zalo": "Zalo", "web": "Cổng thông tin", "console": "Thử nghiệm"}
_ROMAN = ("I", "II", "III", "IV")


class InvalidPeriod(ValueError):
    """A period that cannot be reported on; the message is Vietnamese."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    preset: str | None = None  # the kind of calendar period, None for a custom range

    @property
    def label(self) -> str:
        s = self.start
        if self.preset == "month":
            return f"Tháng {s.month}/{s.year}"
        if self.preset == "quarter":
            return f"Quý {_ROMAN[(s.month - 1) // 3]}/{s.year}"
        if self.preset == "half":
            return f"6 tháng {'đầu' if s.month == 1 else 'cuối'} năm {s.year}"
        if self.preset == "year":
            return f"Năm {s.year}"
        return f"Từ {texts.day(self.start)} đến {texts.day(self.end)}"

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants [from, until) in UTC: midnight in Vietnam at the start and after the end."""
        lo = datetime.combine(self.start, time(), workdays.VN_TZ)
        hi = datetime.combine(self.end + timedelta(days=1), time(), workdays.VN_TZ)
        return lo.astimezone(UTC), hi.astimezone(UTC)

    def previous(self) -> Period | None:
        return preset_period(self.preset, self.start - timedelta(days=1)) if self.preset else None

    def next(self) -> Period | None:
        return preset_period(self.preset, self.end + timedelta(days=1)) if self.preset else None


def preset_period(preset: str, day: date) -> Period:
    """The calendar month, quarter, half-year or year holding `day`."""
    if preset not in PRESETS:
        raise InvalidPeriod("Kỳ báo cáo không hợp lệ: chọn tháng, quý, 6 tháng hoặc năm.")
    first, months = {
        "month": (day.month, 1),
        "quarter": (3 * ((day.month - 1) // 3) + 1, 3),
        "half": (1 if day.month <= 6 else 7, 6),
        "year": (1, 12),
    }[preset]
    last = first + months - 1
    return Period(date(day.year, first, 1), date(day.year, last, calendar.monthrange(day.year, last)[1]), preset)


def parse_day(value: str, what: str) -> date:
    """An ISO date from 2000 to 2100 (the periods next to it must exist too)."""
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidPeriod(f"{what} không hợp lệ: nhập ngày theo dạng năm-tháng-ngày, ví dụ 2026-01-31.") from None
    if not 2000 <= day.year <= 2100:
        raise InvalidPeriod(f"{what} phải trong khoảng từ năm 2000 đến năm 2100.")
    return day


def custom_period(start: str, end: str) -> Period:
    """A range the user typed (ISO dates): refused when a date is invalid, backwards, or longer than MAX_DAYS."""
    a, b = parse_day(start, "Ngày bắt đầu"), parse_day(end, "Ngày kết thúc")
    if a > b:
        raise InvalidPeriod("Ngày bắt đầu phải trước hoặc trùng ngày kết thúc.")
    if (b - a).days + 1 > MAX_DAYS:
        raise InvalidPeriod("Khoảng thời gian báo cáo dài tối đa 5 năm.")
    return Period(a, b)


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Satisfaction:
    count: int
    positive: int  # 4-5 stars, or "Hữu ích"
    target: int  # %

    @property
    def share(self) -> float | None:
        return _percent(self.positive, self.count)

    @property
    def met(self) -> bool | None:
        return None if self.share is None else self.share > self.target


@dataclass(frozen=True)
class Table:
    """A report part as rows, for the exports (the same figures the page shows)."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple]


@dataclass
class Report:
    period: Period
    made_at: datetime
    total: int
    by_state: list[Count]
    by_kind: list[Count]
    by_field: list[Count]
    by_queue: list[Count]
    by_channel: list[Count]
    finished: int
    on_time: int
    open: int
    open_overdue: int
    handling_mean: float | None  # working days, one decimal
    handling_p90: int | None
    feedback: Satisfaction
    stars: dict[int, int]  # 5 → count … 1 → count
    answers: Satisfaction

    @property
    def late(self) -> int:
        return self.finished - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        return _percent(self.on_time, self.finished)

    @property
    def breakdowns(self) -> list[tuple[str, str, str, list[Count]]]:
        """(id, title, column name, counts) of each breakdown."""
        return [
            ("state", "Theo tình trạng", "Tình trạng", self.by_state),
            ("kind", "Theo loại", "Loại", self.by_kind),
            ("field", "Theo lĩnh vực", "Lĩnh vực", self.by_field),
            ("queue", "Theo đơn vị tiếp nhận", "Đơn vị tiếp nhận", self.by_queue),
            ("channel", "Theo kênh gửi", "Kênh", self.by_channel),
        ]

    def totals(self) -> list[tuple[str, str, int | float | None]]:
        """(id, label, value) of the summary figures."""
        return [
            ("total-count", "Số phản ánh, kiến nghị tiếp nhận", self.total),
            ("finished", "Đã trả lời hoặc kết thúc xử lý", self.finished),
            ("on-time", "Trong đó đúng hạn", self.on_time),
            ("late", "Trong đó quá hạn", self.late),
            ("on-time-rate", "Tỷ lệ đúng hạn (%)", self.on_time_rate),
            ("open", "Còn đang xử lý", self.open),
            ("open-overdue", "Còn đang xử lý, đã quá hạn", self.open_overdue),
            ("handling-mean", "Thời gian xử lý trung bình (ngày làm việc)", self.handling_mean),
            ("handling-p90", "Thời gian xử lý, 90% hồ sơ không quá (ngày làm việc)", self.handling_p90),
        ]

    def satisfactions(self) -> list[tuple[str, str, Satisfaction]]:
        return [
            ("feedback", "Hài lòng với việc giải quyết phản ánh, kiến nghị (4–5 sao)", self.feedback),
            ("answers", "Câu trả lời của trợ lý được đánh giá “Hữu ích”", self.answers),
        ]

    def tables(self) -> list[Table]:
        out = [Table("Tổng hợp", ("Chỉ tiêu", "Giá trị"), [(label, v) for _, label, v in self.totals()])]
        for _, title, column, counts in self.breakdowns:
            out.append(Table(title, (column, "Số lượng"), [(c.label, c.count) for c in counts]))
        out.append(
            Table(
                "Mức độ hài lòng",
                ("Chỉ tiêu", "Số lượt đánh giá", "Số lượt hài lòng", "Tỷ lệ (%)", "Mục tiêu: trên (%)", "Kết quả"),
                [
                    (label, s.count, s.positive, s.share, s.target, met_label(s.met))
                    for _, label, s in self.satisfactions()
                ],
            )
        )
        out.append(Table("Đánh giá theo số sao", ("Số sao", "Số lượt"), [(k, n) for k, n in self.stars.items()]))
        return out


def met_label(met: bool | None) -> str:
    return {True: "Đạt", False: "Chưa đạt", None: "Chưa có đánh giá"}[met]


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def nearest_rank(values: list[int], p: float) -> int | None:
    """The p-th percentile by nearest rank: the ceil(p/100 · n)-th smallest value."""
    if not values:
        return None
    return sorted(values)[max(math.ceil(p / 100 * len(values)), 1) - 1]


@lru_cache(maxsize=8192)
def _working_days(start: date, end: date) -> int:
    return workdays.working_days_between(start, end)


def _sorted(pairs, label=lambda k: k) -> list[Count]:
    counts = [Count(k or "", label(k), int(n)) for k, n in pairs]
    return sorted(counts, key=lambda c: (-c.count, c.label))


def compute(factory: sessionmaker, period: Period, now: datetime | None = None) -> Report:
    """The report for `period` as things stand at `now`: counts by GROUP BY, one query for the finishes."""
    now = now or utcnow()
    today = workdays.local_date(now)
    lo, hi = period.bounds()
    received = (items.c.created_at >= lo, items.c.created_at < hi)

    with factory() as s:

        def grouped(column):
            return s.execute(select(column, func.count()).where(*received).group_by(column)).all()

        states = dict(grouped(items.c.state))
        kinds = dict(grouped(items.c.kind))
        fields = grouped(items.c.field)
        channels = grouped(items.c.channel)
        by_queue = s.execute(
            select(queues.c.name, func.count(items.c.id))
            .join(queues, queues.c.id == items.c.queue_id)
            .where(*received)
            .group_by(queues.c.id, queues.c.name)
        ).all()
        open_overdue = s.scalar(
            select(func.count())
            .select_from(items)
            .where(*received, items.c.state.in_(OPEN_STATES), items.c.deadline < today)
        )
        finishes = s.execute(
            select(items.c.created_at, items.c.deadline, func.min(audit.c.at))
            .join(audit, audit.c.item_id == items.c.id)
            .where(*received, audit.c.action.in_(FINISH_ACTIONS))
            .group_by(items.c.id, items.c.created_at, items.c.deadline)
        ).all()
        helpful = dict(
            s.execute(
                select(answer_ratings.c.helpful, func.count())
                .where(answer_ratings.c.at >= lo, answer_ratings.c.at < hi)
                .group_by(answer_ratings.c.helpful)
            ).all()
        )

    spans, on_time = [], 0
    for created_at, deadline, finished_at in finishes:  # local_date takes SQLite's naive times as UTC
        done = workdays.local_date(finished_at)
        on_time += done <= deadline
        spans.append(_working_days(workdays.local_date(created_at), done))
    stars = satisfaction(factory, lo, hi)["by_stars"]
    fields_merged: dict[str | None, int] = {}
    for f, n in fields:  # an empty field counts with the missing ones
        fields_merged[f or None] = fields_merged.get(f or None, 0) + n
    return Report(
        period=period,
        made_at=now,
        total=sum(states.values()),
        by_state=[Count(k, label, int(states.get(k, 0))) for k, label in texts.STATE_LABELS.items()],
        by_kind=[Count(k, label.capitalize(), int(kinds.get(k, 0))) for k, label in texts.KIND_LABELS.items()],
        by_field=_sorted(fields_merged.items(), lambda f: f or NO_FIELD),
        by_queue=_sorted(by_queue),
        by_channel=_sorted(channels, lambda c: CHANNEL_LABELS.get(c, c)),
        finished=len(spans),
        on_time=on_time,
        open=sum(int(states.get(k, 0)) for k in OPEN_STATES),
        open_overdue=int(open_overdue),
        handling_mean=round(sum(spans) / len(spans), 1) if spans else None,
        handling_p90=nearest_rank(spans, 90),
        feedback=Satisfaction(sum(stars.values()), stars[4] + stars[5], FEEDBACK_TARGET),
        stars={k: stars[k] for k in range(5, 0, -1)},
        answers=Satisfaction(sum(helpful.values()), int(helpful.get(True, 0)), ANSWER_TARGET),
    )
