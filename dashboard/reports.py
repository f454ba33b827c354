"""Reports for supervisors and admins: /admin/reports shows the figures of a period as tables and bar charts
drawn on the server (inline SVG), /admin/reports/export.csv and export.xlsx give the same figures as files.

The period comes from the query: `preset=month|quarter|half|year` (with `on=YYYY-MM-DD`, the day the period
holds, default today in Vietnam) or `from=YYYY-MM-DD&to=YYYY-MM-DD`. The figures and what they mean are
`feedback.stats`'s: one computation, rendered three ways here.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import urlencode

from aiohttp import web
from openpyxl import Workbook
from openpyxl.styles import Font

from dashboard.filters import moment
from dashboard.web import PREFIX, app_of, page_error, render, requires
from feedback import stats, texts, workdays
from feedback.outbox import utcnow

TITLE = "Báo cáo phản ánh, kiến nghị"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and CR, may shift it):
# text staff or citizens typed (field and queue names) gets a leading apostrophe instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHART_ROWS = 12  # bars per chart; the table lists every row


def period_of(query) -> stats.Period:
    """The period the query asks for; InvalidPeriod (Vietnamese message) when it cannot be reported on."""
    if "from" in query or "to" in query:
        return stats.custom_period(query.get("from", ""), query.get("to", ""))
    on = stats.parse_day(query["on"], "Ngày") if query.get("on") else workdays.local_date(utcnow())
    return stats.preset_period(query.get("preset") or "month", on)


def query_of(period: stats.Period) -> str:
    """The query string that asks for `period` again (the links to exports and to the next period)."""
    if period.preset:
        return urlencode({"preset": period.preset, "on": period.start.isoformat()})
    return urlencode({"from": period.start.isoformat(), "to": period.end.isoformat()})


def neutral(value):
    """A cell value that no spreadsheet will run: text starting like a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def number(value) -> str:
    """A figure in the Vietnamese way: 1.234 and 85,7."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{value:,}".replace(",", ".")


def _heading(report: stats.Report) -> list[tuple]:
    return [
        (TITLE, report.period.label),
        ("Từ ngày", texts.day(report.period.start)),
        ("Đến ngày", texts.day(report.period.end)),
        ("Lập lúc", moment(report.made_at)),
    ]


def _csv_rows(report: stats.Report) -> Iterator[tuple]:
    yield from _heading(report)
    for table in report.tables():
        yield ()
        yield (table.title,)
        yield table.header
        yield from table.rows


def to_csv(report: stats.Report) -> bytes:
    """UTF-8 with a byte order mark, so Excel reads the Vietnamese letters right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in _csv_rows(report):
        writer.writerow([neutral(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(report: stats.Report) -> bytes:
    """A sheet with the period, then a sheet per table, its header row in bold."""
    book = Workbook()
    info = book.active
    info.title = "Kỳ báo cáo"
    for row in _heading(report):
        info.append([neutral(v) for v in row])
    info.column_dimensions["A"].width = 32
    info.column_dimensions["B"].width = 28
    bold = Font(bold=True)
    for table in report.tables():
        sheet = book.create_sheet(table.title)  # titles of at most 31 characters
        sheet.append(table.header)
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append([neutral(v) for v in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, float):
                    cell.number_format = "0.0"
        sheet.column_dimensions["A"].width = 56
        for col in "BCDEF":
            sheet.column_dimensions[col].width = 18
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _attachment(report: stats.Report, body: bytes, ext: str, content_type: str, charset=None) -> web.Response:
    name = f"bao-cao-pakn_{report.period.start.isoformat()}_{report.period.end.isoformat()}.{ext}"
    return web.Response(
        body=body,
        content_type=content_type,
        charset=charset,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


Respond = Callable[[web.Request, stats.Report], Awaitable[web.StreamResponse]]


def _reporting(respond: Respond):
    """A supervisor's request for the report of the period in its query: computed once, then `respond`ed."""

    @requires("supervisor")
    @functools.wraps(respond)
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            period = period_of(request.query)
        except stats.InvalidPeriod as e:
            return await _refused(request, str(e))
        report = await asyncio.to_thread(stats.compute, app_of(request).factory, period)
        return await respond(request, report)

    return handler


async def _refused(request: web.Request, message: str) -> web.Response:
    if request.path == f"{PREFIX}/reports":
        return render(request, "reports.html", _context(request, None, message), status=400)
    return page_error(request, 400, message)


def _context(request: web.Request, report: stats.Report | None, error: str | None = None) -> dict:
    query = request.query
    return {
        "r": report,
        "error": error,
        "query": query_of(report.period) if report else "",
        "form_from": query.get("from", report.period.start.isoformat() if report else ""),
        "form_to": query.get("to", report.period.end.isoformat() if report else ""),
        "presets": [("month", "Tháng này"), ("quarter", "Quý này"), ("half", "6 tháng"), ("year", "Năm nay")],
        "near": [(label, p, query_of(p)) for label, p in _near(report)],
        "number": number,
        "met_label": stats.met_label,
        "chart_rows": CHART_ROWS,
    }


def _near(report: stats.Report | None) -> list[tuple[str, stats.Period]]:
    if report is None or report.period.preset is None:
        return []
    return [("Kỳ trước", report.period.previous()), ("Kỳ sau", report.period.next())]


@_reporting
async def page(request: web.Request, report: stats.Report) -> web.Response:
    return render(request, "reports.html", _context(request, report))


@_reporting
async def export_csv(request: web.Request, report: stats.Report) -> web.Response:
    return _attachment(report, to_csv(report), "csv", "text/csv", "utf-8")


@_reporting
async def export_xlsx(request: web.Request, report: stats.Report) -> web.Response:
    return _attachment(report, await asyncio.to_thread(to_xlsx, report), "xlsx", XLSX_TYPE)


def add_routes(router: web.UrlDispatcher) -> None:
    """Registered by dashboard.setup."""
    router.add_get(f"{PREFIX}/reports", page)
    router.add_get(f"{PREFIX}/reports/export.csv", export_csv)
    router.add_get(f"{PREFIX}/reports/export.xlsx", export_xlsx)
