"""Data rights: `/dulieucuatoi` shows what is stored about the citizen, `/xoadulieu` erases it after
confirmation (the content of sent items stays, anonymised)."""

from __future__ import annotations

from feedback import service as fs
from handlers.core import Button, Reply
from handlers.pakn.common import STALE, Base
from handlers.store import Journal

ERASE_ASK = (
    "Bạn có chắc muốn xóa dữ liệu cá nhân của mình: họ tên, địa chỉ, số điện thoại, thư điện tử và tệp đính kèm "
    "trong các phản ánh, kiến nghị đã gửi từ tài khoản này, bản nháp đang soạn cùng các tệp đã gửi, các câu hỏi "
    "gần đây và lịch sử trò chuyện mà hệ thống lưu? Nội dung phản ánh đã gửi được giữ lại ở dạng ẩn danh. Sau khi "
    "xóa, cơ quan không thể liên hệ hay gửi kết quả cho bạn qua trợ lý nữa; việc này không thể hoàn tác."
)
ERASE_NOTHING = "Hệ thống không lưu thông tin cá nhân nào của bạn."
ERASE_NOTHING_LEFT = (
    "Không còn dữ liệu cá nhân nào của bạn để xóa. Hệ thống chỉ giữ bản ghi phản ánh, kiến nghị đã ẩn danh và "
    "việc bạn đã đồng ý rồi rút lại đồng ý (thời điểm, phiên bản văn bản); gõ /dulieucuatoi để xem."
)
ERASED = "Đã xóa dữ liệu cá nhân của bạn: {what}."
ERASED_ITEMS = "thông tin người gửi trong {n} phản ánh, kiến nghị (sự đồng ý xử lý dữ liệu đã được rút lại)"
ERASED_DRAFT = "bản nháp và các tệp chưa gửi"
ERASED_QUESTIONS = "các câu hỏi gần đây trong cuộc trò chuyện"
ERASED_TRANSCRIPT = "lịch sử trò chuyện lưu trên trang"
ERASE_KEPT = "Đã hủy yêu cầu xóa; dữ liệu của bạn được giữ nguyên."
DRAFT_NOTE = "\nBạn đang soạn dở một phản ánh, kiến nghị (bản nháp); gõ /huy để xóa bản nháp."


class Rights(Base):
    def _my_data(self, state, journal: Journal) -> fs.MyData:
        data = fs.my_data(self.db(journal), self.citizen(journal))
        data.questions = len(state.turns)
        data.transcript = journal.transcript_messages()
        return data

    def my_data(self, state, journal: Journal) -> list[Reply]:
        state.outcome = "data:show"
        text = self._my_data(state, journal).text()
        if state.form and state.form.get("kind") == "pakn":
            text += DRAFT_NOTE
        return [Reply(text)]

    def erase(self, state, journal: Journal) -> list[Reply]:
        state.outcome = "data:erase_ask"
        data = self._my_data(state, journal)
        draft = state.form if state.form and state.form.get("kind") == "pakn" else None
        if not data.erasable and draft is None:
            return [Reply(ERASE_NOTHING if data.empty else ERASE_NOTHING_LEFT)]
        n = state.turn
        state.form = {"kind": "erase", "soft": True, "files": False, "back": draft}
        return [
            Reply(
                ERASE_ASK,
                (
                    Button("Xóa dữ liệu của tôi", f"f:{n}:erase:yes", group="erase"),
                    Button("Không xóa", f"f:{n}:erase:no", group="erase"),
                ),
            )
        ]

    def _erase_button(self, state, arg: str, journal: Journal, form: dict | None) -> list[Reply]:
        if form is None or form.get("kind") != "erase" or arg not in ("yes", "no"):
            state.outcome = "stale"
            return [Reply(STALE + "Gõ /xoadulieu nếu bạn muốn xóa dữ liệu.")]
        if arg == "no":
            state.form = form.get("back")
            return [Reply(ERASE_KEPT)]
        data = self._my_data(state, journal)
        n = fs.erase_my_data(self.db(journal), self.citizen(journal), confirmed=True, data_dir=self.desk.data_dir)
        what = [ERASED_ITEMS.format(n=n)] if n else []
        if data.uploads or form.get("back"):
            what.append(ERASED_DRAFT)
        if data.questions:
            what.append(ERASED_QUESTIONS)
        if journal.erase_transcript():
            what.append(ERASED_TRANSCRIPT)
        state.forget_context()  # the draft, the recent questions, the cards and lists offered
        state.outcome = "data:erased"
        return [Reply(ERASED.format(what="; ".join(what) or ERASED_DRAFT))]

    def erase_text(self, state) -> list[Reply]:
        """Anything typed while the erasure waits for confirmation keeps the data."""
        state.form = (state.form or {}).get("back")  # a draft put aside while asking comes back
        return [Reply(ERASE_KEPT)]
