"""The citizen dialog: menu and commands, questions answered from the knowledge base, browsing by
field, ratings, and the small forms that wait for a typed answer.

`Dialog.respond(state, msg, journal)` reads and updates the conversation `State` and returns `Reply`
values; `handlers.conversation` loads and saves the state around it. Nothing here knows Telegram,
Zalo or the console.

Button payloads are short (Telegram allows 64 bytes): `kind:turn[:args]`, where `turn` is the number of
the turn that drew the button. A button naming its procedure (`p`, `a`) still works from an old message;
one that points into the conversation (a candidate `c`, a rating `r`) works only while that list or
card is the current one, and is otherwise answered as stale.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from feedback import codes, scope, texts
from handlers import pakn
from handlers.core import FILE_KINDS, Button, Incoming, Reply
from handlers.pakn import FORMS, Desk, Feedback
from handlers.store import Journal
from knowledge.answer import ASPECT_TITLES, DEFAULT_ASPECTS, render
from knowledge.kb import KnowledgeBase
from knowledge.text import fold

MAX_TEXT = 2000
HISTORY = 6  # recent questions kept for follow-ups
KEEP_CARDS = 5  # answer cards that can still be rated
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
LEVELS = {"x": "Cấp xã", "t": "Cấp tỉnh", "a": ""}
LEVEL_LABELS = {"x": "Cấp xã", "t": "Cấp tỉnh", "a": "Tất cả các cấp"}

GREETINGS = {"xin chao", "chao", "hello", "hi", "alo", "chao ban", "chao ad", "chao admin", "menu"}
THANKS = {"cam on", "cam on ban", "cam on nhieu", "thank", "thanks", "thank you", "ok", "oke", "okay", "vang", "da"}

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
MAYBE = "Có thể liên quan:"
WHICH = "Bạn muốn hỏi về thủ tục nào? Hãy gõ tên thủ tục hoặc việc cần làm, ví dụ: “đăng ký khai sinh cần giấy tờ gì”."
CLARIFY = "Tôi thấy vài thủ tục gần với câu hỏi của bạn. Bạn muốn hỏi thủ tục nào?"
NOT_LISTED = (
    "Cảm ơn bạn, tôi đã ghi lại câu hỏi để cán bộ bổ sung. Bạn thử gõ lại tên thủ tục hoặc việc cần làm "
    "cụ thể hơn, tra cứu theo lĩnh vực, hoặc gửi phản ánh, kiến nghị."
)
EMPTY = "Bạn chưa nhập nội dung. Hãy gõ câu hỏi về thủ tục hành chính, hoặc chọn một mục bên dưới."
TOO_LONG = "Câu hỏi dài quá {n} ký tự; bạn vui lòng viết ngắn gọn hơn."
THANKS_REPLY = "Rất vui được giúp bạn! Cần hỏi thêm, bạn cứ nhắn nhé."
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

PAYLOAD = re.compile(r"[A-Za-z]:\d{1,9}(?::[\w.\-]{1,32}){0,4}")
CODE = re.compile(r"[\w.\-]{1,32}")
TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
ORDINAL = re.compile(
    r"(?:(?:chon|lay|xem|cai|so|muc|thu tuc|lua chon|phuong an)\s+)*(?:thu\s+)?"
    r"(nhat|mot|hai|ba|tu|bon|nam|sau|bay|tam|[1-8]|dau tien|cuoi cung|cuoi)"
    r"(?:\s+(?:a|nhe|nha|di|do|ha|thoi))*"
)
ORDINAL_POS = {"nhat": 0, "mot": 0, "dau tien": 0, "hai": 1, "ba": 2, "tu": 3, "bon": 3, "nam": 4, "sau": 5}
ORDINAL_POS |= {"bay": 6, "tam": 7, "cuoi": -1, "cuoi cung": -1} | {str(n): n - 1 for n in range(1, 9)}


def _menu(turn: int) -> tuple[Button, ...]:
    return (
        Button("Hỏi thủ tục", f"m:{turn}:ask", group="menu"),
        Button("Tra cứu theo lĩnh vực", f"m:{turn}:browse", group="menu"),
        Button("Gửi phản ánh, kiến nghị", f"m:{turn}:feedback", group="menu"),
        Button("Tra cứu phản ánh", f"m:{turn}:track", group="menu"),
        Button("Hướng dẫn", f"m:{turn}:help", group="menu"),
    )


def _short(text: str, n: int = LABEL) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _domain_key(domain: str) -> str:
    return hashlib.sha1(domain.encode()).hexdigest()[:8]


def _web(url: str) -> bool:
    return url.startswith(("https://", "http://")) and " " not in url and len(url) < 1000


def clean(text: str) -> str:
    """The question as searched: markup-like tags dropped, whitespace collapsed."""
    return " ".join(TAG.sub(" ", text).split())


CONTEXT_FIELDS = ("turns", "last_q", "code", "cards", "offered", "offered_turn", "offered_aspects", "offered_q", "form")


@dataclass
class State:
    """What the conversation remembers between messages (stored as JSON)."""

    turn: int = 0  # number of the current turn; buttons carry the turn that drew them
    turns: list[str] = field(default_factory=list)  # recent questions, the search's history
    last_q: str = ""  # the last question typed
    code: str = ""  # the procedure in context
    cards: list[dict[str, Any]] = field(default_factory=list)  # recent answer cards {n, code, q}
    rated: list[int] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)  # the candidates last offered
    offered_turn: int = 0
    offered_aspects: list[str] = field(default_factory=list)
    offered_q: str = ""
    form: dict[str, Any] | None = None  # a form waiting for a field: {kind, field, soft, …}
    outcome: str = field(default="", compare=False)  # what this turn did, for logs (not stored)

    @classmethod
    def from_json(cls, data: Any) -> State:
        """Tolerant: a missing or malformed value (an older or newer version wrote it) takes its default."""
        s = cls()
        if not isinstance(data, dict):
            return s

        def ints(v):
            return [x for x in v if type(x) is int] if isinstance(v, list) else []

        def strs(v):
            return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []

        def text(v):
            return v if isinstance(v, str) else ""

        s.turn = data["turn"] if type(data.get("turn")) is int and data["turn"] >= 0 else 0
        s.turns, s.last_q, s.code = strs(data.get("turns")), text(data.get("last_q")), text(data.get("code"))
        s.cards = (
            [c for c in data.get("cards") or [] if isinstance(c, dict)] if isinstance(data.get("cards"), list) else []
        )
        s.rated = ints(data.get("rated"))
        s.offered, s.offered_aspects = strs(data.get("offered")), strs(data.get("offered_aspects"))
        s.offered_turn = data["offered_turn"] if type(data.get("offered_turn")) is int else 0
        s.offered_q = text(data.get("offered_q"))
        s.form = data["form"] if isinstance(data.get("form"), dict) else None
        return s

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "turns": self.turns[-HISTORY:],
            "last_q": self.last_q,
            "code": self.code,
            "cards": self.cards[-KEEP_CARDS:],
            "rated": self.rated[-KEEP_CARDS * 4 :],
            "offered": self.offered,
            "offered_turn": self.offered_turn,
            "offered_aspects": self.offered_aspects,
            "offered_q": self.offered_q,
            "form": self.form,
        }

    def forget_context(self) -> None:
        """A long pause: the next question starts afresh (the turn counter stays, old buttons stay old)."""
        fresh = State()
        for name in CONTEXT_FIELDS:
            setattr(self, name, getattr(fresh, name))


class Dialog:
    def __init__(self, kb: KnowledgeBase, desk: Desk | None = None):
        self.kb = kb
        self._domains: dict[str, tuple[float, list[tuple[str, int]]]] = {}
        self.feedback = Feedback(kb, desk, self.ask) if desk is not None else None

    # ---- entry -------------------------------------------------------------------------------

    def respond(self, state: State, msg: Incoming, journal: Journal | None = None) -> list[Reply]:
        journal = journal or Journal(None, msg.channel, msg.user_id, msg.chat_id)
        before = pakn.held(state.form)
        replies = self._respond(state, msg, journal)
        released = before - pakn.held(state.form)
        if released and self.feedback is not None:
            self.feedback.release(journal, released)  # a form cancelled, cleared or left takes its files along
        return replies

    def _respond(self, state: State, msg: Incoming, journal: Journal) -> list[Reply]:
        previous = state.turn
        state.turn = previous + 1
        if msg.payload:
            return self._button(state, msg.payload, previous, journal)
        text = (msg.text or "").strip()
        if text.startswith("/"):
            return self._command(state, text, journal)
        if any(a.kind in FILE_KINDS for a in msg.attachments):
            return self._files(state, msg, journal)
        if msg.attachments and not text:
            kinds = {a.kind for a in msg.attachments}
            state.outcome = "media"
            return [Reply(EMPTY, _menu(state.turn))] if kinds <= {"sticker"} else [Reply(MEDIA_UNSUPPORTED)]
        if state.form is not None:
            return self._form_text(state, text, journal)
        if not any(c.isalnum() for c in text):
            state.outcome = "empty"
            return [Reply(EMPTY, _menu(state.turn))]
        if len(text) > MAX_TEXT:
            state.outcome = "too_long"
            return [Reply(TOO_LONG.format(n=MAX_TEXT))]
        if self.feedback is not None:
            fb = self._feedback_text(state, text, journal)
            if fb is not None:
                return fb
        folded = fold(text).strip(" !.?~")
        if folded in GREETINGS:
            state.outcome = "greeting"
            return [Reply(WELCOME, _menu(state.turn))]
        if folded in THANKS:
            state.outcome = "thanks"
            return [Reply(THANKS_REPLY)]
        return self.ask(state, text, journal)

    def _feedback_text(self, state: State, text: str, journal: Journal) -> list[Reply] | None:
        """Free text that concerns the user's feedback: a tracking code, a rating, a reply to a request."""
        assert self.feedback is not None
        if codes.find_in_text(text):
            return self.feedback.track_text(state, text, journal)
        if not state.offered:
            rated = self.feedback.rate_typed(state, text, journal)
            if rated is not None:
                return rated
        return self.feedback.offer_info(state, text, journal)

    # ---- questions ---------------------------------------------------------------------------

    def ask(self, state: State, text: str, journal: Journal) -> list[Reply]:
        q = clean(text)
        pick = self._ordinal(state, q)
        if pick is not None:
            state.outcome = "pick"
            return [self._card(state, pick, state.offered_aspects, state.offered_q, picked=True)]
        r = self.kb.search(q, state.turns[-HISTORY:])
        state.turns = [*state.turns, q][-HISTORY:]
        state.last_q = q
        state.offered = []
        if r.context_used and not r.terms and state.code and self.kb.get(state.code) is not None:
            state.outcome = "follow_up"
            return [self._card(state, state.code, r.aspects, q)]
        if r.decision == "answer" and r.hits:
            state.outcome = "answer"
            return [self._card(state, r.hits[0].code, r.aspects, q)]
        if r.decision == "clarify" and r.hits:
            state.outcome = "clarify"
            return [self._offer(state, [h.code for h in r.hits[:CANDIDATES]], r.aspects, q)]
        if not r.terms and r.aspects:
            state.outcome = "which"
            return [Reply(WHICH)]
        state.outcome = "none"
        key = scope.out_of_scope(q)
        if key is not None:
            state.outcome = f"out_of_scope:{key}"
            return [Reply(texts.OUT_OF_SCOPE[key], _menu(state.turn))]
        journal.review("none", q)
        suggestions = [h for h in r.hits[:3] if h.coverage >= 0.4]
        text = NOT_FOUND
        if suggestions:
            text += "\n\n" + MAYBE + "\n" + "\n".join(f"• {h.name}" for h in suggestions)
        buttons = tuple(Button(_short(h.name), f"p:{state.turn}:{h.code}", group="maybe") for h in suggestions)
        return [Reply(text, (*buttons, *self._way_out(state.turn)))]

    def _way_out(self, turn: int) -> tuple[Button, ...]:
        return (
            Button("Tra cứu theo lĩnh vực", f"m:{turn}:browse", group="out"),
            Button("Gửi phản ánh, kiến nghị", f"m:{turn}:feedback", group="out"),
        )

    def _ordinal(self, state: State, q: str) -> str | None:
        """'cái thứ hai', 'số 2', '2' when candidates were offered: that candidate."""
        if not state.offered:
            return None
        folded = " ".join(re.sub(r"[^\w\s]", " ", fold(q)).split())
        m = ORDINAL.fullmatch(folded)
        if not m:
            return None
        pos = ORDINAL_POS[m.group(1)]
        return state.offered[pos] if -len(state.offered) <= pos < len(state.offered) else None

    def _offer(self, state: State, codes: list[str], aspects, q: str) -> Reply:
        procs = [p for p in (self.kb.get(c) for c in codes) if p is not None]
        state.offered = [p.code for p in procs]
        state.offered_turn = state.turn
        state.offered_aspects = list(aspects)
        state.offered_q = q
        text = CLARIFY + "\n\n" + "\n".join(f"{i}. {p.name}" for i, p in enumerate(procs, 1))
        buttons = [
            Button(f"{i}. {_short(p.name)}", f"c:{state.turn}:{i - 1}", group="pick") for i, p in enumerate(procs, 1)
        ]
        buttons.append(Button("Không có thủ tục tôi cần", f"q:{state.turn}", group="none"))
        return Reply(text, tuple(buttons))

    def _card(self, state: State, code: str, aspects=(), question: str = "", picked: bool = False) -> Reply:
        """An answer card; `picked` when chosen by a button or an ordinal rather than typed."""
        proc = self.kb.get(code)
        if proc is None:
            state.outcome = "gone"
            return Reply(GONE, _menu(state.turn))
        shown = [a for a in aspects if a in ASPECT_TITLES]
        n = state.turn
        buttons = [
            Button(label, f"a:{n}:{code}:{a}", group="aspects")
            for a, label in ASPECT_BUTTONS.items()
            if a not in (shown or DEFAULT_ASPECTS)
        ]
        buttons += [
            Button("Hữu ích", f"r:{n}:{code}:1", group="rate"),
            Button("Chưa hữu ích", f"r:{n}:{code}:0", group="rate"),
        ]
        if self.feedback is not None and self.feedback.has_published(code):
            buttons.append(Button("Phản ánh đã được trả lời", f"f:{n}:pub:{code}", group="pub"))
        links: tuple[str, ...] = ()
        if _web(proc.url):
            buttons.append(Button("Xem trên Cổng Dịch vụ công", url=proc.url, group="link"))
            links = (proc.url,)
        if picked and code != state.code:
            state.turns = [*state.turns, proc.name][-HISTORY:]  # a procedure picked, not typed, is the context
        state.code = code
        state.cards = [*state.cards, {"n": n, "code": code, "q": question or state.last_q}][-KEEP_CARDS:]
        return Reply(render(proc, tuple(shown)), tuple(buttons), links)

    # ---- commands and buttons ----------------------------------------------------------------

    def _command(self, state: State, text: str, journal: Journal) -> list[Reply]:
        head, _, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        n = state.turn
        had_form = state.form
        if had_form is not None and name != "help":
            if had_form.get("soft", True):
                state.form = had_form.get("back")  # a soft form is left (a draft put aside returns)
            elif name in {"huy", "start", "menu"}:
                state.form = None
        state.outcome = f"command:{name if name in COMMANDS else '?'}"
        if name == "start":
            return [Reply(WELCOME, _menu(n))]
        if name == "menu":
            return [Reply(MENU_TEXT, _menu(n))]
        if name == "help":
            return [Reply(HELP, _menu(n))]
        if name == "thutuc":
            rest = rest.strip()
            if rest and any(c.isalnum() for c in rest) and len(rest) <= MAX_TEXT:
                return self.ask(state, rest, journal)
            return [Reply(ASK_PROMPT)]
        if name == "linhvuc":
            return [self._domains_page(state, "a", 0)]
        if name in ("phananh", "tracuu", "dulieucuatoi", "xoadulieu"):
            if self.feedback is None:
                return [Reply(FEEDBACK_OFF, _menu(n))]
            if name == "phananh":
                return self.feedback.start(state, journal)
            if name == "tracuu":
                return self.feedback.track(state, rest, journal)
            if name == "dulieucuatoi":
                return self.feedback.my_data(state, journal)
            return self.feedback.erase(state, journal)
        if name == "huy":
            return [Reply(CANCELLED if had_form else NOTHING_TO_CANCEL, _menu(n))]
        return [Reply(UNKNOWN_COMMAND, _menu(n))]

    def _button(self, state: State, payload: str, previous: int, journal: Journal) -> list[Reply]:
        state.outcome = "button:?"
        if len(payload) > 64 or not PAYLOAD.fullmatch(payload):
            return [Reply(INVALID, _menu(state.turn))]
        kind, drawn, *args = payload.split(":")
        if int(drawn) > previous or int(drawn) == 0:
            return [Reply(INVALID, _menu(state.turn))]  # no such turn yet: forged
        state.outcome = f"button:{kind}"
        form = state.form
        if form is not None and form.get("soft", True):
            state.form = form.get("back")  # pressing another button leaves a soft form (a draft put aside returns)
        handler = {
            "m": self._menu_button,
            "p": self._proc_button,
            "a": self._aspect_button,
            "c": self._choice_button,
            "q": self._not_listed_button,
            "r": self._rate_button,
            "x": self._cancel_button,
            "d": self._domains_button,
            "l": self._list_button,
            "f": self._feedback_button,
        }.get(kind)
        if handler is None:
            state.outcome = "button:?"
            return [Reply(INVALID, _menu(state.turn))]
        return handler(state, int(drawn), args, journal, form)

    def _menu_button(self, state, drawn, args, journal, form) -> list[Reply]:
        item = args[0] if len(args) == 1 else ""
        n = state.turn
        if item == "ask":
            return [Reply(ASK_PROMPT)]
        if item == "browse":
            return [self._domains_page(state, "a", 0)]
        if item in ("feedback", "track"):
            if self.feedback is None:
                return [Reply(FEEDBACK_OFF, _menu(n))]
            if item == "feedback":
                return self.feedback.start(state, journal)
            return self.feedback.track(state, "", journal)
        if item == "help":
            return [Reply(HELP, _menu(n))]
        if item == "menu":
            return [Reply(MENU_TEXT, _menu(n))]
        return [Reply(INVALID, _menu(n))]

    def _proc_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 1 or not CODE.fullmatch(args[0]):
            return [Reply(INVALID, _menu(state.turn))]
        return [self._card(state, args[0], picked=True)]

    def _aspect_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or not CODE.fullmatch(args[0]) or args[1] not in ASPECT_TITLES:
            return [Reply(INVALID, _menu(state.turn))]
        return [self._card(state, args[0], (args[1],), picked=True)]

    def _choice_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 1 or not args[0].isdigit():
            return [Reply(INVALID, _menu(state.turn))]
        i = int(args[0])
        if drawn != state.offered_turn or not state.offered:
            state.outcome = "stale"
            return [Reply(STALE_CHOICE)]
        if i >= len(state.offered):
            return [Reply(INVALID, _menu(state.turn))]
        return [self._card(state, state.offered[i], state.offered_aspects, state.offered_q, picked=True)]

    def _not_listed_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if args:
            return [Reply(INVALID, _menu(state.turn))]
        if drawn != state.offered_turn or not state.offered:
            state.outcome = "stale"
            return [Reply(STALE_CHOICE)]
        journal.review("not_listed", state.offered_q)
        state.offered = []
        return [Reply(NOT_LISTED, self._way_out(state.turn))]

    def _rate_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or args[1] not in {"0", "1"} or not CODE.fullmatch(args[0]):
            return [Reply(INVALID, _menu(state.turn))]
        card = next((c for c in state.cards if c.get("n") == drawn and c.get("code") == args[0]), None)
        if card is None:
            state.outcome = "stale"
            return [Reply(STALE_RATING)]
        if drawn in state.rated:
            return [Reply(ALREADY_RATED)]
        helpful = args[1] == "1"
        state.rated = [*state.rated, drawn][-KEEP_CARDS * 4 :]
        journal.rating(args[0], helpful)
        if helpful:
            return [Reply(RATED)]
        review = journal.review("unhelpful", str(card.get("q") or ""), args[0])
        state.form = {"kind": "missing", "field": "text", "soft": True, "review": review, "files": False}
        return [Reply(ASK_MISSING, (Button("Bỏ qua", f"x:{state.turn}", group="form"),))]

    def _feedback_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if self.feedback is None or not args:
            return [Reply(INVALID, _menu(state.turn))]
        return self.feedback.button(state, drawn, args, journal, form)

    def _cancel_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if args:
            return [Reply(INVALID, _menu(state.turn))]
        state.form = None
        return [Reply(CANCELLED if form else NOTHING_TO_CANCEL)]

    # ---- forms -------------------------------------------------------------------------------

    def _form_text(self, state: State, text: str, journal: Journal) -> list[Reply]:
        form = state.form or {}
        state.outcome = f"form:{form.get('kind')}"
        if form.get("kind") in FORMS and self.feedback is not None:
            return self.feedback.form_text(state, text, journal)
        skip = (Button("Bỏ qua", f"x:{state.turn}", group="form"),)
        if not any(c.isalnum() for c in text):
            return [Reply(MISSING_EMPTY, skip)]
        if len(text) > MAX_TEXT:
            return [Reply(TOO_LONG.format(n=MAX_TEXT), skip)]
        if form.get("kind") == "missing":
            journal.missing(int(form.get("review") or 0), clean(text))
            state.form = None
            return [Reply(MISSING_THANKS, (Button("Gửi phản ánh, kiến nghị", f"m:{state.turn}:feedback"),))]
        state.form = None  # a form this version does not know (written by a newer one): drop it
        return self.ask(state, text, journal)

    def _files(self, state: State, msg: Incoming, journal: Journal) -> list[Reply]:
        state.outcome = "file"
        if state.form is None:
            return [Reply(FILE_NOT_HERE)]
        if state.form.get("kind") in FORMS and self.feedback is not None:
            replies = self.feedback.files_in(state, msg, journal)
            if replies:
                return replies
        # No form of this version takes files (the feedback form will, where it asks for them).
        return [Reply(FILE_NOT_IN_FORM, (Button("Bỏ qua", f"x:{state.turn}", group="form"),))]

    # ---- browsing ----------------------------------------------------------------------------

    def domains(self, level: str) -> list[tuple[str, int]]:
        """Fields with their number of procedures at a level ('' for all), commune and province first."""
        cached = self._domains.get(level)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        rows = []
        for domain, _ in self.kb.domains():
            procs = self.kb.browse(domain, level)
            if procs:
                local = sum(1 for p in procs if "Cấp xã" in p.levels or "Cấp tỉnh" in p.levels)
                rows.append((domain, len(procs), local))
        rows.sort(key=lambda r: (-r[2], -r[1], r[0]))
        result = [(d, n) for d, n, _ in rows]
        self._domains[level] = (time.monotonic(), result)
        return result

    def _domains_page(self, state: State, level: str, page: int, replace: bool = False) -> Reply:
        n = state.turn
        rows = self.domains(LEVELS[level])
        pages = max(1, -(-len(rows) // PAGE))
        page = min(max(page, 0), pages - 1)
        shown = rows[page * PAGE : (page + 1) * PAGE]
        filters = tuple(
            Button(("✓ " if lv == level else "") + LEVEL_LABELS[lv], f"d:{n}:{lv}:0", group="level") for lv in "xta"
        )
        if not shown:
            return Reply(NO_DOMAINS, filters, replace=replace)
        where = f" · {LEVEL_LABELS[level]}" if level != "a" else ""
        text = f"Tra cứu theo lĩnh vực{where}: chọn một lĩnh vực (trang {page + 1}/{pages})."
        buttons = [Button(f"{d} ({c})", f"l:{n}:{_domain_key(d)}:{level}:0", group="domains") for d, c in shown]
        nav = []
        if page > 0:
            nav.append(Button("◀ Trang trước", f"d:{n}:{level}:{page - 1}", group="nav"))
        if page + 1 < pages:
            nav.append(Button("Trang sau ▶", f"d:{n}:{level}:{page + 1}", group="nav"))
        return Reply(text, (*filters, *buttons, *nav), replace=replace)

    def _domains_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or args[0] not in LEVELS or not args[1].isdigit():
            return [Reply(INVALID, _menu(state.turn))]
        return [self._domains_page(state, args[0], int(args[1]), replace=True)]

    def _list_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 3 or args[1] not in LEVELS or not args[2].isdigit():
            return [Reply(INVALID, _menu(state.turn))]
        domain = next((d for d, _ in self.kb.domains() if _domain_key(d) == args[0]), None)
        if domain is None:
            return [Reply(INVALID, _menu(state.turn))]
        level, n = args[1], state.turn
        procs = self.kb.browse(domain, LEVELS[level])
        pages = max(1, -(-len(procs) // PAGE))
        page = min(int(args[2]), pages - 1)
        shown = procs[page * PAGE : (page + 1) * PAGE]
        key = args[0]
        filters = tuple(
            Button(("✓ " if lv == level else "") + LEVEL_LABELS[lv], f"l:{n}:{key}:{lv}:0", group="level")
            for lv in "xta"
        )
        where = f" · {LEVEL_LABELS[level]}" if level != "a" else ""
        if not shown:
            text = f"Lĩnh vực {domain}{where}: không có thủ tục nào ở cấp này."
        else:
            text = f"Lĩnh vực {domain}{where}: {len(procs)} thủ tục (trang {page + 1}/{pages}).\n\n" + "\n".join(
                f"{i}. {p.name}" for i, p in enumerate(shown, 1)
            )
        state.offered = [p.code for p in shown]
        state.offered_turn = n
        state.offered_aspects = []
        state.offered_q = ""
        picks = tuple(Button(f"{i}. {_short(p.name)}", f"c:{n}:{i - 1}", group="pick") for i, p in enumerate(shown, 1))
        nav = []
        if page > 0:
            nav.append(Button("◀ Trang trước", f"l:{n}:{key}:{level}:{page - 1}", group="nav"))
        if page + 1 < pages:
            nav.append(Button("Trang sau ▶", f"l:{n}:{key}:{level}:{page + 1}", group="nav"))
        back = Button("↩ Lĩnh vực khác", f"d:{n}:{level}:0", group="back")
        return [Reply(text, (*filters, *picks, *nav, back), replace=True)]
