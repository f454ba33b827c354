"""The dialog's words and limits: what the citizen reads, and the menu a reply can offer.

Vietnamese, with correct diacritics; the feedback dialogs keep theirs in `handlers.pakn` and `feedback.texts`.
"""

from __future__ import annotations

from handlers.core import Button, Reply

MAX_TEXT = 2000
CANDIDATES = 4
PAGE = 8
LABEL = 60
PORTAL = "https://dichvucong.gov.vn"

# Aspect buttons under an answer card, in this order, with short labels.
ASPECT_BUTTONS = {
    "documents": "Hồ sơ",
    "fee": "Lệ phí",
    "time": "Thời hạn",
    "place": "Nơi nộp",
    "steps": "Các bước",
    "conditions": "Điều kiện",
    "legal": "Căn cứ pháp lý",
    "online": "Nộp trực tuyến",
}

WELCOME = (
    "Xin chào! Tôi là trợ lý thủ tục hành chính. Bạn có thể hỏi tự nhiên, ví dụ: "
    "“đăng ký khai sinh cần giấy tờ gì”, “lệ phí chứng thực bản sao”, “tạm trú nộp ở đâu”."
)
MENU_TEXT = "Bạn muốn làm gì? Hãy chọn một mục bên dưới hoặc gõ câu hỏi."
HELP = (
    "Hướng dẫn sử dụng\n"
    "• Hỏi thủ tục: gõ câu hỏi tự nhiên, có dấu hay không dấu đều được, ví dụ “làm giấy khai sinh cần gì”, "
    "“phí đăng ký kết hôn”. Dưới câu trả lời có các nút Hồ sơ, Lệ phí, Thời hạn… để xem thêm; "
    "bạn cũng có thể hỏi tiếp, ví dụ “thế còn thời hạn?”.\n"
    "• Tra cứu theo lĩnh vực: chọn lĩnh vực rồi chọn thủ tục; có thể lọc thủ tục cấp xã hoặc cấp tỉnh.\n"
    "• Đánh giá: bấm “Hữu ích” hoặc “Chưa hữu ích” dưới câu trả lời để giúp trợ lý trả lời tốt hơn.\n"
    "• Phản ánh, kiến nghị về quy định và thủ tục hành chính: /phananh, trợ lý hỏi lần lượt nội dung, thủ tục "
    "liên quan, cơ quan, tệp minh chứng, họ tên, địa chỉ và cách liên hệ (không nhận phản ánh nặc danh). "
    "Sau khi gửi bạn nhận mã tra cứu; /tracuu để xem tình trạng, bổ sung thông tin và đánh giá trả lời. "
    "Khiếu nại, tố cáo và tư vấn pháp luật không thuộc kênh này.\n"
    "• Dữ liệu cá nhân: /dulieucuatoi để xem, /xoadulieu để xóa.\n\n"
    "Các lệnh: /menu – menu chính; /thutuc – hỏi thủ tục; /linhvuc – tra cứu theo lĩnh vực; "
    "/phananh – gửi phản ánh, kiến nghị; /tracuu – tra cứu phản ánh; /dulieucuatoi – xem dữ liệu của tôi; "
    "/xoadulieu – xóa dữ liệu của tôi; /huy – hủy thao tác đang làm; /help – hướng dẫn.\n\n"
    "Thông tin được trích từ hồ sơ thủ tục hành chính công bố trên Cổng Dịch vụ công quốc gia; "
    "khi cần chắc chắn, bạn hãy đối chiếu trang thủ tục hoặc hỏi bộ phận một cửa."
)
ASK_PROMPT = "Bạn hãy gõ câu hỏi về thủ tục, ví dụ: “làm giấy khai sinh cần gì”, “đăng ký tạm trú nộp ở đâu”."
FEEDBACK_OFF = (
    "Chức năng phản ánh, kiến nghị chưa được bật trên kênh này. Bạn có thể gửi phản ánh, kiến nghị trên "
    f"Cổng Dịch vụ công quốc gia: {PORTAL}"
)
NOT_FOUND = (
    "Xin lỗi, tôi chưa tìm thấy thủ tục phù hợp với câu hỏi này. Bạn thử nêu tên thủ tục hoặc việc "
    "cần làm (ví dụ: “đăng ký kết hôn”), tra cứu theo lĩnh vực, hoặc gửi phản ánh, kiến nghị để cán bộ trả lời."
)
NOT_HELD = (
    "Thông tin về {title} chưa có trong dữ liệu thủ tục của trợ lý. {where}\n\n"
    "Bạn có thể tra cứu thủ tục theo lĩnh vực, hoặc gửi phản ánh, kiến nghị để cán bộ trả lời."
)
EVENT = (
    "{title}: thường cần làm các thủ tục sau, theo thứ tự.\n\n{steps}\n\n"
    "Bạn chọn một thủ tục để xem hồ sơ, lệ phí, thời hạn."
)
WHICH_OF_LIST = "Bạn muốn xem {what} của thủ tục nào trong danh sách trên? Gõ số thứ tự (1–{n}) hoặc bấm chọn."
WHICH = "Bạn muốn hỏi về thủ tục nào? Hãy gõ tên thủ tục hoặc việc cần làm, ví dụ: “đăng ký khai sinh cần giấy tờ gì”."
NOT_LISTED = (
    "Cảm ơn bạn, tôi đã ghi lại câu hỏi để cán bộ bổ sung. Bạn thử gõ lại tên thủ tục hoặc việc cần làm "
    "cụ thể hơn, tra cứu theo lĩnh vực, hoặc gửi phản ánh, kiến nghị."
)
EMPTY = "Bạn chưa nhập nội dung. Hãy gõ câu hỏi về thủ tục hành chính, hoặc chọn một mục bên dưới."
TOO_LONG = "Câu hỏi dài quá {n} ký tự; bạn vui lòng viết ngắn gọn hơn."
THANKS_REPLY = "Rất vui được giúp bạn! Cần hỏi thêm, bạn cứ nhắn nhé."
WHO = (
    "Tôi là trợ lý ảo về thủ tục hành chính: trả lời từ dữ liệu thủ tục công bố trên Cổng Dịch vụ công quốc gia, "
    "và nhận phản ánh, kiến nghị gửi đến cơ quan tiếp nhận (Sở Tư pháp). Tôi không phải cán bộ; khi cần chắc chắn, "
    "bạn hãy đối chiếu trang thủ tục hoặc hỏi bộ phận một cửa."
)
BYE = "Chào bạn! Khi cần hỏi thủ tục hay gửi phản ánh, kiến nghị, bạn cứ nhắn lại nhé."
FILE_NOT_HERE = (
    "Cảm ơn bạn. Tôi chỉ nhận ảnh hoặc tệp khi bạn gửi phản ánh, kiến nghị và được hỏi đến. "
    "Nếu bạn muốn hỏi về thủ tục, hãy gõ câu hỏi bằng chữ."
)
FILE_NOT_IN_FORM = "Ở bước này tôi cần nội dung bằng chữ, chưa nhận ảnh hoặc tệp."
MEDIA_UNSUPPORTED = "Tôi chưa đọc được tin nhắn thoại, video hay vị trí. Bạn vui lòng gõ câu hỏi bằng chữ."
UNKNOWN_COMMAND = "Tôi chưa biết lệnh này. Bạn hãy chọn một mục bên dưới, hoặc gõ /help để xem hướng dẫn."
INVALID = "Nút này không hợp lệ. Bạn vui lòng chọn lại từ menu."
STALE_CHOICE = "Danh sách lựa chọn này đã cũ. Bạn vui lòng chọn trong danh sách mới nhất, hoặc hỏi lại."
STALE_RATING = "Câu trả lời này đã cũ nên không đánh giá được nữa. Cảm ơn bạn!"
GONE = "Thủ tục này không còn trong cơ sở dữ liệu. Bạn vui lòng hỏi lại."
RATED = "Cảm ơn bạn đã đánh giá! Ý kiến của bạn giúp trợ lý trả lời tốt hơn."
ALREADY_RATED = "Bạn đã đánh giá câu trả lời này rồi. Cảm ơn bạn!"
ASK_MISSING = (
    "Cảm ơn bạn đã cho biết. Câu trả lời còn thiếu hoặc chưa đúng ở điểm nào? "
    "Bạn gõ ngắn gọn giúp tôi, hoặc bấm “Bỏ qua”."
)
MISSING_EMPTY = "Bạn gõ vài chữ về điều còn thiếu giúp tôi, hoặc bấm “Bỏ qua”."
MISSING_THANKS = "Cảm ơn bạn! Ý kiến đã được ghi lại để cán bộ bổ sung thông tin. Bạn có thể hỏi tiếp bất cứ lúc nào."
CANCELLED = "Đã hủy thao tác đang làm. Bạn có thể hỏi tiếp bất cứ lúc nào."
NOTHING_TO_CANCEL = "Không có thao tác nào đang chờ để hủy."
NO_DOMAINS = "Chưa có lĩnh vực nào ở cấp này."

COMMANDS = {
    "start": "Bắt đầu, menu chính",
    "menu": "Menu chính",
    "thutuc": "Hỏi thủ tục hành chính",
    "linhvuc": "Tra cứu thủ tục theo lĩnh vực",
    "phananh": "Gửi phản ánh, kiến nghị",
    "tracuu": "Tra cứu phản ánh, kiến nghị",
    "dulieucuatoi": "Xem dữ liệu cá nhân đã lưu",
    "xoadulieu": "Xóa dữ liệu cá nhân",
    "huy": "Hủy thao tác đang làm",
    "help": "Hướng dẫn sử dụng",
}


def menu(turn: int) -> tuple[Button, ...]:
    return (
        Button("Hỏi thủ tục", f"m:{turn}:ask", group="menu"),
        Button("Tra cứu theo lĩnh vực", f"m:{turn}:browse", group="menu"),
        Button("Gửi phản ánh, kiến nghị", f"m:{turn}:feedback", group="menu"),
        Button("Tra cứu phản ánh", f"m:{turn}:track", group="menu"),
        Button("Hướng dẫn", f"m:{turn}:help", group="menu"),
    )


def short(text: str, n: int = LABEL) -> str:
    """A button label: cut at `n` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


SMALLTALK = {  # kind of small talk (handlers.smalltalk): the reply for the turn
    "greeting": lambda turn: Reply(WELCOME, menu(turn)),
    "thanks": lambda turn: Reply(THANKS_REPLY),
    "who": lambda turn: Reply(WHO, menu(turn)),
    "what": lambda turn: Reply(HELP, menu(turn)),
    "bye": lambda turn: Reply(BYE),
}
