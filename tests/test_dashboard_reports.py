"""Reports: the figures of feedback.stats on a small dataset counted by hand, the periods, and the page, CSV and
XLSX that show them (access, the same figures three ways, formula injection, escaping)."""

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from dashboard_util import account, login
from feedback_util import ALICE, BOB, file_item, row
from openpyxl import load_workbook
from sqlalchemy import insert

from dashboard.reports import neutral, number
from feedback import service as fs
from feedback import stats, workdays
from handlers.store import answer_ratings

STAFF = "lan.tt"
QUEUE = "-<script>alert(1)</script> Phòng"  # starts like a formula, and markup
FORMULA = '=HYPERLINK("http://evil.example","x")'
IMG = "<img src=x onerror=alert(1)>"
ZALO = fs.Citizen("zalo", "3003", "3003")
NOVEMBER = "from=2026-11-01&to=2026-11-30"


def vn(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    """An hour in Vietnam, as the UTC instant the app stores (SQLite keeps the wall time, without the offset)."""
    return datetime(2026, month, day, hour, minute, tzinfo=workdays.VN_TZ).astimezone(UTC)


def build(factory) -> dict:
    """Items received in November 2026 (Vietnam's dates; every deadline is 10 working days; Tuesday 24/11,
    Ngày Văn hóa Việt Nam, is a holiday), with what is done to them, and ratings."""
    fs.add_queue(factory, QUEUE, 10)
    fs.add_rule(factory, QUEUE, field=FORMULA, priority=1)
    reason = fs.list_reject_reasons(factory)[0][0]
    # A: Mon 2/11, answered Wed 4/11: 2 working days, on time (deadline 16/11); rated 5 on 5/11
    a = file_item(factory, now=vn(2)).code
    fs.claim(factory, a, STAFF, now=vn(3))
    fs.answer(factory, a, STAFF, "Trả lời A", now=vn(4))
    fs.rate(factory, a, ALICE, 5, now=vn(5))
    # B: kiến nghị without a field, Mon 2/11, answered Fri 20/11: 14 working days, late (16/11); rated 3 on 21/11
    b = file_item(factory, citizen=BOB, now=vn(2, 10), kind="kien_nghi", field=None).code
    fs.claim(factory, b, STAFF, now=vn(3))
    fs.answer(factory, b, STAFF, "Trả lời B", now=vn(20))
    fs.rate(factory, b, BOB, 3, now=vn(21))
    # C: routed to QUEUE by its field, rejected the day it came (Tue 3/11): 0 days, on time
    c = file_item(factory, now=vn(3), field=FORMULA).code
    fs.reject(factory, c, STAFF, reason, now=vn(3, 15))
    # D: by Zalo, Wed 4/11, transferred Tue 10/11: 4 working days (5, 6, 9, 10), on time
    d = file_item(factory, citizen=ZALO, now=vn(4)).code
    fs.transfer(factory, d, STAFF, "UBND huyện", now=vn(10))
    # E: Thu 5/11, left open: deadline 19/11
    file_item(factory, now=vn(5), field=IMG)
    # F: Fri 6/11, deadline 20/11; asked for information on 6/11, the reply on Fri 13/11 moves it by 5 working
    # days to 30/11 (not 24/11); answered Wed 25/11: 12 working days, on time only thanks to the pause; rated 4
    # on 1/12
    f = file_item(factory, now=vn(6)).code
    fs.ask_info(factory, f, STAFF, "Gửi ảnh giấy hẹn.", now=vn(6, 11))
    fs.reply_info(factory, f, ALICE, "Ảnh đây.", now=vn(13))
    fs.claim(factory, f, STAFF, now=vn(16))
    fs.answer(factory, f, STAFF, "Trả lời F", now=vn(25))
    fs.rate(factory, f, ALICE, 4, now=vn(1, month=12))
    # G: 31/10 at 23:30 in Vietnam (16:30 UTC): October's; answered 2/11, rated 4 on 3/11 (a November rating)
    g = file_item(factory, citizen=BOB, now=vn(31, 23, 30, month=10), field="Chứng thực").code
    fs.claim(factory, g, STAFF, now=vn(2))
    fs.answer(factory, g, STAFF, "Trả lời G", now=vn(2, 11))
    fs.rate(factory, g, BOB, 4, now=vn(3))
    # H: 30/11 at 23:59 in Vietnam, still November's; I: 1/12 at 00:10 in Vietnam (17:10 UTC on 30/11), not
    file_item(factory, citizen=BOB, now=vn(30, 23, 59), field="")
    file_item(factory, citizen=BOB, now=vn(1, 0, 10, month=12))
    # answer cards: 9 "Hữu ích" and 1 "Chưa hữu ích" in November, one more of each on its edges, outside
    marks = [(vn(10 + i), True) for i in range(9)] + [(vn(30, 23, 59), False)]
    marks += [(vn(31, 23, 59, month=10), False), (vn(1, 0, 1, month=12), True)]
    with factory.begin() as s:
        for at, helpful in marks:
            s.execute(
                insert(answer_ratings).values(
                    at=at.astimezone(UTC), channel="telegram", code="1.001193", helpful=helpful
                )
            )
    return {"A": a, "B": b, "C": c, "D": d, "F": f, "G": g}


@pytest.fixture(scope="module")
def dataset(dash_app):
    return build(dash_app.factory)


# ---- the figures -------------------------------------------------------------------------------------------


def test_figures_counted_by_hand(dash_app, dataset):
    r = stats.compute(dash_app.factory, stats.custom_period("2026-11-01", "2026-11-30"), now=vn(2, month=12))
    assert r.total == 7  # A B C D E F H
    assert {c.key: c.count for c in r.by_state if c.count} == {
        "answered": 3,
        "rejected": 1,
        "transferred": 1,
        "received": 2,
    }
    assert len(r.by_state) == 9  # every state, with its zero
    assert [(c.label, c.count) for c in r.by_kind] == [("Phản ánh", 6), ("Kiến nghị", 1)]
    assert [(c.label, c.count) for c in r.by_field] == [
        ("Hộ tịch", 3),  # A D F
        ("Không rõ lĩnh vực", 2),  # B (none) and H (empty)
        ("<img src=x onerror=alert(1)>", 1),
        (FORMULA, 1),
    ]
    assert [(c.label, c.count) for c in r.by_queue] == [("Sở Tư pháp", 6), (QUEUE, 1)]
    assert [(c.label, c.count) for c in r.by_channel] == [("Telegram", 6), ("Zalo", 1)]
    assert (r.finished, r.on_time, r.late, r.on_time_rate) == (5, 4, 1, 80.0)
    # handling times 2, 14, 0, 4, 12: mean 32 / 5; the 90th percentile is the 5th (ceil 4.5) of the sorted five
    assert (r.handling_mean, r.handling_p90) == (6.4, 14)
    assert (r.open, r.open_overdue) == (2, 1)  # E (deadline 19/11) and H (14/12), on 2/12
    # stars given in November: A 5, B 3, G 4 (F's 4 came on 1/12)
    assert r.stars == {5: 1, 4: 1, 3: 1, 2: 0, 1: 0}
    assert (r.feedback.count, r.feedback.positive, r.feedback.share, r.feedback.target) == (3, 2, 66.7, 90)
    assert r.feedback.met is False
    assert (r.answers.count, r.answers.positive, r.answers.share, r.answers.target) == (10, 9, 90.0, 80)
    assert r.answers.met is True


def test_the_deadline_moved_by_the_pause_is_the_one_compared(dash_app, dataset):
    """F was answered 12 working days after receipt, on time only because the reply moved its deadline."""
    assert row(dash_app.factory, dataset["F"]).deadline == date(2026, 11, 30)
    assert workdays.working_days_between(date(2026, 11, 6), date(2026, 11, 25)) == 12


def test_a_quarter_and_an_empty_period(dash_app, dataset):
    factory = dash_app.factory
    q = stats.compute(factory, stats.preset_period("quarter", date(2026, 11, 29)), now=vn(2, month=12))
    assert q.period == stats.Period(date(2026, 10, 1), date(2026, 12, 31), "quarter")
    assert (q.total, q.finished, q.on_time) == (9, 6, 5)  # with G (31/10) and I (1/12)
    assert q.stars == {5: 1, 4: 2, 3: 1, 2: 0, 1: 0}  # and F's 4 of 1/12
    empty = stats.compute(factory, stats.custom_period("2025-01-01", "2025-01-31"))
    assert (empty.total, empty.finished, empty.on_time_rate, empty.handling_mean, empty.handling_p90) == (
        0,
        0,
        None,
        None,
        None,
    )
    assert empty.by_field == [] and empty.feedback.share is None and empty.feedback.met is None


@pytest.mark.parametrize(
    ("preset", "day", "start", "end", "label"),
    [
        ("month", date(2026, 11, 29), date(2026, 11, 1), date(2026, 11, 30), "Tháng 11/2026"),
        ("month", date(2028, 2, 10), date(2028, 2, 1), date(2028, 2, 29), "Tháng 2/2028"),
        ("quarter", date(2026, 11, 29), date(2026, 10, 1), date(2026, 12, 31), "Quý IV/2026"),
        ("quarter", date(2026, 1, 1), date(2026, 1, 1), date(2026, 3, 31), "Quý I/2026"),
        ("quarter", date(2026, 6, 30), date(2026, 4, 1), date(2026, 6, 30), "Quý II/2026"),
        ("half", date(2026, 6, 30), date(2026, 1, 1), date(2026, 6, 30), "6 tháng đầu năm 2026"),
        ("half", date(2026, 7, 1), date(2026, 7, 1), date(2026, 12, 31), "6 tháng cuối năm 2026"),
        ("year", date(2026, 11, 29), date(2026, 1, 1), date(2026, 12, 31), "Năm 2026"),
    ],
)
def test_presets(preset, day, start, end, label):
    p = stats.preset_period(preset, day)
    assert (p.start, p.end, p.label) == (start, end, label)


def test_periods_around_and_their_instants():
    q = stats.preset_period("quarter", date(2026, 2, 1))
    assert q.previous() == stats.Period(date(2025, 10, 1), date(2025, 12, 31), "quarter")
    assert q.next() == stats.Period(date(2026, 4, 1), date(2026, 6, 30), "quarter")
    custom = stats.custom_period("2026-11-01", "2026-11-30")
    assert custom.previous() is None and custom.label == "Từ 01/11/2026 đến 30/11/2026"
    assert custom.bounds() == (datetime(2026, 10, 31, 17, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-30", "2026-11-01", "trước hoặc trùng"),
        ("2026-02-30", "2026-03-01", "Ngày bắt đầu không hợp lệ"),
        ("2026-01-01", "", "Ngày kết thúc không hợp lệ"),
        ("2020-01-01", "2026-01-01", "tối đa 5 năm"),
        ("1999-12-31", "2000-01-31", "từ năm 2000 đến năm 2100"),
    ],
)
def test_refused_ranges(start, end, message):
    with pytest.raises(stats.InvalidPeriod, match=message):
        stats.custom_period(start, end)
    assert stats.custom_period("2021-01-02", "2026-01-01").start == date(2021, 1, 2)  # five years is fine
    with pytest.raises(stats.InvalidPeriod):
        stats.preset_period("week", date(2026, 1, 1))


def test_nearest_rank_and_targets():
    assert stats.nearest_rank(list(range(1, 11)), 90) == 9
    assert stats.nearest_rank([7], 90) == 7
    assert stats.nearest_rank([14, 0, 2, 13, 4], 90) == 14
    assert stats.nearest_rank([], 90) is None
    assert stats.Satisfaction(10, 9, 90).met is False  # "trên 90%": exactly 90 is not above
    assert stats.Satisfaction(11, 10, 90).met is True


def test_formula_neutralised_and_numbers():
    assert [neutral(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "Hộ tịch", 5, None)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "Hộ tịch", 5, None,
    ]  # fmt: skip
    assert (number(20000), number(85.7), number(1234.5), number(None)) == ("20.000", "85,7", "1.234,5", "—")


# ---- over HTTP ---------------------------------------------------------------------------------------------

PATHS = ("/admin/reports", "/admin/reports/export.csv", "/admin/reports/export.xlsx")


async def _as(dash, dash_app, role: str) -> None:
    """Log in with a new account of `role` (the client's previous session forgotten)."""
    dash.session.cookie_jar.clear()
    await login(dash, account(dash_app, role))


async def test_access(dash, dash_app):
    for path in PATHS:
        r = await dash.get(f"{path}?{NOVEMBER}", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login?next=")
    await _as(dash, dash_app, "staff")
    for path in PATHS:
        r = await dash.get(f"{path}?{NOVEMBER}")
        assert r.status == 403 and "không có quyền" in await r.text()
    for role in ("supervisor", "admin"):
        await _as(dash, dash_app, role)
        for path in PATHS:  # a GET needs no CSRF token
            r = await dash.get(f"{path}?{NOVEMBER}")
            assert r.status == 200, path
    r = await dash.post("/admin/reports", data={})
    assert r.status == 403  # nothing to post here, and no token anyway


def _cells(html: str) -> dict[str, str]:
    """The data-value of every element with an id on the page."""
    return dict(re.findall(r'id="([\w-]+)" data-value="([^"]*)"', html))


def _rows(html: str, table_id: str) -> list[tuple[str, int]]:
    body = html.split(f'id="report-{table_id}"', 1)[1].split("</table>", 1)[0]
    return [(label, int(n)) for label, n in re.findall(r"<tr><td[^>]*>(.*?)</td><td[^>]*data-value=\"(\d+)\"", body)]


async def _page(dash, dash_app, query=NOVEMBER):
    await _as(dash, dash_app, "supervisor")
    r = await dash.get(f"/admin/reports?{query}")
    assert r.status == 200
    return await r.text()


async def test_page(dash, dash_app, dataset):
    html = await _page(dash, dash_app)
    cells = _cells(html)
    assert cells["total-count"] == "7" and 'id="report-totals"' in html
    assert (cells["finished"], cells["on-time"], cells["late"], cells["on-time-rate"]) == ("5", "4", "1", "80.0")
    assert (cells["handling-mean"], cells["handling-p90"], cells["open"]) == ("6.4", "14", "2")
    assert 'id="export-xlsx" href="/admin/reports/export.xlsx?from=2026-11-01&amp;to=2026-11-30"' in html
    assert 'id="export-csv" href="/admin/reports/export.csv?from=2026-11-01&amp;to=2026-11-30"' in html
    assert _rows(html, "queue") == [("Sở Tư pháp", 6), ("-&lt;script&gt;alert(1)&lt;/script&gt; Phòng", 1)]
    assert ("&lt;img src=x onerror=alert(1)&gt;", 1) in _rows(html, "field")
    assert _rows(html, "channel") == [("Telegram", 6), ("Zalo", 1)]
    assert "<script>alert(1)" not in html and "<img src=x" not in html  # inert, in the tables and the charts
    assert html.count('<rect class="bar"') >= 9 + 2 + 4 + 2 + 2  # the five charts
    assert "66,7 %" in html and "Chưa đạt" in html and "90,0 %" in html and "Đạt" in html
    assert "style=" not in html and "<script>" not in html.split("</head>", 1)[1]


async def test_presets_over_http(dash, dash_app, dataset):
    html = await _page(dash, dash_app, "preset=quarter&on=2026-11-29")
    assert "Quý IV/2026" in html and _cells(html)["total-count"] == "9"
    assert 'value="2026-10-01"' in html and 'value="2026-12-31"' in html
    assert 'href="/admin/reports?preset=quarter&amp;on=2026-07-01">Kỳ trước (Quý III/2026)' in html
    assert 'id="export-csv" href="/admin/reports/export.csv?preset=quarter&amp;on=2026-10-01"' in html
    r = await dash.get("/admin/reports")  # this month, in Vietnam
    today = workdays.local_date(datetime.now(UTC))
    assert r.status == 200 and f"Tháng {today.month}/{today.year}" in await r.text()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-11-30&to=2026-11-01", "Ngày bắt đầu phải trước hoặc trùng ngày kết thúc."),
        ("from=30/11/2026&to=2026-12-01", "Ngày bắt đầu không hợp lệ"),
        ("from=2026-11-01", "Ngày kết thúc không hợp lệ"),
        ("from=2000-01-01&to=2026-01-01", "Khoảng thời gian báo cáo dài tối đa 5 năm."),
        ("preset=week", "Kỳ báo cáo không hợp lệ"),
        ("preset=month&on=hôm-nay", "Ngày không hợp lệ"),
        ("preset=year&on=9999-12-31", "Ngày phải trong khoảng từ năm 2000 đến năm 2100."),
    ],
)
async def test_refused_periods(dash, dash_app, query, message):
    await _as(dash, dash_app, "supervisor")
    for path in PATHS:
        r = await dash.get(f"{path}?{query}")
        assert r.status == 400 and message in await r.text(), path


async def _csv(dash, dash_app, query=NOVEMBER):
    await _as(dash, dash_app, "admin")
    r = await dash.get(f"/admin/reports/export.csv?{query}")
    assert r.status == 200 and r.content_type == "text/csv"
    assert r.headers["Content-Disposition"] == 'attachment; filename="bao-cao-pakn_2026-11-01_2026-11-30.csv"'
    body = await r.read()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _section(rows: list[list[str]], title: str) -> dict[str, str]:
    start = rows.index([title]) + 2  # the title, the header, then the rows up to a blank line
    out = {}
    for line in rows[start:]:
        if not line:
            break
        out[line[0]] = line[1:] if len(line) > 2 else line[1]
    return out


async def test_csv(dash, dash_app, dataset):
    rows = await _csv(dash, dash_app)
    assert rows[0] == ["Báo cáo phản ánh, kiến nghị", "Từ 01/11/2026 đến 30/11/2026"]
    totals = _section(rows, "Tổng hợp")
    assert totals["Số phản ánh, kiến nghị tiếp nhận"] == "7" and totals["Tỷ lệ đúng hạn (%)"] == "80.0"
    assert totals["Thời gian xử lý trung bình (ngày làm việc)"] == "6.4"
    queues = _section(rows, "Theo đơn vị tiếp nhận")
    assert queues == {"Sở Tư pháp": "6", "'" + QUEUE: "1"}  # starts with "-": neutralised
    fields = _section(rows, "Theo lĩnh vực")
    assert fields["'" + FORMULA] == "1" and FORMULA not in fields
    sat = _section(rows, "Mức độ hài lòng")
    assert list(sat.values()) == [["3", "2", "66.7", "90", "Chưa đạt"], ["10", "9", "90.0", "80", "Đạt"]]
    assert _section(rows, "Đánh giá theo số sao") == {"5": "1", "4": "1", "3": "1", "2": "0", "1": "0"}


async def test_xlsx_same_figures_as_page_and_csv(dash, dash_app, dataset):
    html = await _page(dash, dash_app)
    rows = await _csv(dash, dash_app)
    r = await dash.get(f"/admin/reports/export.xlsx?{NOVEMBER}")
    assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
    assert r.headers["Content-Disposition"] == 'attachment; filename="bao-cao-pakn_2026-11-01_2026-11-30.xlsx"'
    book = load_workbook(io.BytesIO(await r.read()))
    assert book.sheetnames[:3] == ["Kỳ báo cáo", "Tổng hợp", "Theo tình trạng"]
    totals = book["Tổng hợp"]
    assert [c.value for c in totals[1]] == ["Chỉ tiêu", "Giá trị"] and all(c.font.bold for c in totals[1])
    xlsx = {label: value for label, value in totals.iter_rows(min_row=2, values_only=True)}
    page = _cells(html)
    csv_totals = _section(rows, "Tổng hợp")
    ids = {label: id_ for id_, label, _ in _dummy().totals()}
    for label, value in xlsx.items():
        assert value == _figure(page[ids[label]]) == _figure(csv_totals[label]), label
    assert xlsx["Số phản ánh, kiến nghị tiếp nhận"] == 7 and xlsx["Tỷ lệ đúng hạn (%)"] == 80.0
    assert totals["B6"].number_format == "0.0" and xlsx["Thời gian xử lý trung bình (ngày làm việc)"] == 6.4
    queues = {a: b for a, b in book["Theo đơn vị tiếp nhận"].iter_rows(min_row=2, values_only=True)}
    assert queues == {"Sở Tư pháp": 6, "'" + QUEUE: 1}
    fields = {a: b for a, b in book["Theo lĩnh vực"].iter_rows(min_row=2, values_only=True)}
    assert fields["'" + FORMULA] == 1 and all(not str(k).startswith("=") for k in fields)
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    sat = list(book["Mức độ hài lòng"].iter_rows(min_row=2, values_only=True))
    assert [s[1:] for s in sat] == [(3, 2, 66.7, 90, "Chưa đạt"), (10, 9, 90.0, 80, "Đạt")]


def _figure(text: str) -> float | None:
    return float(text) if text else None


def _dummy() -> stats.Report:
    """A report with no figures, for the labels and ids of its totals."""
    return stats.Report(
        stats.custom_period("2026-01-01", "2026-01-01"), datetime.now(UTC), 0, [], [], [], [], [], 0, 0, 0, 0, None,
        None, stats.Satisfaction(0, 0, 90), {}, stats.Satisfaction(0, 0, 80),
    )  # fmt: skip
