"""`make demo`'s data: a demo admin account for the dashboard and a few feedback items to work on.

The password is new on every run (printed in the terminal, never stored in clear), so a demo left running on a
shared machine is not open to whoever read an old transcript. The items are filed once, by the terminal chat's
citizen, through the real intake (consent, routing, deadlines, audit): what staff do to them in the dashboard
reaches the terminal chat like any notification.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from sqlalchemy import exists, select

from bot import users
from bot.app import App
from bot.console import CHANNEL, USER
from bot.notify import Senders, deliver_now
from feedback import service as fs
from feedback import workflow
from feedback.outbox import utcnow
from feedback.tables import items

ADMIN = "demo-admin"
_ITEMS = (  # (kind, content, field, procedure, days ago)
    (
        "phan_anh",
        "Tôi nộp hồ sơ đăng ký khai sinh cho con ở bộ phận một cửa phường từ đầu tháng, giấy hẹn 3 ngày nhưng đến "
        "nay vẫn chưa có kết quả; cán bộ bảo chờ thêm mà không nói lý do.",
        "Hộ tịch",
        "1.001193",
        12,
    ),
    (
        "kien_nghi",
        "Đề nghị cho phép nộp bản sao giấy tờ qua Cổng dịch vụ công khi xin cấp phiếu lý lịch tư pháp, người làm "
        "việc xa quê phải về tận nơi chỉ để nộp giấy tờ, rất mất thời gian.",
        "Lý lịch tư pháp",
        None,
        5,
    ),
    (
        "phan_anh",
        "Văn phòng công chứng trên phố tôi ở thu phí công chứng hợp đồng mua bán nhà cao hơn mức niêm yết, "
        "không đưa biên lai.",
        "Công chứng",
        None,
        1,
    ),
)


def admin_account(app: App) -> tuple[str, str]:
    """The demo admin with a fresh random password: (username, password)."""
    password = secrets.token_urlsafe(12)
    account = users.by_name(app.factory, ADMIN)
    if account is None:
        users.add_user(app.factory, ADMIN, password, "admin")
    else:
        users.update_account(app.factory, account.id, role="admin", active=True, password=password)
    return ADMIN, password


def seed_items(app: App) -> list[str]:
    """File the demo items when the database holds none; their codes (none when it held some already)."""
    with app.factory() as s:
        if s.scalar(select(exists().where(items.c.id.isnot(None)))):
            return []
    citizen = fs.Citizen(CHANNEL, USER, USER)
    codes = []
    for kind, content, field, procedure, days_ago in _ITEMS:
        when = utcnow() - timedelta(days=days_ago)
        draft = fs.Draft(
            kind=kind,
            content=content,
            name="Nguyễn Thị Demo",
            address="số 1 phố Mẫu, phường Minh Họa",
            phone="0900 000 000",
            procedure_code=procedure,
            field=field,
        )
        consent = fs.record_consent(app.factory, citizen, now=when)
        codes.append(fs.submit(app.factory, draft, citizen, consent, now=when).code)
    workflow.claim(app.factory, codes[0], ADMIN, now=utcnow() - timedelta(days=10))
    # their acknowledgements belong to the past: delivered here, not printed in the chat that is about to start
    asyncio.run(deliver_now(app.factory, Senders({CHANNEL: _discard})))
    return codes


async def _discard(msg) -> None:
    return None
