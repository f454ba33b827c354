"""Tracking the citizen's items: the status by code (from another chat with the last 4 phone digits),
replies to a request for information, ratings of an answer, and the published answers on a procedure."""

from __future__ import annotations

import re

from feedback import attachments as files
from feedback import codes, texts
from feedback import service as fs
from feedback.validate import InvalidField
from handlers.core import Button, Incoming, Reply
from handlers.pakn.common import Base, _cancel, _short
from handlers.store import Journal
from knowledge.text import fold

MY_ITEMS_SHOWN = 8
PUBLISHED_SHOWN = 5
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
    "sung không? Bấm một nút bên dưới, hoặc gõ “có” / “không”."
)
OFFER_WHICH = "Bạn muốn gửi tin nhắn vừa rồi làm nội dung bổ sung cho mã nào? Bấm một nút bên dưới."
OFFER_GONE = "Tin nhắn đó không còn được giữ để gửi bổ sung. Bạn hãy gõ lại nội dung bổ sung."
PUBLISHED_NONE = "Chưa có phản ánh, kiến nghị nào về thủ tục này được công khai trả lời."
PUBLISHED_HEAD = "Phản ánh, kiến nghị đã được trả lời về thủ tục {name}:"
_DIGITS4 = re.compile(r"(?<!\d)\d{4}(?!\d)")
# A short yes or no to the offer ("có", "ừ gửi đi", "có, gửi giúp tôi", "không, tôi hỏi thủ tục"): the first of
# these words decides, and every word of the message must be one of the words such an answer is made of.
_YES = {"co", "u", "uh", "um", "uhm", "vang", "da", "ok", "oke", "okay", "yes", "dung", "gui", "dong"}
_NO = {"khong", "ko", "k", "kg", "hong", "no", "thoi", "chua"}
_FILLER = {
    "y", "roi", "di", "giup", "ho", "toi", "minh", "em", "anh", "chi", "nhe", "nha", "a", "ah", "ak", "oi", "luon",
    "vay", "the", "nay", "cho", "lam", "noi", "bo", "sung", "tin", "nhan", "phai", "can", "hoi", "thu", "tuc", "la",
    "cau", "vua", "do", "nua", "day", "duoc",
}  # fmt: skip
_YES_OR_NO_WORDS = 8


def yes_or_no(text: str) -> str:
    """Whether `text` is a short yes or no to the offer: "yes", "no", or "" (neither)."""
    words = re.sub(r"[\W_]+", " ", fold(text)).split()
    if not words or len(words) > _YES_OR_NO_WORDS or not set(words) <= _YES | _NO | _FILLER:
        return ""
    first = next((w for w in words if w in _YES or w in _NO), "")
    return "yes" if first in _YES else "no" if first in _NO else ""


class Tracking(Base):
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
        return [Reply(OFFER.format(codes=", ".join(waiting[:3])), self._offer_buttons(state.turn, waiting[:3]))]

    @staticmethod
    def _offer_buttons(n: int, waiting: list[str]) -> tuple[Button, ...]:
        buttons = [Button(f"Gửi bổ sung cho {c}", f"f:{n}:offer:{i}", group="offer") for i, c in enumerate(waiting)]
        return (*buttons, Button("Không, tôi hỏi thủ tục", f"f:{n}:offer:no", group="no"))

    def offer_text(self, state, text: str, journal: Journal) -> list[Reply] | None:
        """Typed while the offer waits: yes sends the earlier message as the reply (asking which item when several
        wait), no answers it as a question; None for anything else, a new message (the offer is left)."""
        form = state.form or {}
        earlier = str(form.get("text") or "")
        waiting = [c for c in form.get("codes") or [] if isinstance(c, str)]
        answer = yes_or_no(text)
        if not answer or not earlier:
            state.form = None
            return None
        if answer == "no":
            state.form = None
            return self.ask(state, earlier, journal)
        if len(waiting) == 1:
            return self._send_info(state, waiting[0], earlier, journal, [])
        if not waiting:
            state.form = None
            return [Reply(OFFER_GONE)]
        state.outcome = "info:which"
        return [Reply(OFFER_WHICH, self._offer_buttons(state.turn, waiting))]

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

    def info_button(self, state, code: str) -> list[Reply]:
        state.form = {"kind": "info", "code": code, "soft": False, "files": True, "attached": []}
        return [Reply(INFO_ASK.format(code=code), (_cancel(state.turn),))]

    def info_files(self, state, msg: Incoming, journal: Journal) -> list[Reply]:
        form = state.form or {}
        stored, error = self._store(msg, journal, list(form.get("attached") or []), files.MAX_PER_ITEM)
        form["attached"] = [*(form.get("attached") or []), *stored]
        if error:
            return [Reply(error, (_cancel(state.turn),))]
        return [Reply(INFO_FILE.format(n=len(form["attached"])), (_cancel(state.turn),))]

    # ---- published answers ---------------------------------------------------------------------

    def has_published(self, code: str, journal: Journal | None = None) -> bool:
        """Whether answers were published for the procedure (read on the turn's connection when there is one)."""
        factory = self.db(journal) if journal is not None else self.desk.factory
        return bool(fs.published_answers(factory, code, limit=1))

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
