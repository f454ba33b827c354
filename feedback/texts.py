"""Every text a citizen (or the staff group) reads from the feedback workflow, in Vietnamese.

Plain text: channels must send it without a markup mode (no HTML or Markdown parsing), so whatever a
citizen typed is shown as typed.
"""

from __future__ import annotations

from datetime import date

CONSENT_PURPOSE = "pakn"
CONSENT_VERSION = "pakn-2026-11-v1"
CONSENT_TEXT = (
    "Để tiếp nhận và trả lời phản ánh, kiến nghị theo Nghị định 20/2008/NĐ-CP, cơ quan tiếp nhận cần họ tên, "
    "địa chỉ và số điện thoại hoặc thư điện tử của bạn. Các thông tin này chỉ dùng để xử lý, trả lời phản ánh, "
    "kiến nghị và liên hệ với bạn khi cần; họ tên, số điện thoại, địa chỉ của bạn không được công khai. "
    "Bạn có thể xem dữ liệu của mình (/dulieucuatoi) hoặc yêu cầu xóa (/xoadulieu) bất cứ lúc nào. "
    "Bạn có đồng ý cho cơ quan xử lý các thông tin này vào mục đích trên không?"
)
ANONYMOUS_NOT_ACCEPTED = (
    "Theo Nghị định 20/2008/NĐ-CP, phản ánh, kiến nghị phải ghi rõ họ tên, địa chỉ và số điện thoại hoặc "
    "thư điện tử của người gửi; phản ánh, kiến nghị không rõ người gửi (nặc danh) không được tiếp nhận."
)
CONSENT_REQUIRED = (
    "Cần sự đồng ý của bạn về việc xử lý thông tin cá nhân trước khi gửi phản ánh, kiến nghị. "
    "Im lặng không được coi là đồng ý."
)

STATE_LABELS = {
    "received": "Đã tiếp nhận",
    "needs_info": "Cần bổ sung thông tin",
    "in_processing": "Đang xử lý",
    "answered": "Đã có trả lời",
    "published": "Đã công khai kết quả",
    "closed": "Đã kết thúc",
    "transferred": "Đã chuyển cơ quan có thẩm quyền",
    "rejected": "Không được xử lý",
    "duplicate": "Trùng với phản ánh, kiến nghị khác",
}
KIND_LABELS = {"phan_anh": "phản ánh", "kien_nghi": "kiến nghị"}

OUT_OF_SCOPE = {
    "khieu_nai": (
        "Nội dung của bạn có vẻ là khiếu nại (đề nghị xem xét lại một quyết định hoặc hành vi hành chính "
        "ảnh hưởng đến quyền lợi của bạn). Khiếu nại được giải quyết theo Luật Khiếu nại, không qua kênh "
        "phản ánh, kiến nghị này. Bạn hãy gửi đơn đến chính cơ quan đã ra quyết định hoặc có hành vi đó, "
        "hoặc đến Ban Tiếp công dân của tỉnh."
    ),
    "to_cao": (
        "Nội dung của bạn có vẻ là tố cáo (báo cho cơ quan có thẩm quyền biết hành vi vi phạm pháp luật). "
        "Tố cáo được giải quyết theo Luật Tố cáo, không qua kênh phản ánh, kiến nghị này. Bạn hãy gửi đơn "
        "đến cơ quan quản lý người bị tố cáo, Thanh tra tỉnh hoặc Ban Tiếp công dân của tỉnh."
    ),
    "tu_van": (
        "Kênh phản ánh, kiến nghị không tư vấn pháp luật cho từng vụ việc. Bạn có thể liên hệ Trung tâm "
        "Trợ giúp pháp lý nhà nước của tỉnh (thuộc Sở Tư pháp) hoặc một tổ chức hành nghề luật sư."
    ),
}


def day(d: date) -> str:
    return f"{d:%d/%m/%Y}"


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, "phản ánh, kiến nghị")


def acknowledgement(code: str, kind: str, queue: str, deadline: date) -> str:
    return (
        f"Đã tiếp nhận {kind_label(kind)} của bạn.\n"
        f"Mã tra cứu: {code}\n"
        f"Cơ quan tiếp nhận: {queue}\n"
        f"Dự kiến trả lời trước ngày {day(deadline)} (tính theo ngày làm việc).\n"
        f"Gõ /tracuu {code} để xem tình trạng bất cứ lúc nào. Hãy giữ mã này; khi tra cứu từ tài khoản khác, "
        "bạn cần mã và 4 số cuối điện thoại đã khai."
    )


def info_requested(code: str, question: str) -> str:
    return (
        f"{code}: cơ quan tiếp nhận đề nghị bạn bổ sung thông tin:\n{question}\n"
        "Bạn hãy trả lời ngay trong cuộc trò chuyện này."
    )


def info_received(code: str) -> str:
    return f"{code}: đã nhận thông tin bổ sung của bạn, hồ sơ được xử lý tiếp."


def claimed(code: str) -> str:
    return f"{code}: {kind_label('')} của bạn đang được xử lý."


def transferred(code: str, agency: str) -> str:
    return (
        f"{code}: nội dung thuộc thẩm quyền của {agency}, nên đã được chuyển đến {agency} để xem xét, "
        "trả lời bạn theo quy định."
    )


def answered(code: str, answer: str) -> str:
    return (
        f"{code}: đã có trả lời.\n{answer}\n"
        "Bạn hài lòng với trả lời này ở mức nào? Hãy bấm một nút từ 1 (rất không hài lòng) đến 5 (rất hài lòng)."
    )


def rating_buttons(code: str) -> list[tuple[str, str]]:
    """The 1–5 buttons under an answer, as (label, payload): the chat dialog's rating button
    `f:turn:rate:code:stars`. Its turn is 1, a turn every conversation that filed an item has had, so the
    button is valid whenever it is pressed; the rating itself is checked by ownership (`service.rate`)."""
    return [(str(k), f"f:1:rate:{code}:{k}") for k in range(1, 6)]


def rejected(code: str, reason: str, note: str | None) -> str:
    more = f"\n{note}" if note else ""
    return f"{code}: không được xử lý theo kênh phản ánh, kiến nghị.\nLý do: {reason}.{more}"


def duplicate(code: str, original: str) -> str:
    return (
        f"{code}: nội dung trùng với {kind_label('')} {original} đang được xử lý. Kết quả trả lời sẽ được "
        "công khai theo mã đó; hồ sơ này kết thúc tại đây."
    )


def published(code: str) -> str:
    return f"{code}: kết quả trả lời đã được công khai (họ tên, số điện thoại, địa chỉ của bạn đã được ẩn)."


def closed(code: str) -> str:
    return f"{code}: hồ sơ đã kết thúc và được lưu trữ. Cảm ơn bạn đã gửi {kind_label('')}."


def staff_new(code: str, queue: str, deadline: date, duplicates: list[str]) -> str:
    dup = f"\nCó thể trùng: {', '.join(duplicates)}" if duplicates else ""
    return f"PAKN mới {code}\nHàng đợi: {queue}\nHạn xử lý: {day(deadline)}{dup}"


def staff_overdue(code: str, queue: str, deadline: date, state: str) -> str:
    return f"PAKN quá hạn {code}\nHàng đợi: {queue}\nHạn xử lý: {day(deadline)}\nTình trạng: {STATE_LABELS[state]}"
