"""The conversation never breaks: random sequences of commands, button presses (current, stale and forged),
typed button labels, texts of every kind and files, with staff acting on the citizen's items now and then,
go through the stored conversation on a real database; no turn raises, and every turn gets an answer."""

import uuid

import pytest
from feedback_util import CONTENT, draft
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from bot.app import build
from bot.settings import load_settings
from channels.base import SORRY
from feedback import service as fs
from handlers.core import Attachment, Incoming, Reply
from handlers.dialog import PAYLOAD
from handlers.texts import COMMANDS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
STAFF = "lan.tt"
STEPS = 25

COMMAND_NAMES = [*COMMANDS, "foo", "thutuc@tthc_bot", "HUY", "start@other_bot"]
ARGUMENTS = ["", " đăng ký khai sinh", " PA-7K3M9Q2X", " PA-7K3M9Q2X 5678", " 😀", " 1"]
TEXTS = [
    "đăng ký khai sinh cần giấy tờ gì",
    "thế còn lệ phí?",
    "cái thứ hai",
    "làm sổ đỏ mất bao lâu",
    "có",
    "không",
    "ừ gửi đi",
    "có, gửi giúp tôi",
    "không, tôi hỏi thủ tục",
    "đồng ý",
    "xong",
    "bỏ qua",
    "hủy",
    "Hữu ích",
    "chưa hữu ích",
    "xin chào",
    "cảm ơn",
    "",
    "   ",
    "😀😀",
    "?!",
    "1",
    "3",
    "5",
    "12345",
    "1.001193",
    "PA-7K3M9Q2X",
    "PA-7K3M9Q2X 5678",
    "cho hỏi PA-00000000 thế nào rồi",
    "5678",
    CONTENT,
    "Nguyễn Văn Bình",
    "số 12 ngõ 45 phố Lê Lợi, phường Hà Đông, Hà Nội",
    "0912 345 678",
    "binh@gmail.com, 0912345678",
    "UBND phường Hà Đông",
    "phản ánh",
    "tôi muốn tố cáo cán bộ xã nhận tiền của dân khi làm sổ đỏ cho gia đình tôi năm nay",
    "chậm trễ " * 600,
    "<script>alert(1)</script>",
]
FORGED = ["x:0", "x:999999999", "f:1:rate:PA-7K3M9Q2X:5", "f:1:offer:0", "f:1:offer:no", "f:1:erase:yes",
          "f:1:confirm:send", "f:1:consent:yes", "f:2:info:PA-7K3M9Q2X", "c:1:0", "r:1:1.001193:1", "m:1:zzz",
          "zz", "f:1", "p:1:../../etc", "a" * 80, "l:1:a:0", "d:1:x:9"]  # fmt: skip


@pytest.fixture(scope="module")
def papp(tmp_path_factory):
    base = tmp_path_factory.mktemp("property")
    a = build(load_settings(database_url=f"sqlite:///{base / 'app.db'}", data_dir=base / "data"))
    # Thousands of turns: commit without waiting for the disk (a test database, lost in a crash at worst).
    event.listen(a.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    a.engine.dispose()
    yield a
    a.engine.dispose()


class Run:
    """One citizen's conversation: sends messages, remembers the buttons seen, lets staff act."""

    def __init__(self, app):
        self.app = app
        self.user = uuid.uuid4().hex[:12]
        self.me = fs.Citizen("telegram", self.user, self.user)
        self.last: list = []  # the buttons of the last replies
        self.seen: list[str] = []  # every payload ever shown
        self.n = 0

    def send(self, text: str = "", payload: str = "", attachments=()) -> list[Reply]:
        self.n += 1
        msg = Incoming("telegram", self.user, self.user, text=text, payload=payload,
                       message_id=f"p:{self.user}:{self.n}", attachments=tuple(attachments))  # fmt: skip
        replies = self.app.conversations.handle_sync(msg)  # an exception fails the test
        assert replies, f"no answer to {msg}"
        for r in replies:
            assert r.text.strip() and SORRY not in r.text
            for b in r.buttons:
                assert b.url or (PAYLOAD.fullmatch(b.payload) and len(b.payload.encode()) <= 64), b
        buttons = [b for r in replies for b in r.buttons if b.payload]
        if buttons or not any(r.replace for r in replies):
            self.last = buttons
        self.seen += [b.payload for b in buttons]
        return replies

    def file(self) -> None:
        consent = fs.record_consent(self.app.factory, self.me)
        fs.submit(self.app.factory, draft(), self.me, consent, data_dir=self.app.settings.data_dir)

    def staff(self, action: str) -> None:
        mine = fs.my_items(self.app.factory, self.me)
        if not mine:
            return
        code = mine[-1].code
        try:
            if action == "claim":
                fs.claim(self.app.factory, code, STAFF)
            elif action == "ask_info":
                fs.ask_info(self.app.factory, code, STAFF, "Bạn cho biết số giấy hẹn.")
            elif action == "answer":
                fs.answer(self.app.factory, code, STAFF, "Phường đã trả kết quả.")
            elif action == "publish":
                fs.publish(self.app.factory, code, STAFF)
        except fs.FeedbackError:
            pass  # not allowed from the item's state: staff could not do it either


actions = st.sampled_from(
    ["command", "command", "button", "button", "button", "label", "label", "text", "text", "text", "random_text",
     "stale", "forged", "file", "media", "staff", "staff", "submit"]
)  # fmt: skip


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_no_turn_ever_breaks(papp, data):
    run = Run(papp)
    if data.draw(st.booleans(), label="filed"):  # a citizen who has sent feedback before: staff may act on it
        run.file()
    run.send("/start")
    for _ in range(data.draw(st.integers(1, STEPS), label="steps")):
        action = data.draw(actions, label="action")
        if action == "command":
            name = data.draw(st.sampled_from(COMMAND_NAMES), label="command")
            run.send("/" + name + data.draw(st.sampled_from(ARGUMENTS), label="argument"))
        elif action == "button" and run.last:
            run.send(payload=data.draw(st.sampled_from(run.last), label="button").payload)
        elif action == "label" and run.last:
            label = data.draw(st.sampled_from(run.last), label="label").label
            run.send(data.draw(st.sampled_from([label, label.lower(), f" {label}. ", label.upper()]), label="typed"))
        elif action == "text":
            run.send(data.draw(st.sampled_from(TEXTS), label="text"))
        elif action == "random_text":
            run.send(data.draw(st.text(max_size=60), label="random"))
        elif action == "stale" and run.seen:
            run.send(payload=data.draw(st.sampled_from(run.seen), label="stale"))
        elif action == "forged":
            run.send(payload=data.draw(st.sampled_from(FORGED), label="forged"))
        elif action == "file":
            kind = data.draw(st.sampled_from(["photo", "document"]), label="kind")
            caption = data.draw(st.sampled_from(["", "ảnh giấy hẹn"]), label="caption")
            run.send(caption, attachments=[Attachment(kind, "f1", "anh.png", len(PNG), data=PNG)])
        elif action == "media":
            run.send(attachments=[Attachment(data.draw(st.sampled_from(["sticker", "voice", "location"])))])
        elif action == "staff":
            run.staff(data.draw(st.sampled_from(["claim", "ask_info", "ask_info", "answer", "publish"]), label="staff"))
        elif action == "submit":
            run.file()
