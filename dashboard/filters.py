"""Template filters: dates in Vietnam's time and format, state, kind and channel labels."""

from __future__ import annotations

from datetime import date, datetime

import jinja2

from feedback import texts, workdays
from feedback.records import utc
from feedback.stats import CHANNEL_LABELS

ACTION_LABELS = {
    "submit": "Tiếp nhận",
    "claim": "Nhận xử lý",
    "assign": "Phân công",
    "ask_info": "Đề nghị bổ sung thông tin",
    "reply_info": "Người gửi bổ sung thông tin",
    "transfer": "Chuyển cơ quan có thẩm quyền",
    "answer": "Trả lời",
    "reject": "Từ chối xử lý",
    "mark_duplicate": "Đánh dấu trùng",
    "publish": "Công khai",
    "close": "Kết thúc",
    "rate": "Người gửi đánh giá",
    "erase": "Xóa thông tin cá nhân theo yêu cầu",
    "note": "Ghi chú nội bộ",
}


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = workdays.local_date(value)
    return f"{value:%d/%m/%Y}"


def moment(value: datetime | None) -> str:
    """A date and time in Vietnam (stored times are UTC)."""
    if value is None:
        return "—"
    return f"{utc(value).astimezone(workdays.VN_TZ):%d/%m/%Y %H:%M}"


def state_label(state: str) -> str:
    return texts.STATE_LABELS.get(state, state)


def kind_label(kind: str) -> str:
    return texts.kind_label(kind).capitalize()


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        day=day, moment=moment, state=state_label, kind=kind_label, action=action_label, channel=channel_label
    )
