"""Helpers for the feedback tests: a migrated database, a valid draft, a filed item, a fake channel."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot import db
from feedback import service as fs
from feedback import uploads
from feedback.tables import audit, items, outbox

# Monday 2026-11-02, 09:00 in Vietnam
MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
CONTENT = (
    "Ngày 5/10/2026 tôi nộp hồ sơ đăng ký khai sinh cho con tại bộ phận một cửa UBND phường Hà Đông. "
    "Giấy hẹn ghi 3 ngày nhưng đã hơn 2 tuần vẫn chưa có kết quả, cán bộ yêu cầu nộp thêm giấy xác nhận "
    "cư trú dù quy định không có giấy này."
)
ALICE = fs.Citizen("telegram", "1001", "1001")
BOB = fs.Citizen("telegram", "2002", "2002")


def migrated(url: str):
    engine = db.make_engine(url)
    db.upgrade(engine)
    return engine, db.session_factory(engine)


def draft(**over) -> fs.Draft:
    values = {
        "kind": "phan_anh",
        "content": CONTENT,
        "name": "Nguyễn Văn Bình",
        "address": "số 12 ngõ 45 phố Lê Lợi, phường Hà Đông, Hà Nội",
        "phone": "0912 345 678",
        "email": None,
        "procedure_code": "1.001193",
        "field": "Hộ tịch",
        "agency": "UBND phường Hà Đông",
    }
    values.update(over)
    return fs.Draft(**values)


def file_item(factory, citizen=ALICE, now=MONDAY, staff_chat=None, data_dir=None, **over) -> fs.Receipt:
    consent = fs.record_consent(factory, citizen, now=now)
    return fs.submit(factory, draft(**over), citizen, consent, data_dir=data_dir, now=now, staff_chat=staff_chat)


def upload(factory, data_dir, data: bytes, name: str | None = None, citizen=ALICE) -> int:
    """A file sent by a citizen to their draft: the upload id a draft keeps."""
    return uploads.store(factory, data_dir, citizen, data, name).id


def row(factory, code: str):
    with factory() as s:
        return s.execute(select(items).where(items.c.code == code)).one()


def counts(factory) -> tuple[int, int, int]:
    """(items, audit entries, outbox messages)"""
    with factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (items, audit, outbox))


def outbox_rows(factory, code: str | None = None):
    with factory() as s:
        q = select(outbox).order_by(outbox.c.id)
        if code:
            q = q.join(items, items.c.id == outbox.c.item_id).where(items.c.code == code)
        return s.execute(q).all()


def audit_rows(factory, code: str):
    with factory() as s:
        return s.execute(
            select(audit).join(items, items.c.id == audit.c.item_id).where(items.c.code == code).order_by(audit.c.id)
        ).all()


async def feedback_up_to_files(citizen) -> None:
    """The feedback dialog up to the files, in a chat (a test's citizen on any channel: `say`, `press`)."""
    await citizen.say("/phananh")
    await citizen.press("Phản ánh")
    await citizen.say(CONTENT)
    await citizen.press("Bỏ qua")  # no procedure
    await citizen.say("UBND phường Hà Đông")
    await citizen.press("Đồng ý")  # before anything personal, files included


async def feedback_sender(citizen) -> dict:
    """The sender's name, address and phone, once the files are done; the summary shown before sending."""
    await citizen.say("Nguyễn Văn Bình")
    await citizen.say("số 12 ngõ 45 phố Lê Lợi, Hà Đông, Hà Nội")
    return await citizen.say("0912 345 678")


class FakeChannel:
    """An async sender that records what it sent and fails the first `fail` calls."""

    def __init__(self, fail: int = 0, error: type[Exception] = ConnectionError):
        self.fail = fail
        self.error = error
        self.calls = 0
        self.sent: list[tuple[str, str, str]] = []
        self.buttons: list[list[tuple[str, str]]] = []  # the buttons of each message sent

    async def __call__(self, msg) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise self.error("channel down")
        self.sent.append((msg.channel, msg.chat_id, msg.text))
        self.buttons.append(list(msg.buttons))
