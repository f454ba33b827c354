"""Attachments: photos and PDF only, at most 10 MB each, stored under DATA_DIR with their SHA-256.

The type is read from the file's first bytes, not from its name or the type a client claims. Every file
is stored under a random name of its own, never shared: two citizens who send the same photo have two
files, so one's erasure cannot remove the other's. A file is written to a temporary name, flushed and
renamed, so a stored file is complete; a failed write (a full disk) leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from feedback.validate import InvalidField, num

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_ITEM = 5
SUBDIR = "feedback"
TYPES = {  # content type: extension
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
}
NAME_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".pdf"}
ALLOWED_TEXT = "ảnh (JPG, PNG, WEBP, HEIC) hoặc tệp PDF"
NOT_SAVED = "Hệ thống chưa lưu được tệp lúc này. Bạn vui lòng gửi lại sau ít phút, hoặc bấm “Bỏ qua”."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to DATA_DIR, with forward slashes
    content_type: str
    size: int
    sha256: str
    filename: str | None = None


def sniff(head: bytes) -> str | None:
    """The content type of a photo or PDF from its first bytes, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"hevc"):
        return "image/heic"
    if head.lstrip()[:5] == b"%PDF-":
        return "application/pdf"
    return None


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".replace(".", ",") + " MB"


def check(filename: str | None, size: int | None) -> None:
    """Refuse before downloading when the channel tells the name and size (Telegram does)."""
    name = (filename or "").strip()
    ext = PurePosixPath(name.lower()).suffix
    if name and ext not in NAME_EXTENSIONS:
        raise InvalidField("attachment", f"Chỉ nhận {ALLOWED_TEXT}; tệp “{name[:60]}” không được nhận.")
    if size is not None:
        if size <= 0:
            raise InvalidField("attachment", "Tệp rỗng, hãy gửi lại.")
        if size > MAX_BYTES:
            raise InvalidField(
                "attachment", f"Tệp quá lớn ({_mb(size)}). Mỗi tệp tối đa {num(MAX_BYTES // 1024 // 1024)} MB."
            )


def save(data_dir: str | Path, data: bytes, filename: str | None = None) -> StoredFile:
    """Check and store one file; InvalidField (Vietnamese reason) when it is refused."""
    check(filename, len(data))
    content_type = sniff(data[:16])
    if content_type is None:
        shown = f"tệp “{filename[:60]}”" if filename else "tệp này"
        raise InvalidField("attachment", f"Chỉ nhận {ALLOWED_TEXT}; {shown} không phải ảnh hoặc PDF.")
    digest = hashlib.sha256(data).hexdigest()
    name = secrets.token_hex(16)
    rel = PurePosixPath(SUBDIR, name[:2], name + TYPES[content_type])
    target = Path(data_dir, *rel.parts)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log.warning("attachment not saved: %s", e.strerror or type(e).__name__)
        raise InvalidField("attachment", NOT_SAVED) from None
    return StoredFile(str(rel), content_type, len(data), digest, (filename or "").strip()[:200] or None)


def verify(data_dir: str | Path, stored: StoredFile) -> None:
    """The file is on disk, under DATA_DIR, with the recorded size and checksum."""
    rel = PurePosixPath(stored.path)
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] != (SUBDIR,):
        raise InvalidField("attachment", "Tệp đính kèm không hợp lệ, hãy gửi lại.")
    path = Path(data_dir, *rel.parts)
    try:
        data = path.read_bytes()
    except OSError:
        raise InvalidField("attachment", "Không tìm thấy tệp đính kèm, hãy gửi lại.") from None
    if len(data) != stored.size or hashlib.sha256(data).hexdigest() != stored.sha256:
        raise InvalidField("attachment", "Tệp đính kèm bị hỏng, hãy gửi lại.")


def remove(data_dir: str | Path, rel_path: str) -> None:
    rel = PurePosixPath(rel_path)
    if rel.parts[:1] == (SUBDIR,) and ".." not in rel.parts:
        Path(data_dir, *rel.parts).unlink(missing_ok=True)


def on_disk(data_dir: str | Path) -> Iterator[tuple[str, float]]:
    """Every file under the attachments folder (temporary ones included): its path as stored, its mtime."""
    root = Path(data_dir, SUBDIR)
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        if path.is_file():
            with contextlib.suppress(OSError):
                yield path.relative_to(data_dir).as_posix(), path.stat().st_mtime
