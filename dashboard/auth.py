"""Who is using the dashboard: server-side sessions in our own database, and login throttling.

A session is a row keyed by the SHA-256 of a random token the browser keeps in an HttpOnly cookie, so any
process can serve any request, logout ends the session on the server, and a stolen database holds no usable
token. Sessions end after `idle` without use or `lifetime` after login; disabling an account ends its sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import sessionmaker

from bot import users
from bot.users import Account
from dashboard.tables import login_attempts, sessions, staff_audit
from feedback.outbox import utcnow
from feedback.records import utc

TOUCH_EVERY = timedelta(seconds=60)  # how often a used session's last-seen time is written
# Login throttling: failures counted over WINDOW; past a limit the name (or the address) is locked for WINDOW.
WINDOW = timedelta(minutes=15)
USER_FAILURES = 5
IP_FAILURES = 30


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StaffSession:
    account: Account
    csrf: str
    token_hash: str


class Sessions:
    def __init__(self, factory: sessionmaker, idle: timedelta, lifetime: timedelta):
        self.factory = factory
        self.idle = idle
        self.lifetime = lifetime

    def create(self, account: Account, now: datetime | None = None) -> tuple[str, StaffSession]:
        """A new session (a new token: a login never reuses the one the browser had)."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.factory.begin() as s:
            s.execute(
                insert(sessions).values(
                    token_hash=token_hash(token), user_id=account.id, csrf=csrf, created_at=now, seen_at=now
                )
            )
        return token, StaffSession(account, csrf, token_hash(token))

    def load(self, token: str | None, now: datetime | None = None) -> StaffSession | None:
        """The live session of this token (its account active), else None; an expired one is deleted."""
        if not token or len(token) > 100:
            return None
        now = now or utcnow()
        h = token_hash(token)
        with self.factory() as s:
            row = s.execute(select(sessions).where(sessions.c.token_hash == h)).first()
        if row is None:
            return None
        seen, created = utc(row.seen_at), utc(row.created_at)
        account = users.get(self.factory, row.user_id)
        if now - seen > self.idle or now - created > self.lifetime or account is None or not account.active:
            self.end(token)
            return None
        if now - seen > TOUCH_EVERY:
            with self.factory.begin() as s:
                s.execute(update(sessions).where(sessions.c.token_hash == h).values(seen_at=now))
        return StaffSession(account, row.csrf, h)

    def end(self, token: str) -> None:
        with self.factory.begin() as s:
            s.execute(delete(sessions).where(sessions.c.token_hash == token_hash(token)))

    def end_all(self, user_id: int) -> None:
        with self.factory.begin() as s:
            s.execute(delete(sessions).where(sessions.c.user_id == user_id))

    def prune(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        with self.factory.begin() as s:
            stale = or_(sessions.c.seen_at < now - self.idle, sessions.c.created_at < now - self.lifetime)
            return s.execute(delete(sessions).where(stale)).rowcount


class Throttle:
    """Failed logins per username and per client address; a locked name or address may not try at all."""

    def __init__(self, factory: sessionmaker):
        self.factory = factory

    def locked(self, username: str, ip: str, now: datetime | None = None) -> bool:
        since = (now or utcnow()) - WINDOW
        failed = and_(login_attempts.c.ok.is_(False), login_attempts.c.at >= since)
        with self.factory() as s:
            by_user = s.scalar(select(func.count()).where(failed, login_attempts.c.username == username[:64]))
            by_ip = s.scalar(select(func.count()).where(failed, login_attempts.c.ip == ip[:64]))
        return by_user >= USER_FAILURES or by_ip >= IP_FAILURES

    def record(self, username: str, ip: str, ok: bool, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.factory.begin() as s:
            s.execute(insert(login_attempts).values(at=now, username=username[:64], ip=ip[:64], ok=ok))
            if ok:  # a right password clears the name's failures
                mine = and_(login_attempts.c.username == username[:64], login_attempts.c.ok.is_(False))
                s.execute(delete(login_attempts).where(mine))

    def prune(self, now: datetime | None = None) -> None:
        with self.factory.begin() as s:
            s.execute(delete(login_attempts).where(login_attempts.c.at < (now or utcnow()) - 2 * WINDOW))


def audit(factory: sessionmaker, actor: str, action: str, target: str | None = None, detail: str | None = None) -> None:
    """What staff did outside an item (an item's actions are in its own audit log)."""
    with factory.begin() as s:
        s.execute(insert(staff_audit).values(at=utcnow(), actor=actor, action=action, target=target, detail=detail))
