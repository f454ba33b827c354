"""Files sent to a feedback draft, through the chat (python-telegram-bot against the fake Bot API), on
SQLite and PostgreSQL: taken only after consent, owned by their sender, gone with the draft (cancelled,
cleared, erased, abandoned), within quotas, and never half-written."""

import itertools
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from fake_telegram import Chat
from sqlalchemy import select, update

from feedback import attachments as files
from feedback import service as fs
from feedback import uploads
from feedback.outbox import utcnow
from feedback.tables import attachments, items
from feedback.tables import uploads as uploads_table
from handlers import pakn
from handlers.store import conversations

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300
PDF = b"%PDF-1.4\n" + b"1" * 300
CONTENT = "Bộ phận một cửa xã hẹn trả kết quả chứng thực bản sao sau 3 ngày nhưng đã 2 tuần vẫn chưa trả."
_users = itertools.count(9_000_001)
_files = itertools.count(1)








def person(api) -> Chat:
    return Chat(api, next(_users))


async def send_file(chat: Chat, data: bytes, name: str = "anh.png") -> dict:
    file_id = f"f{next(_files)}"
    chat.api.files[file_id] = data
    doc = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": name, "file_size": len(data)}
    return await chat.say("", document=doc)


async def to_files_step(chat: Chat) -> None:
    await chat.say("/phananh")
    await chat.press("Phản ánh")
    await chat.say(CONTENT)
    await chat.press("Bỏ qua")  # procedure
    await chat.press("Bỏ qua")  # agency
    await chat.press("Đồng ý")


def pending(app, chat: Chat) -> list[Path]:
    """The files the chat's uploads point to."""
    with app.factory() as s:
        paths = s.scalars(select(uploads_table.c.path).where(uploads_table.c.channel_user_id == str(chat.user["id"])))
        return [Path(app.settings.data_dir, p) for p in paths]


async def test_no_file_is_taken_before_consent(any_app, api, any_channel):
    citizen = person(api)
    await citizen.say("/phananh")
    await citizen.press("Phản ánh")
    refused = await send_file(citizen, PNG)
    assert refused["text"].startswith(pakn.FILES_ONLY_HERE.strip())
    assert api.downloads == [] and pending(any_app, citizen) == []


async def test_cancelling_or_clearing_the_draft_removes_its_files(any_app, api, any_channel):
    citizen = person(api)
    await to_files_step(citizen)
    await send_file(citizen, PNG)
    got = await send_file(citizen, PDF, "giay-hen.pdf")
    assert got["text"] == pakn.FILE_RECEIVED.format(n=2, max=files.MAX_PER_ITEM)
    stored = pending(any_app, citizen)
    assert len(stored) == 2 and all(p.exists() for p in stored)
    await citizen.press("Bỏ các tệp đã gửi")
    assert pending(any_app, citizen) == [] and not any(p.exists() for p in stored)
    await send_file(citizen, PNG)
    [again] = pending(any_app, citizen)
    await citizen.say("/huy")
    assert pending(any_app, citizen) == [] and not again.exists()


async def test_erasure_removes_the_draft_files_and_says_so(any_app, api, any_channel):
    citizen = person(api)
    await to_files_step(citizen)
    await send_file(citizen, PNG)
    [photo] = pending(any_app, citizen)
    ask = await citizen.say("/xoadulieu")
    assert ask["text"] == pakn.ERASE_ASK  # not "nothing is stored" while a photo is kept
    done = await citizen.press("Xóa dữ liệu của tôi", ask)
    assert pakn.ERASED_DRAFT in done["text"]
    assert pending(any_app, citizen) == [] and not photo.exists()
    assert (await citizen.say("/xoadulieu"))["text"] == pakn.ERASE_NOTHING_LEFT  # the consent, withdrawn


async def test_one_citizens_erasure_never_touches_anothers_copy_of_a_file(any_app, api, any_channel):
    alice, bob = person(api), person(api)
    for c in (alice, bob):
        await to_files_step(c)
        await send_file(c, PNG)  # the very same photo
    [a], [b] = pending(any_app, alice), pending(any_app, bob)
    assert a != b
    await alice.press("Xóa dữ liệu của tôi", await alice.say("/xoadulieu"))
    assert not a.exists() and b.exists()
    await bob.press("Xong")
    await bob.say("Trần Văn Nam")
    await bob.say("thôn 3, xã Phú Mỹ, tỉnh Bình Định")
    await bob.say("0987654321")
    await bob.press("Gửi")
    [status] = fs.my_items(any_app.factory, fs.Citizen("telegram", str(bob.user["id"]), ""))
    with any_app.factory() as s:
        [path] = s.scalars(select(attachments.c.path).join(items).where(items.c.code == status.code))
    assert Path(any_app.settings.data_dir, path).read_bytes() == PNG


async def test_abandoned_drafts_and_orphan_files_are_swept(any_app, api, any_channel):
    gone, active = person(api), person(api)
    for c in (gone, active):
        await to_files_step(c)
        await send_file(c, PNG)
    [left], [kept] = pending(any_app, gone), pending(any_app, active)
    day_ago = time.time() - 25 * 3600
    with any_app.factory.begin() as s:  # the first citizen went silent a day ago: the draft expired
        s.execute(
            update(conversations)
            .where(conversations.c.user_id == str(gone.user["id"]))
            .values(updated_at=utcnow() - timedelta(hours=25))
        )
        s.execute(update(uploads_table).values(created_at=utcnow() - timedelta(hours=25)))
    orphan = Path(any_app.settings.data_dir, files.SUBDIR, "ab", ".ab12.png.tmp")  # a crash mid-write
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"partial")
    os.utime(orphan, (day_ago, day_ago))
    fresh = orphan.with_name("cd34.png")  # written a moment ago: its turn may still be running
    fresh.write_bytes(PNG)
    any_app.upkeep()
    assert not left.exists() and pending(any_app, gone) == []
    assert kept.exists() and pending(any_app, active) == [kept]
    assert not orphan.exists() and fresh.exists()
    fresh.unlink()


async def test_quotas_per_citizen_and_for_everyone(any_app, api, any_channel, monkeypatch):
    citizen = person(api)
    await to_files_step(citizen)
    monkeypatch.setattr(uploads, "PER_USER_BYTES", len(PNG) + 10)
    assert (await send_file(citizen, PNG))["text"] == pakn.FILE_RECEIVED.format(n=1, max=files.MAX_PER_ITEM)
    refused = await send_file(citizen, PDF, "a.pdf")
    assert refused["text"].startswith(uploads.USER_FULL.format(mb=0)[:40])
    monkeypatch.setattr(uploads, "PER_USER_BYTES", 10 * len(PNG))
    monkeypatch.setattr(uploads, "TOTAL_BYTES", 0)
    assert (await send_file(citizen, PDF, "b.pdf"))["text"].startswith(files.NOT_SAVED)
    assert len(pending(any_app, citizen)) == 1


def test_a_full_disk_leaves_no_partial_file(tmp_path):
    """A write that fails half-way (here the process may write only 100 bytes per file, as on a full disk)
    is refused with a polite reason and leaves nothing on disk."""
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parents[1])!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
from feedback import attachments
from feedback.validate import InvalidField
try:
    attachments.save({str(tmp_path)!r}, {PNG!r} * 4, "anh.png")
except InvalidField as e:
    print(e.reason)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == files.NOT_SAVED, out.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
