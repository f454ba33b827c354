"""The feedback dialogs (phản ánh, kiến nghị): the intake form, tracking, replies to a request for
information, ratings, published answers and the data-rights commands.

`handlers.dialog.Dialog` hands over the feedback commands, the `f:` buttons and the forms whose kind is
in `FORMS`; the rules live in `feedback/` (validation, submit, lookup …), this module only asks and
shows. Feedback operations run on the conversation turn's own connection (a savepoint inside its
transaction), so a submit and the cleared draft are stored together, and SQLite's single writer is
never waited for by itself.

The intake draft is kept in `state.form["draft"]` (the `fs.Draft.to_dict` shape): it survives a
restart. The acknowledgement with the tracking code reaches the citizen only through the outbox; the
dialog's own reply after a submit says thanks and that the acknowledgement follows, nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from feedback import attachments as files
from feedback import codes, scope, texts, uploads
from feedback import service as fs
from feedback.tables import uploads as uploads_table
from feedback.validate import KINDS, InvalidField, clean
from handlers import store
from handlers.core import FILE_KINDS, Button, Incoming, Reply
from handlers.store import Journal
from knowledge.kb import KnowledgeBase
from knowledge.text import fold

FORMS = frozenset({"pakn", "track", "info", "offer", "erase"})
# Consent comes before anything personal is taken: the files (photos may show people and papers), the name,
# the address and the contact.
STEPS = ("kind", "content", "procedure", "agency", "consent", "files", "name", "address", "contact", "confirm")
EDITABLE = {  # step: the label of its "Sửa" button
    "kind": "Loại",
    "content": "Nội dung",
    "procedure": "Thủ tục",
    "agency": "Cơ quan, địa điểm",
    "files": "Tệp đính kèm",
    "name": "Họ tên",
    "address": "Địa chỉ",
    "contact": "Liên hệ",
}
FIELD_STEP = {  # InvalidField.field: the step that asks for it
    "kind": "kind",
    "content": "content",
    "procedure_code": "procedure",
    "field": "procedure",
    "agency": "agency",
    "attachment": "files",
    "name": "name",
    "address": "address",
    "phone": "contact",
    "email": "contact",
}
SUGGEST = 3
MY_ITEMS_SHOWN = 8
PUBLISHED_SHOWN = 5

INTRO = (
    "Gửi phản ánh, kiến nghị về quy định hành chính và việc thực hiện thủ tục hành chính (Nghị định "
    "20/2008/NĐ-CP) đến cơ quan tiếp nhận (mặc định: Sở Tư pháp).\n"
    "• Phản ánh: ý kiến về quy định hoặc cách thực hiện (chậm trễ, gây phiền hà, đòi giấy tờ không đúng quy định…).\n"
    "• Kiến nghị: phản ánh kèm đề xuất sửa đổi, bổ sung quy định.\n"
    f"{texts.ANONYMOUS_NOT_ACCEPTED} Bạn có thể gõ /huy để hủy bất cứ lúc nào.\n\n"
    "Bạn muốn gửi phản ánh hay kiến nghị?"
)
PROMPTS = {
    "kind": "Bạn muốn gửi phản ánh hay kiến nghị?",
    "content": (
        "Hãy mô tả nội dung {kind}: việc gì, ở đâu, khi nào, bạn đề nghị gì (ít nhất 6 từ, tối đa 4.000 ký tự)."
    ),
    "procedure": "Nội dung này liên quan đến thủ tục hành chính nào? Chọn một thủ tục gợi ý, gõ tên hoặc mã thủ tục, "
    "hoặc bấm “Bỏ qua”.",
    "agency": "Cơ quan hoặc địa điểm liên quan là gì (ví dụ: Bộ phận một cửa UBND phường Hà Đông)? "
    "Gõ tên, hoặc bấm “Bỏ qua”.",
    "files": (
        "Bạn có ảnh hoặc tệp PDF làm minh chứng không? Gửi tối đa {n} tệp, mỗi tệp tối đa 10 MB, rồi bấm “Xong”. "
        "Không có thì bấm “Bỏ qua”."
    ),
    "consent": texts.CONSENT_TEXT,
    "name": "Họ và tên của bạn?",
    "address": "Địa chỉ liên hệ của bạn (số nhà, đường hoặc thôn, xã/phường, tỉnh/thành phố)?",
    "contact": (
        "Số điện thoại hoặc thư điện tử để cơ quan liên hệ và trả lời bạn? Có thể gõ cả hai, cách nhau bằng dấu phẩy."
    ),
}
NO_SUGGESTION = "Tôi chưa tìm được thủ tục phù hợp. Bạn gõ tên hoặc mã thủ tục (ví dụ 1.001193), hoặc bấm “Bỏ qua”."
NOT_A_PROCEDURE = "Không có thủ tục mã {code}. "
RESUME = "Bạn đang soạn dở một phản ánh, kiến nghị; tiếp tục từ bước đang dừng (gõ /huy nếu muốn hủy).\n\n"
OUT_OF_SCOPE_MORE = (
    "\n\nNếu nội dung của bạn đúng là phản ánh, kiến nghị về quy định hoặc thủ tục hành chính, bấm "
    "“Vẫn gửi phản ánh, kiến nghị”; nếu không, bấm “Hủy”."
)
FILES_ONLY_HERE = "Ở bước này tôi cần nội dung bằng chữ, chưa nhận ảnh hoặc tệp.\n\n"
FILE_RECEIVED = "Đã nhận {n}/{max} tệp. Gửi thêm, hoặc bấm “Xong”."
FILE_MISSING = "Tôi chưa tải được tệp này, bạn vui lòng gửi lại."
FILES_FULL = "Đã đủ {max} tệp đính kèm. Bấm “Xong” để tiếp tục."
FILES_CLEARED = "Đã bỏ các tệp đã gửi.\n\n"
FILES_WAITING = "Bạn hãy gửi ảnh hoặc tệp PDF, hoặc bấm “Xong” / “Bỏ qua” để tiếp tục."
CONSENT_PRESS = "Bạn hãy bấm “Đồng ý” hoặc “Không đồng ý”. " + texts.CONSENT_REQUIRED
CONSENT_REFUSED = (
    "Bạn chưa đồng ý, nên phản ánh, kiến nghị chưa thể gửi: cơ quan cần họ tên, địa chỉ và cách liên hệ để "
    "tiếp nhận và trả lời. Bạn có thể bấm “Đồng ý” để tiếp tục, hoặc “Hủy” để hủy bản nháp."
)
EDIT_WHICH = "Bạn muốn sửa mục nào?"
SUBMITTED = (
    "Cảm ơn bạn! {kind} đã được gửi đến cơ quan tiếp nhận. Tin nhắn xác nhận kèm mã tra cứu và ngày dự kiến "
    "trả lời sẽ đến ngay sau đây; bạn hãy giữ tin nhắn đó."
)
STALE = "Nút này thuộc một bước đã qua. "
TRACK_PROMPT = (
    "Để tra cứu, gõ mã tra cứu (dạng PA-XXXXXXXX). Nếu gửi từ tài khoản khác, gõ kèm 4 số cuối số điện thoại "
    "đã khai, ví dụ: PA-7K3M9Q2X 5678."
)
NO_ITEMS = "Bạn chưa gửi phản ánh, kiến nghị nào từ tài khoản này."
MY_ITEMS = "Phản ánh, kiến nghị của bạn:"
NO_CODE = "Tôi chưa thấy mã tra cứu trong tin nhắn. " + TRACK_PROMPT
DIGITS_ONLY = "Bạn gõ 4 số cuối của số điện thoại đã khai khi gửi, ví dụ: 5678."
RATE_ASK = "Bạn hài lòng với trả lời này ở mức nào? Chấm từ 1 (rất không hài lòng) đến 5 (rất hài lòng)."
RATED = "Cảm ơn bạn đã đánh giá {code}: {stars}/5."
INFO_ASK = "Gõ nội dung bổ sung cho {code}. Nếu có ảnh hoặc tệp PDF, hãy gửi trước, rồi gõ nội dung; gõ /huy để thôi."
INFO_SENT = "Cảm ơn bạn, nội dung bổ sung cho {code} đã được gửi. Xác nhận của cơ quan tiếp nhận sẽ đến ngay sau đây."
INFO_FILE = "Đã nhận {n} tệp cho nội dung bổ sung. Bây giờ bạn gõ nội dung bổ sung."
OFFER = (
    "Cơ quan tiếp nhận đang chờ bạn bổ sung thông tin cho {codes}. Bạn muốn gửi tin nhắn vừa rồi làm nội dung bổ "
    "sung không?"
)
OFFER_GONE = "Tin nhắn đó không còn được giữ để gửi bổ sung. Bạn hãy gõ lại nội dung bổ sung."
PUBLISHED_NONE = "Chưa có phản ánh, kiến nghị nào về thủ tục này được công khai trả lời."
PUBLISHED_HEAD = "Phản ánh, kiến nghị đã được trả lời về thủ tục {name}:"
ERASE_ASK = (
    "Bạn có chắc muốn xóa dữ liệu cá nhân của mình: họ tên, địa chỉ, số điện thoại, thư điện tử và tệp đính kèm "
    "trong các phản ánh, kiến nghị đã gửi từ tài khoản này, bản nháp đang soạn cùng các tệp đã gửi, và các câu hỏi "
    "gần đây trong cuộc trò chuyện? Nội dung phản ánh đã gửi được giữ lại ở dạng ẩn danh. Sau khi xóa, cơ quan "
    "không thể liên hệ hay gửi kết quả cho bạn qua trợ lý nữa; việc này không thể hoàn tác."
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
ERASE_KEPT = "Đã hủy yêu cầu xóa; dữ liệu của bạn được giữ nguyên."
DRAFT_NOTE = "\nBạn đang soạn dở một phản ánh, kiến nghị (bản nháp); gõ /huy để xóa bản nháp."
_EMAIL_TOKEN = re.compile(r"\S+@\S+")
_DIGITS4 = re.compile(r"(?<!\d)\d{4}(?!\d)")


@dataclass
class Desk:
    """What the feedback dialogs need from the app: the database, where files go, the staff group."""

    factory: sessionmaker
    data_dir: Path
    staff_chat: str | None = None


def held(form: dict | None) -> set[int]:
    """The uploads a form holds: the intake draft's files, a reply's files, a draft put aside by /xoadulieu."""
    if not form:
        return set()
    draft = form.get("draft") if isinstance(form.get("draft"), dict) else {}
    found = fs.upload_ids(draft.get("attachments") or []) + fs.upload_ids(form.get("attached") or [])
    return set(found) | held(form.get("back") if isinstance(form.get("back"), dict) else None)


def sweep_uploads(desk: Desk, engine: Engine, context_ttl: timedelta) -> int:
    """Abandoned drafts: the uploads no conversation still in context holds go, with their files (and any
    file on disk no record knows). Run now and then (`App.upkeep`)."""
    live: set[int] = set()
    with engine.connect() as conn:
        owners = conn.execute(select(uploads_table.c.channel, uploads_table.c.channel_user_id).distinct()).all()
        for channel, user_id in owners:
            row = store.load(conn, channel, user_id, lock=False)
            if row is not None and store.aware(row.updated_at) >= store.now() - context_ttl:
                live |= held(row.state.get("form") if isinstance(row.state, dict) else None)
    return uploads.sweep(desk.factory, desk.data_dir, live)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _cancel(turn: int) -> Button:
    return Button("Hủy", f"x:{turn}", group="cancel")


class Feedback:
    def __init__(self, kb: KnowledgeBase, desk: Desk, ask: Callable[[Any, str, Journal], list[Reply]]):
        self.kb = kb
        self.desk = desk
        self.ask = ask  # the dialog's question answering, for a message that turns out to be a question

    # ---- plumbing ------------------------------------------------------------------------------

    def db(self, journal: Journal) -> sessionmaker:
        """Sessions on the turn's connection (a savepoint each) when there is one, else the app's."""
        if journal.conn is not None:
            return sessionmaker(bind=journal.conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        return self.desk.factory

    @staticmethod
    def citizen(journal: Journal) -> fs.Citizen:
        return fs.Citizen(journal.channel, journal.user_id, journal.chat_id or journal.user_id)

    # ---- intake form ---------------------------------------------------------------------------

    def start(self, state, journal: Journal) -> list[Reply]:
        form = state.form
        if form is not None and form.get("kind") == "pakn":
            state.outcome = "pakn:resume"
            prompt = self._prompt(state, form)
            return [Reply(RESUME + prompt.text, prompt.buttons)]
        state.outcome = "pakn:start"
        state.form = {"kind": "pakn", "field": "kind", "soft": False, "files": False, "draft": {}, "consent": None}
        state.form |= {"asked": "kind", "since": state.turn}
        return [Reply(INTRO, self._kind_buttons(state.turn))]

    def _kind_buttons(self, n: int) -> tuple[Button, ...]:
        return (
            Button("Phản ánh", f"f:{n}:kind:phan_anh", group="kind"),
            Button("Kiến nghị", f"f:{n}:kind:kien_nghi", group="kind"),
            _cancel(n),
        )

    def _prompt(self, state, form: dict, before: str = "") -> Reply:
        """The question of the form's current step (after `before`, e.g. the reason a value was refused)."""
        n = state.turn
        step = form["field"]
        draft = form.setdefault("draft", {})
        form["files"] = step == "files"
        if form.get("asked") != step:  # the step's buttons count from this turn on
            form["asked"], form["since"] = step, n
        skip_or_back = (
            Button("↩ Quay lại bản tóm tắt", f"f:{n}:edit:back", group="nav") if form.get("editing") else _cancel(n)
        )
        if step == "kind":
            return Reply(before + PROMPTS["kind"], self._kind_buttons(n))
        if step == "content":
            kind = texts.kind_label(draft.get("kind") or "")
            return Reply(before + PROMPTS["content"].format(kind=kind), (skip_or_back,))
        if step == "procedure":
            suggested = form.get("suggest") or []
            text = PROMPTS["procedure"] if suggested else NO_SUGGESTION
            if suggested:
                text += "\n" + "\n".join(f"{i}. {name}" for i, (_, name) in enumerate(suggested, 1))
            buttons = [
                Button(f"{i}. {_short(name)}", f"f:{n}:procedure:{i - 1}", group="pick")
                for i, (_, name) in enumerate(suggested, 1)
            ]
            buttons += [Button("Bỏ qua", f"f:{n}:procedure:skip", group="skip"), skip_or_back]
            return Reply(before + text, tuple(buttons))
        if step == "agency":
            return Reply(
                before + PROMPTS["agency"], (Button("Bỏ qua", f"f:{n}:agency:skip", group="skip"), skip_or_back)
            )
        if step == "files":
            have = len(draft.get("attachments") or [])
            buttons = [Button("Xong" if have else "Bỏ qua", f"f:{n}:files:done", group="skip")]
            if have:
                buttons.append(Button("Bỏ các tệp đã gửi", f"f:{n}:files:clear", group="skip"))
            text = PROMPTS["files"].format(n=files.MAX_PER_ITEM)
            if have:
                text += f" Đã nhận {have} tệp."
            return Reply(before + text, (*buttons, skip_or_back))
        if step == "consent":
            return Reply(
                before + texts.ANONYMOUS_NOT_ACCEPTED + "\n\n" + texts.CONSENT_TEXT,
                (
                    Button("Đồng ý", f"f:{n}:consent:yes", group="consent"),
                    Button("Không đồng ý", f"f:{n}:consent:no", group="consent"),
                    _cancel(n),
                ),
            )
        if step in ("name", "address", "contact"):
            return Reply(before + PROMPTS[step], (skip_or_back,))
        if step == "scope":
            key = form.get("scope") or "tu_van"
            return Reply(
                before + texts.OUT_OF_SCOPE.get(key, "") + OUT_OF_SCOPE_MORE,
                (Button("Vẫn gửi phản ánh, kiến nghị", f"f:{n}:scope:go", group="scope"), _cancel(n)),
            )
        if step == "edit":
            buttons = [Button(label, f"f:{n}:edit:{s}", group="edit") for s, label in EDITABLE.items()]
            buttons.append(Button("↩ Quay lại bản tóm tắt", f"f:{n}:edit:back", group="nav"))
            return Reply(before + EDIT_WHICH, tuple(buttons))
        # confirm
        return Reply(
            before + self.summary(draft),
            (
                Button("Gửi", f"f:{n}:confirm:send", group="confirm"),
                Button("Sửa", f"f:{n}:confirm:edit", group="confirm"),
                _cancel(n),
            ),
        )

    def summary(self, draft: dict) -> str:
        proc = draft.get("procedure_code")
        name = ""
        if proc:
            p = self.kb.get(proc)
            name = f"{p.name} ({proc})" if p is not None else proc
        contact = ", ".join(x for x in (draft.get("phone"), draft.get("email")) if x)
        lines = [
            "Bạn kiểm tra lại trước khi gửi:",
            f"Loại: {texts.kind_label(draft.get('kind') or '')}",
            f"Nội dung: {draft.get('content') or ''}",
            f"Thủ tục liên quan: {name or 'không nêu'}",
            f"Cơ quan, địa điểm: {draft.get('agency') or 'không nêu'}",
            f"Tệp đính kèm: {len(draft.get('attachments') or [])}",
            f"Họ tên: {draft.get('name') or ''}",
            f"Địa chỉ: {draft.get('address') or ''}",
            f"Liên hệ: {contact}",
            "Bấm “Gửi” để gửi, “Sửa” để sửa một mục, hoặc “Hủy”.",
        ]
        return "\n".join(lines)

    def _next(self, state, form: dict, done: str, before: str = "") -> list[Reply]:
        """The step after `done`: the summary when editing, else the next one still to ask."""
        if form.get("editing") or done == "confirm":
            form["field"] = "confirm"
            form["editing"] = False
        else:
            i = STEPS.index(done) + 1
            while STEPS[i] == "consent" and form.get("consent"):
                i += 1
            form["field"] = STEPS[i]
        if form["field"] == "procedure":
            self._suggest(form, form["draft"].get("content") or "")
        state.form = form
        return [self._prompt(state, form, before)]

    def _suggest(self, form: dict, text: str) -> None:
        r = self.kb.search(text[:2000])
        hits = [h for h in r.hits[:SUGGEST] if h.coverage >= 0.3] if r.decision != "none" or r.hits else []
        form["suggest"] = [(h.code, h.name) for h in hits]

    def _set_procedure(self, form: dict, code: str) -> None:
        p = self.kb.get(code)
        form["draft"]["procedure_code"] = code
        form["draft"]["field"] = p.domain if p is not None else None

    def form_text(self, state, text: str, journal: Journal) -> list[Reply]:
        form = state.form or {}
        kind = form.get("kind")
        state.outcome = f"form:{kind}"
        if kind == "track":
            return self.track_text(state, text, journal)
        if kind == "info":
            return self._send_info(state, form.get("code") or "", text, journal, form.get("attached") or [])
        if kind == "erase":
            state.form = form.get("back")  # a draft put aside while asking comes back
            return [Reply(ERASE_KEPT)]
        step = form.get("field")
        draft = form.setdefault("draft", {})
        try:
            if step == "kind":
                draft["kind"] = clean("kind", text)
            elif step in ("content", "scope"):
                content = clean("content", text)
                draft["content"] = content
                key = scope.out_of_scope(content)
                if key:
                    form["field"], form["scope"] = "scope", key
                    state.outcome = f"pakn:out_of_scope:{key}"
                    return [self._prompt(state, form)]
                step = "content"
            elif step == "procedure":
                typed = text.strip()
                if self.kb.get(typed) is not None:
                    self._set_procedure(form, typed)
                else:
                    self._suggest(form, typed)
                    before = NOT_A_PROCEDURE.format(code=typed) if re.fullmatch(r"\d+(\.\d+)+", typed) else ""
                    return [self._prompt(state, form, before)]
            elif step == "agency":
                draft["agency"] = clean("agency", text)
            elif step == "files":
                if fold(text).strip(" .!") in {"xong", "bo qua", "khong", "khong co"}:
                    return self._next(state, form, "files")
                return [Reply(FILES_WAITING, self._prompt(state, form).buttons)]
            elif step == "consent":
                if fold(text).strip(" .!") in {"dong y", "toi dong y", "co", "dong y a"}:
                    return self._consent(state, form, journal)
                return [Reply(CONSENT_PRESS, self._prompt(state, form).buttons)]
            elif step == "name":
                draft["name"] = clean("name", text)
            elif step == "address":
                draft["address"] = clean("address", text)
            elif step == "contact":
                draft["phone"], draft["email"] = self._contact(text)
            else:  # confirm, edit: a typed message is not an answer here
                return [self._prompt(state, form)]
        except InvalidField as e:
            state.outcome = f"pakn:invalid:{e.field}"
            return [self._prompt(state, form, e.reason + "\n\n")]
        return self._next(state, form, step)

    @staticmethod
    def _contact(text: str) -> tuple[str | None, str | None]:
        emails = _EMAIL_TOKEN.findall(text)
        rest = _EMAIL_TOKEN.sub(" ", text)
        rest = " ".join(re.sub(r"[,;/]|\bvà\b|\bva\b", " ", rest).split())
        if len(emails) > 1:
            raise InvalidField("email", "Bạn chỉ gõ một địa chỉ thư điện tử.")
        email = clean("email", emails[0].strip(",;.")) if emails else None
        phone = clean("phone", rest) if rest else None
        if phone is None and email is None:
            raise InvalidField("phone", "Cần số điện thoại hoặc thư điện tử. " + texts.ANONYMOUS_NOT_ACCEPTED)
        return phone, email

    def _consent(self, state, form: dict, journal: Journal) -> list[Reply]:
        form["consent"] = fs.record_consent(self.db(journal), self.citizen(journal))
        state.outcome = "pakn:consent"
        return self._next(state, form, "consent")

    def files_in(self, state, msg: Incoming, journal: Journal) -> list[Reply]:
        form = state.form or {}
        state.outcome = f"file:{form.get('kind')}"
        if form.get("kind") == "info":
            stored, error = self._store(msg, journal, list(form.get("attached") or []), files.MAX_PER_ITEM)
            form["attached"] = [*(form.get("attached") or []), *stored]
            if error:
                return [Reply(error, (_cancel(state.turn),))]
            return [Reply(INFO_FILE.format(n=len(form["attached"])), (_cancel(state.turn),))]
        if form.get("kind") != "pakn" or form.get("field") != "files":
            return [self._prompt(state, form, FILES_ONLY_HERE)] if form.get("kind") == "pakn" else []
        draft = form.setdefault("draft", {})
        have = list(draft.get("attachments") or [])
        stored, error = self._store(msg, journal, have, files.MAX_PER_ITEM)
        draft["attachments"] = have + stored
        buttons = self._prompt(state, form).buttons
        if error:
            return [Reply(error, buttons)]
        if len(draft["attachments"]) >= files.MAX_PER_ITEM:
            return [Reply(FILES_FULL.format(max=files.MAX_PER_ITEM), buttons)]
        return [Reply(FILE_RECEIVED.format(n=len(draft["attachments"]), max=files.MAX_PER_ITEM), buttons)]

    def _store(self, msg: Incoming, journal: Journal, held: list[dict], most: int) -> tuple[list[dict], str]:
        """Check and store the message's files as the citizen's uploads; (the uploads as kept in the form,
        the reason one was refused)."""
        stored: list[dict] = []
        for a in msg.attachments:
            if a.kind not in FILE_KINDS:
                continue
            if len(held) + len(stored) >= most:
                return stored, FILES_FULL.format(max=most)
            try:
                files.check(a.name or None, a.size or None)
                if not a.data:
                    return stored, FILE_MISSING
                up = uploads.store(
                    self.db(journal),
                    self.desk.data_dir,
                    self.citizen(journal),
                    a.data,
                    a.name or None,
                    held=fs.upload_ids(held + stored),
                )
            except InvalidField as e:
                return stored, e.reason
            stored.append(up.to_dict())
        return stored, ""

    def release(self, journal: Journal, upload_ids: set[int]) -> None:
        """Delete uploads a form let go of (cancelled, cleared, left), with their files."""
        uploads.drop(self.db(journal), self.desk.data_dir, self.citizen(journal), upload_ids)

    def button(self, state, drawn: int, args: list[str], journal: Journal, form: dict | None) -> list[Reply]:
        """`f:turn:what[:arg…]` buttons. A button of the intake form counts only at the step that drew it (and
        only if drawn since the form reached that step): a forged or old one cannot skip a step."""
        what, arg = args[0], (args[1] if len(args) > 1 else "")
        if what == "track":
            return self.show(state, arg, journal)
        if what == "rate":
            return self._rate(state, arg, args[2] if len(args) > 2 else "", journal)
        if what == "info":
            state.form = {"kind": "info", "code": arg, "soft": False, "files": True, "attached": []}
            return [Reply(INFO_ASK.format(code=arg), (_cancel(state.turn),))]
        if what == "offer":
            return self._offer_button(state, arg, journal, form)
        if what == "pub":
            return self.published(state, arg, journal)
        if what == "erase":
            return self._erase_button(state, arg, journal, form)
        if form is None or form.get("kind") != "pakn":
            state.outcome = "stale"
            return [Reply(STALE + "Bạn gõ /phananh để gửi phản ánh, kiến nghị.")]
        step = form.get("field")
        if drawn < int(form.get("since") or 0):
            state.outcome = "stale"
            return [self._prompt(state, form, STALE)]
        if what == "edit" and (step == "edit" or arg == "back" and form.get("editing")):
            if arg == "back":
                form["editing"] = False
                return self._next(state, form, "confirm")
            if arg not in EDITABLE:
                return [self._prompt(state, form, STALE)]
            form["field"], form["editing"] = arg, True
            if arg == "procedure":
                self._suggest(form, form["draft"].get("content") or "")
            return [self._prompt(state, form)]
        if what != step:
            state.outcome = "stale"
            return [self._prompt(state, form, STALE)]
        draft = form.setdefault("draft", {})
        if what == "kind" and arg in KINDS:
            draft["kind"] = arg
        elif what == "scope" and arg == "go":
            state.outcome = "pakn:scope_override"
            step = "content"
        elif what == "procedure":
            if arg == "skip":
                draft["procedure_code"] = draft["field"] = None
            elif arg.isdigit() and int(arg) < len(form.get("suggest") or []):
                self._set_procedure(form, form["suggest"][int(arg)][0])
            else:
                return [self._prompt(state, form, STALE)]
        elif what == "agency" and arg == "skip":
            draft["agency"] = None
        elif what == "files" and arg == "clear":
            draft["attachments"] = []
            return [self._prompt(state, form, FILES_CLEARED)]
        elif what == "files" and arg == "done":
            pass
        elif what == "consent" and arg == "yes":
            return self._consent(state, form, journal)
        elif what == "consent" and arg == "no":
            state.outcome = "pakn:consent_refused"
            return [Reply(CONSENT_REFUSED, self._prompt(state, form).buttons)]
        elif what == "confirm" and arg == "edit":
            form["field"] = "edit"
            return [self._prompt(state, form)]
        elif what == "confirm" and arg == "send":
            return self._submit(state, form, journal)
        else:
            return [self._prompt(state, form, STALE)]
        return self._next(state, form, step)

    def _submit(self, state, form: dict, journal: Journal) -> list[Reply]:
        draft = form.get("draft") or {}
        try:
            fs.submit(
                self.db(journal),
                fs.Draft.from_dict(draft),
                self.citizen(journal),
                int(form.get("consent") or 0),
                data_dir=self.desk.data_dir,
                staff_chat=self.desk.staff_chat,
            )
        except InvalidField as e:
            state.outcome = f"pakn:refused:{e.field}"
            form["field"], form["editing"] = FIELD_STEP.get(e.field, "confirm"), True
            if e.field == "attachment":
                draft["attachments"] = []
            return [self._prompt(state, form, e.reason + "\n\n")]
        except fs.ConsentRequired as e:
            form["field"], form["consent"], form["editing"] = "consent", None, True
            return [self._prompt(state, form, str(e) + "\n\n")]
        except fs.CitizenError as e:
            return [Reply(str(e), self._prompt(state, form).buttons)]
        state.form = None
        state.outcome = "pakn:submitted"
        return [Reply(SUBMITTED.format(kind=texts.kind_label(draft.get("kind") or "").capitalize()))]

    # ---- tracking ------------------------------------------------------------------------------

    def track(self, state, rest: str, journal: Journal) -> list[Reply]:
        """/tracuu [code [4 digits]]: the status of one item, or the user's items and how to look one up."""
        if rest.strip():
            return self.track_text(state, rest, journal)
        state.outcome = "track:list"
        mine = fs.my_items(self.db(journal), self.citizen(journal))
        state.form = {"kind": "track", "field": "code", "soft": True, "files": False}
        if not mine:
            return [Reply(NO_ITEMS + "\n\n" + TRACK_PROMPT)]
        shown = mine[-MY_ITEMS_SHOWN:][::-1]
        lines = [MY_ITEMS]
        for s in shown:
            due = f", hạn trả lời {texts.day(s.deadline)}" if s.state in fs.OPEN_STATES else ""
            lines.append(f"• {s.code}: {texts.STATE_LABELS[s.state]}{due}")
        buttons = tuple(Button(s.code, f"f:{state.turn}:track:{s.code}", group="items") for s in shown)
        return [Reply("\n".join(lines) + "\n\n" + TRACK_PROMPT, buttons)]

    def track_text(self, state, text: str, journal: Journal) -> list[Reply]:
        form = state.form if state.form and state.form.get("kind") == "track" else None
        code = codes.find_in_text(text) or codes.normalize(text.split()[0] if text.split() else "")
        rest = text.replace(code or "", " ") if code else text
        if code is None:
            m = re.search(r"PA[\s\-_.]?(?:[0-9A-Za-z][\s\-]?){8}", text, re.IGNORECASE)
            rest = text[: m.start()] + " " + text[m.end() :] if m else text
        digits = _DIGITS4.findall(rest)
        if code is None and form is not None and form.get("field") == "digits":
            if not digits:
                return [Reply(DIGITS_ONLY)]
            code = form.get("code")
        if code is None:
            state.form = {"kind": "track", "field": "code", "soft": True, "files": False}
            return [Reply(NO_CODE)]
        return self.show(state, code, journal, digits=digits[-1] if digits else None)

    def show(self, state, code: str, journal: Journal, digits: str | None = None) -> list[Reply]:
        citizen = self.citizen(journal)
        factory = self.db(journal)
        try:
            status = fs.lookup(factory, code, citizen, phone_last4=None)
        except fs.PhoneDigitsRequired as e:
            if digits is None:
                state.outcome = "track:digits"
                state.form = {"kind": "track", "field": "digits", "code": codes.normalize(code), "soft": True}
                return [Reply(str(e) + " " + DIGITS_ONLY)]
            try:
                status = fs.lookup(factory, code, citizen, phone_last4=digits, staff_chat=self.desk.staff_chat)
            except fs.CitizenError as e2:
                state.outcome = "track:not_found"
                state.form = {"kind": "track", "field": "code", "soft": True, "files": False}
                return [Reply(str(e2))]
        except fs.CitizenError as e:
            state.outcome = "track:not_found"
            state.form = {"kind": "track", "field": "code", "soft": True, "files": False}
            return [Reply(str(e))]
        state.outcome = "track:status"
        state.form = None
        return [self._status_card(state, status)]

    def _status_card(self, state, status: fs.Status) -> Reply:
        n = state.turn
        text = status.text()
        buttons: list[Button] = []
        if not status.public and status.state == "needs_info":
            buttons.append(Button("Gửi thông tin bổ sung", f"f:{n}:info:{status.code}", group="info"))
        if status.can_rate:
            text += "\n\n" + RATE_ASK
            buttons += [Button(str(k), f"f:{n}:rate:{status.code}:{k}", group="rate") for k in range(1, 6)]
        return Reply(text, tuple(buttons))

    def _rate(self, state, code: str, stars: str, journal: Journal) -> list[Reply]:
        try:
            fs.rate(self.db(journal), code, self.citizen(journal), stars)
        except InvalidField as e:
            return [Reply(e.reason)]
        except fs.CitizenError as e:
            return [Reply(str(e))]
        state.outcome = "track:rated"
        return [Reply(RATED.format(code=code, stars=stars))]

    def rate_typed(self, state, text: str, journal: Journal) -> list[Reply] | None:
        """A lone 1–5 after an answer asked for a rating: the rating of the latest answered item."""
        if text.strip() not in {"1", "2", "3", "4", "5"}:
            return None
        ratable = [s for s in fs.my_items(self.db(journal), self.citizen(journal)) if s.can_rate]
        if not ratable:
            return None
        return self._rate(state, ratable[-1].code, text.strip(), journal)

    # ---- replies to a request for information --------------------------------------------------------

    def offer_info(self, state, text: str, journal: Journal) -> list[Reply] | None:
        """Free text while items wait for information: ask whether it is the reply (never assumed)."""
        waiting = fs.awaiting_info(self.db(journal), self.citizen(journal))
        if not waiting:
            return None
        state.outcome = "info:offer"
        state.form = {"kind": "offer", "soft": True, "files": False, "text": text[:4000], "codes": waiting[:3]}
        n = state.turn
        buttons = [Button(f"Gửi bổ sung cho {c}", f"f:{n}:offer:{i}", group="offer") for i, c in enumerate(waiting[:3])]
        buttons.append(Button("Không, tôi hỏi thủ tục", f"f:{n}:offer:no", group="no"))
        return [Reply(OFFER.format(codes=", ".join(waiting[:3])), tuple(buttons))]

    def _offer_button(self, state, arg: str, journal: Journal, form: dict | None) -> list[Reply]:
        if form is None or form.get("kind") != "offer":
            state.outcome = "stale"
            return [Reply(OFFER_GONE)]
        if arg == "no":
            return self.ask(state, str(form.get("text") or ""), journal)
        codes_ = form.get("codes") or []
        if not arg.isdigit() or int(arg) >= len(codes_):
            return [Reply(OFFER_GONE)]
        return self._send_info(state, codes_[int(arg)], str(form.get("text") or ""), journal, [])

    def _send_info(self, state, code: str, text: str, journal: Journal, attached: list[dict]) -> list[Reply]:
        try:
            fs.reply_info(
                self.db(journal),
                code,
                self.citizen(journal),
                text,
                attached=fs.upload_ids(attached),
                data_dir=self.desk.data_dir,
            )
        except InvalidField as e:
            return [Reply(e.reason, (_cancel(state.turn),))]
        except fs.CitizenError as e:
            state.form = None
            return [Reply(str(e))]
        state.form = None
        state.outcome = "info:sent"
        return [Reply(INFO_SENT.format(code=code))]

    # ---- published answers ---------------------------------------------------------------------

    def has_published(self, code: str) -> bool:
        return bool(fs.published_answers(self.desk.factory, code, limit=1))

    def published(self, state, code: str, journal: Journal) -> list[Reply]:
        rows = fs.published_answers(self.db(journal), code, limit=PUBLISHED_SHOWN)
        state.outcome = "published"
        if not rows:
            return [Reply(PUBLISHED_NONE)]
        p = self.kb.get(code)
        lines = [PUBLISHED_HEAD.format(name=p.name if p is not None else code)]
        for i, r in enumerate(rows, 1):
            lines += [
                "",
                f"{i}. {texts.kind_label(r['kind']).capitalize()} (công khai ngày {texts.day(r['published_on'])})",
                f"Nội dung: {_short(r['content'] or '', 600)}",
                f"Trả lời: {_short(r['answer'] or '', 1200)}",
            ]
        return [Reply("\n".join(lines))]

    # ---- data rights ---------------------------------------------------------------------------

    def _my_data(self, state, journal: Journal) -> fs.MyData:
        data = fs.my_data(self.db(journal), self.citizen(journal))
        data.questions = len(state.turns)
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
        state.forget_context()  # the draft, the recent questions, the cards and lists offered
        state.outcome = "data:erased"
        return [Reply(ERASED.format(what="; ".join(what) or ERASED_DRAFT))]
