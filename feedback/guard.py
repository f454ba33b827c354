"""Guessing limits for lookups from another chat: a tracking code and the last 4 digits of the sender's phone.

Without limits the 10,000 combinations of 4 digits fall in minutes. Every attempt is recorded, and before
one is read:
- a code with `PER_CODE_HOUR` failed guesses in the last hour, or `PER_CODE_DAY` in the last day, is locked
  for lookups from other chats (the chat that filed it is never affected). Codes that do not exist count
  the same way, so a lock says nothing about whether a code exists;
- a chat with `PER_CHAT_HOUR` failed guesses in the last hour is locked until the oldest of them is an hour
  old; from its third failure on it waits 2^(n-2) seconds (n: its failures in the last hour) before the
  next guess is read (two honest typing mistakes cost nothing).
When a code or a chat becomes locked, staff are alerted: a WARNING log line, and the staff group when one
is configured. On PostgreSQL the guesses at one code are serialised (an advisory lock), so parallel chats
cannot slip extra guesses past the count; SQLite has one writer anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from feedback import workdays
from feedback.model import Citizen, CitizenError
from feedback.outbox import enqueue, has_key, utcnow
from feedback.records import utc
from feedback.tables import lookups

log = logging.getLogger(__name__)

PER_CODE_HOUR = 5
PER_CODE_DAY = 20
PER_CHAT_HOUR = 10
FREE_MISTAKES = 2  # failures a chat may make before each next guess waits
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
KEEP = timedelta(days=2)


class Locked(CitizenError):
    def __init__(self, until: datetime):
        at = utc(until).astimezone(workdays.VN_TZ)
        super().__init__(
            "Đã nhập sai quá nhiều lần. Để bảo vệ thông tin người gửi, việc tra cứu từ tài khoản khác tạm khóa "
            f"đến {at:%H:%M} ngày {at:%d/%m/%Y}. Nếu bạn là người gửi, hãy tra cứu từ tài khoản đã gửi."
        )


class Wait(CitizenError):
    def __init__(self, seconds: int):
        super().__init__(f"Bạn vừa nhập chưa đúng. Vui lòng đợi {seconds} giây rồi thử lại.")


def _failures(s: Session, since: datetime, *where) -> list[datetime]:
    q = select(lookups.c.at).where(lookups.c.ok.is_(False), lookups.c.at >= since, *where).order_by(lookups.c.at)
    return [utc(t) for t in s.scalars(q)]


def _of(citizen: Citizen):
    return (lookups.c.channel == citizen.channel, lookups.c.channel_user_id == str(citizen.user_id))


def check(s: Session, code: str, citizen: Citizen, now: datetime) -> None:
    """Raise Locked or Wait when this guess may not be read now."""
    if s.bind.dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"feedback-lookup:{code}"})
    day = _failures(s, now - DAY, lookups.c.code == code)
    hour = [t for t in day if t >= now - HOUR]
    if len(hour) >= PER_CODE_HOUR:
        raise Locked(hour[-PER_CODE_HOUR] + HOUR)
    if len(day) >= PER_CODE_DAY:
        raise Locked(day[-PER_CODE_DAY] + DAY)
    mine = _failures(s, now - HOUR, *_of(citizen))
    if len(mine) >= PER_CHAT_HOUR:
        raise Locked(mine[-PER_CHAT_HOUR] + HOUR)
    if len(mine) >= FREE_MISTAKES:
        ready = mine[-1] + timedelta(seconds=2 ** (len(mine) - FREE_MISTAKES + 1))
        if ready > now:
            raise Wait(max(1, round((ready - now).total_seconds())))


def record(s: Session, code: str, citizen: Citizen, ok: bool, now: datetime, staff_chat: str | None) -> None:
    """Keep the attempt; a failure that locks the code or the chat alerts staff."""
    s.execute(
        insert(lookups).values(at=now, channel=citizen.channel, channel_user_id=str(citizen.user_id), code=code, ok=ok)
    )
    if ok:
        return
    code_fails = len(_failures(s, now - HOUR, lookups.c.code == code))
    chat_fails = len(_failures(s, now - HOUR, *_of(citizen)))
    if code_fails == PER_CODE_HOUR:
        log.warning("feedback lookup: code %s locked after %d failed guesses in an hour", code, code_fails)
        _alert(s, staff_chat, f"{code}:lookup-locked:{now:%Y%m%d%H}", now, LOCKED_CODE.format(code=code, n=code_fails))
    if chat_fails == PER_CHAT_HOUR:
        log.warning("feedback lookup: a %s chat locked after %d failed guesses in an hour", citizen.channel, chat_fails)
        key = f"lookup-chat:{citizen.channel}:{citizen.user_id}:{now:%Y%m%d%H}"
        _alert(s, staff_chat, key, now, LOCKED_CHAT.format(channel=citizen.channel, n=chat_fails))


LOCKED_CODE = (
    "Cảnh báo bảo mật: mã {code} bị tra cứu với 4 số cuối điện thoại sai {n} lần trong một giờ từ tài khoản khác "
    "tài khoản đã gửi. Việc tra cứu mã này từ tài khoản khác đã tạm khóa."
)
LOCKED_CHAT = (
    "Cảnh báo bảo mật: một tài khoản {channel} đã nhập sai {n} lần trong một giờ khi tra cứu phản ánh, kiến nghị "
    "của người khác. Tài khoản này tạm bị khóa tra cứu."
)


def _alert(s: Session, staff_chat: str | None, key: str, now: datetime, message: str) -> None:
    if staff_chat and not has_key(s, key):
        enqueue(s, channel="telegram", chat_id=staff_chat, text=message, key=key, now=now)


def prune(factory: sessionmaker, now: datetime | None = None) -> int:
    """Forget attempts older than the longest window needs."""
    with factory.begin() as s:
        return s.execute(delete(lookups).where(lookups.c.at < (now or utcnow()) - KEEP)).rowcount

