"""Working days on the Vietnamese calendar: weekends, public holidays and Tết from the `holidays` package.

The package also knows the Saturdays that are worked to make up a bridged day off (e.g. 22/8/2026 for
31/8/2026), so those count as working days here too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

import holidays

VN_TZ = timezone(timedelta(hours=7), "ICT")  # Vietnam keeps UTC+7 all year


@lru_cache(maxsize=1)
def _calendar() -> holidays.HolidayBase:
    return holidays.country_holidays("VN")


def local_date(at: datetime) -> date:
    """The date in Vietnam at an instant (naive datetimes are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(VN_TZ).date()


def is_working_day(day: date) -> bool:
    return _calendar().is_working_day(day)


def holiday_name(day: date) -> str | None:
    return _calendar().get(day)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (the day of receipt itself is not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    d = start
    while days:
        d += timedelta(days=1)
        if is_working_day(d):
            days -= 1
    return d


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many a pause from `start` to `end` used up."""
    n, d = 0, start
    while d < end:
        d += timedelta(days=1)
        n += is_working_day(d)
    return n
