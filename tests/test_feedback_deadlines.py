"""Deadlines in working days on the Vietnamese calendar: weekends, public holidays, Tết, make-up Saturdays."""

from datetime import UTC, date, datetime, timedelta

import pytest
from feedback_util import ALICE, CONTENT, file_item, migrated, row

from feedback import service as fs
from feedback.workdays import add_working_days, holiday_name, is_working_day, local_date, working_days_between


@pytest.mark.parametrize(
    ("start", "days", "due", "why"),
    [
        (date(2026, 11, 5), 2, date(2026, 11, 9), "Thursday + 2: Friday, then Monday after the weekend"),
        (date(2026, 11, 7), 1, date(2026, 11, 9), "received on a Saturday: the first working day is Monday"),
        (date(2026, 11, 2), 5, date(2026, 11, 9), "a whole week"),
        (date(2026, 4, 29), 2, date(2026, 5, 5), "30 April and 1 May, then the weekend"),
        (date(2026, 4, 24), 1, date(2026, 4, 28), "Hùng Kings' day on a Sunday, observed on Monday 27 April"),
        (date(2026, 8, 28), 3, date(2026, 9, 7), "31 August bridged, 1-2 September National Day"),
        (date(2025, 8, 29), 1, date(2025, 9, 3), "2025: 1-2 September"),
        (date(2026, 2, 13), 3, date(2026, 2, 25), "Tết Bính Ngọ: 16-20 February 2026 and two weekends"),
        (date(2025, 1, 24), 1, date(2025, 2, 3), "Tết Ất Tỵ: 27 January - 1 February 2025"),
        (date(2026, 8, 21), 1, date(2026, 8, 22), "Saturday 22 August 2026 is worked to bridge 31 August"),
        (date(2026, 12, 31), 1, date(2027, 1, 4), "New Year's Day, then the weekend"),
    ],
)
def test_working_days(start, days, due, why):
    assert add_working_days(start, days) == due, why


def test_calendar_facts_from_the_holiday_library():
    assert not is_working_day(date(2026, 2, 17))  # Mùng 1 Tết
    assert holiday_name(date(2026, 9, 2))
    assert not is_working_day(date(2026, 11, 7)) and not is_working_day(date(2026, 11, 8))
    assert is_working_day(date(2026, 8, 22))
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 25)) == 3
    assert working_days_between(date(2026, 11, 2), date(2026, 11, 2)) == 0
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), -1)


def test_local_date_is_vietnam_time():
    assert local_date(datetime(2026, 11, 1, 18, 30, tzinfo=UTC)) == date(2026, 11, 2)  # 01:30 on the 2nd
    assert local_date(datetime(2026, 11, 1, 16, 59)) == date(2026, 11, 1)


@pytest.fixture
def factory(sqlite_url):
    engine, factory = migrated(sqlite_url)
    yield factory
    engine.dispose()


def test_the_deadline_comes_from_the_queue(factory):
    before_tet = datetime(2026, 2, 13, 3, 0, tzinfo=UTC)  # Friday before Tết, 10:00 in Hà Nội
    assert file_item(factory, now=before_tet).deadline == date(2026, 3, 6)  # the default 10 working days
    fs.update_queue(factory, "Sở Tư pháp", deadline_days=3)
    r = file_item(factory, now=before_tet, content=CONTENT + " Lần hai.")
    assert r.deadline == date(2026, 2, 25)
    fs.add_queue(factory, "Văn phòng UBND tỉnh", 5)
    fs.add_rule(factory, "Văn phòng UBND tỉnh", keywords=["văn phòng"])
    r = file_item(factory, now=datetime(2026, 4, 28, 3, tzinfo=UTC), content=CONTENT + " Văn phòng chậm.")
    assert (r.queue, r.deadline) == ("Văn phòng UBND tỉnh", date(2026, 5, 7))  # 29/4, then 4-7/5


def test_waiting_for_the_citizen_does_not_use_up_the_deadline(factory):
    monday = datetime(2026, 11, 2, 2, tzinfo=UTC)
    code = file_item(factory, now=monday).code
    assert row(factory, code).deadline == date(2026, 11, 16)
    fs.ask_info(factory, code, "lan.tt", "Bạn gửi ảnh giấy hẹn.", now=monday + timedelta(hours=2))
    # the citizen answers on Thursday: Tuesday, Wednesday, Thursday were spent waiting
    fs.reply_info(factory, code, ALICE, "Ảnh đây.", now=datetime(2026, 11, 5, 3, tzinfo=UTC))
    assert row(factory, code).deadline == date(2026, 11, 19)
