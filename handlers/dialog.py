"""The citizen dialog: greetings and the menu, questions answered from the knowledge base.

Returns `Reply` values; knows nothing of Telegram, Zalo or the console.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.core import Button, Incoming, Reply
from knowledge.answer import ASPECT_TITLES, render
from knowledge.kb import KnowledgeBase
from knowledge.text import fold

MAX_TEXT = 2000
GREETINGS = {"xin chao", "chao", "hello", "hi", "alo", "chao ban", "chao ad", "/start", "/menu", "menu"}
MENU = (
    Button("Hỏi thủ tục", "menu:ask"),
    Button("Tra cứu theo lĩnh vực", "menu:browse"),
    Button("Gửi phản ánh, kiến nghị", "menu:feedback"),
    Button("Tra cứu phản ánh", "menu:track"),
    Button("Hướng dẫn", "menu:help"),
)
WELCOME = (
    "Xin chào! Tôi là trợ lý thủ tục hành chính. Bạn có thể hỏi tự nhiên, ví dụ: "
    "“đăng ký khai sinh cần giấy tờ gì”, “lệ phí chứng thực bản sao”, “tạm trú nộp ở đâu”."
)
NOT_FOUND = (
    "Xin lỗi, tôi chưa tìm thấy thủ tục phù hợp với câu hỏi này. Bạn thử nêu tên thủ tục hoặc việc "
    "cần làm (ví dụ: “đăng ký kết hôn”), hoặc gửi phản ánh, kiến nghị để cán bộ trả lời."
)
EMPTY = "Bạn chưa nhập nội dung. Hãy gõ câu hỏi về thủ tục hành chính, hoặc chọn một mục bên dưới."
TOO_LONG = "Câu hỏi dài quá {n} ký tự; bạn vui lòng viết ngắn gọn hơn."


class Dialog:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    def handle(self, msg: Incoming, history: Sequence[str] = ()) -> list[Reply]:
        text = (msg.text or "").strip()
        if msg.payload:
            return self._payload(msg.payload)
        if not text or not any(c.isalnum() for c in text):
            return [Reply(EMPTY, MENU)]
        if len(text) > MAX_TEXT:
            return [Reply(TOO_LONG.format(n=MAX_TEXT))]
        if fold(text).strip(" !.?") in GREETINGS:
            return [Reply(WELCOME, MENU)]
        return self.ask(text, history)

    def ask(self, text: str, history: Sequence[str] = ()) -> list[Reply]:
        result = self.kb.search(text, history)
        if result.decision == "none" or not result.hits:
            return [Reply(NOT_FOUND, (Button("Gửi phản ánh, kiến nghị", "menu:feedback"),))]
        if result.decision == "clarify":
            options = tuple(Button(h.name[:120], f"proc:{h.code}") for h in result.hits[:4])
            return [Reply("Bạn muốn hỏi thủ tục nào dưới đây?", options)]
        return [self.card(result.hits[0].code, result.aspects)]

    def card(self, code: str, aspects: Sequence[str] = ()) -> Reply:
        proc = self.kb.get(code)
        if proc is None:
            return Reply("Thủ tục này không còn trong cơ sở dữ liệu. Bạn vui lòng hỏi lại.")
        shown = set(aspects)
        buttons = tuple(Button(title, f"aspect:{code}:{a}") for a, title in ASPECT_TITLES.items() if a not in shown)
        return Reply(render(proc, tuple(aspects)), buttons, (proc.url,) if proc.url else ())

    def _payload(self, payload: str) -> list[Reply]:
        kind, _, rest = payload.partition(":")
        if kind == "proc" and rest:
            return [self.card(rest)]
        if kind == "aspect":
            code, _, aspect = rest.rpartition(":")
            if code and aspect in ASPECT_TITLES:
                return [self.card(code, (aspect,))]
        if payload == "menu:ask":
            return [Reply("Bạn hãy gõ câu hỏi về thủ tục, ví dụ: “làm giấy khai sinh cần gì”.")]
        if payload in {"menu:feedback", "menu:track"}:
            return [Reply("Chức năng gửi và tra cứu phản ánh, kiến nghị đang được xây dựng, sắp có.", MENU)]
        if payload in {"menu:browse", "menu:help"}:
            return [Reply(WELCOME, MENU)]
        return [Reply("Nút này đã cũ hoặc không hợp lệ. Bạn vui lòng chọn lại từ menu.", MENU)]
