"""The intake form: kind, content, procedure, agency, consent, files, name, address, contact, then a
summary to send, edit one field, or cancel.

The draft is kept in `state.form["draft"]` (the `fs.Draft.to_dict` shape): it survives a restart. The
acknowledgement with the tracking code reaches the citizen only through the outbox; the reply after a
submit says thanks and that the acknowledgement follows, nothing more.
"""

from __future__ import annotations

import re

from feedback import attachments as files
from feedback import scope, texts
from feedback import service as fs
from feedback.validate import KINDS, MAX_CONTENT_CHARS, MIN_CONTENT_CHARS, MIN_CONTENT_WORDS, InvalidField, clean, num
from handlers.core import Button, Incoming, Reply
from handlers.pakn.common import FILES_FULL, STALE, Base, _cancel, _short
from handlers.store import Journal
from knowledge.text import fold

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
    "content": (  # the minimum `clean("content", …)` enforces, said plainly
        "Hãy mô tả nội dung {kind}: việc gì, ở đâu, khi nào, bạn đề nghị gì "
        f"(ít nhất {MIN_CONTENT_CHARS} ký tự, khoảng {MIN_CONTENT_WORDS} từ trở lên; "
        f"tối đa {num(MAX_CONTENT_CHARS)} ký tự)."
    ),
    "procedure": "Nội dung này liên quan đến thủ tục hành chính nào? Chọn một thủ tục gợi ý, gõ tên hoặc mã thủ tục, "
    "hoặc bấm “Bỏ qua”.",
    "agency": "Cơ quan hoặc địa điểm liên quan là gì (ví dụ: Bộ phận một cửa UBND phường Hà Đông)? "
    "Gõ tên, hoặc bấm “Bỏ qua”.",
    "files": (
        "Bạn có ảnh hoặc tệp PDF làm minh chứng không? Gửi tối đa {n} tệp, mỗi tệp tối đa 10 MB, rồi bấm “Xong”. "
        "Không có thì bấm “Bỏ qua”."
    ),
    # The consent text is shown verbatim (its version is recorded), after one line: the intro said the rest.
    "consent": "Trước khi nhận ảnh, tệp và thông tin cá nhân của bạn, tôi cần bạn đồng ý.\n\n" + texts.CONSENT_TEXT,
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
_EMAIL_TOKEN = re.compile(r"\S+@\S+")


class Intake(Base):
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
                before + PROMPTS["consent"],
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

    def intake_text(self, state, text: str, journal: Journal) -> list[Reply]:
        """A typed answer to the step the intake form is at."""
        form = state.form or {}
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

    def intake_files(self, state, msg: Incoming, journal: Journal) -> list[Reply]:
        form = state.form or {}
        if form.get("field") != "files":
            return [self._prompt(state, form, FILES_ONLY_HERE)]
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

    def intake_button(self, state, drawn: int, what: str, arg: str, journal: Journal, form) -> list[Reply]:
        """A button of the intake form counts only at the step that drew it (and only if drawn since the form
        reached that step): a forged or old one cannot skip a step."""
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
