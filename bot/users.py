"""Staff accounts: roles, the feedback queues a staff member works on, passwords (Argon2id, argon2-cffi).

Roles: `staff` works on the queues they belong to; `supervisor` sees every queue, assigns and reads reports;
`admin` may do everything, accounts included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from feedback.tables import queues

metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
)
# Which feedback queues a staff account works on (by queue id; feedback.tables.queues).
user_queues = Table(
    "user_queues",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", Integer, primary_key=True),
)
ROLES = ("staff", "supervisor", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class UserError(ValueError):
    """A refused account change: the message is English (the CLI), `vi` says the same in Vietnamese (the
    dashboard)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    active: bool
    queue_ids: frozenset[int]
    created_at: datetime | None = None

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def all_queues(self) -> bool:
        """Supervisors and admins work on every queue."""
        return self.at_least("supervisor")

    def may_see_queue(self, queue_id: int) -> bool:
        return self.all_queues or queue_id in self.queue_ids


def check_username(username: str) -> str:
    if not re.fullmatch(r"[a-z0-9._-]{3,64}", username or "") or username in ("citizen", "system"):
        raise UserError(
            "username: 3-64 characters of a-z, 0-9, '.', '_' or '-'",
            "Tên đăng nhập: 3–64 ký tự gồm chữ thường không dấu a–z, số 0–9, dấu chấm, gạch dưới hoặc gạch ngang.",
        )
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}", "Vai trò không hợp lệ.")
    return role


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise UserError(
            f"password: at least {MIN_PASSWORD} characters", f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự."
        )
    if len(password) > 1024:
        raise UserError("password: at most 1024 characters", "Mật khẩu dài quá 1024 ký tự.")
    return password


def _queue_ids(s: Session, wanted: list[str | int]) -> list[int]:
    """Queue ids of queues given by name (the CLI) or by id (the dashboard); an unknown one is refused."""
    ids = []
    for q in wanted:
        qid = s.scalar(select(queues.c.id).where(queues.c.id == q if isinstance(q, int) else queues.c.name == q))
        if qid is None:
            raise UserError(f"queue: no queue {q!r}", f"Không có hàng đợi “{q}”.")
        ids.append(qid)
    return ids


def add_user(
    factory: sessionmaker, username: str, password: str, role: str, queues: list[str | int] | tuple[str | int, ...] = ()
) -> int:
    """A new account; `queues` by name or id (a staff member sees only those)."""
    check_username(username)
    check_role(role)
    check_password(password)
    try:
        with factory.begin() as s:
            qids = _queue_ids(s, list(queues))
            uid = s.execute(
                insert(users).values(
                    username=username,
                    password_hash=_hasher.hash(password),
                    role=role,
                    created_at=datetime.now(UTC),
                    active=True,
                )
            ).inserted_primary_key[0]
            for qid in qids:
                s.execute(insert(user_queues).values(user_id=uid, queue_id=qid))
            return uid
    except IntegrityError:
        raise UserError(f"username: {username!r} exists already", f"Tên đăng nhập “{username}” đã có.") from None


def _account(s: Session, row) -> Account:
    qids = frozenset(s.scalars(select(user_queues.c.queue_id).where(user_queues.c.user_id == row.id)))
    return Account(row.id, row.username, row.role, bool(row.active), qids, row.created_at)


def get(factory: sessionmaker, user_id: int) -> Account | None:
    with factory() as s:
        row = s.execute(select(users).where(users.c.id == user_id)).first()
        return _account(s, row) if row is not None else None


def by_name(factory: sessionmaker, username: str) -> Account | None:
    with factory() as s:
        row = s.execute(select(users).where(users.c.username == username)).first()
        return _account(s, row) if row is not None else None


def list_accounts(factory: sessionmaker) -> list[Account]:
    with factory() as s:
        return [_account(s, r) for r in s.execute(select(users).order_by(users.c.username))]


def update_account(
    factory: sessionmaker,
    user_id: int,
    role: str | None = None,
    active: bool | None = None,
    queue_ids: list[int] | None = None,
    password: str | None = None,
    actor_id: int | None = None,
) -> None:
    """Change an account. Refused: an actor (`actor_id`) disabling or demoting their own account, and any change
    that would leave no active admin."""
    values: dict = {}
    if role is not None:
        values["role"] = check_role(role)
    if active is not None:
        values["active"] = active
    if password is not None:
        values["password_hash"] = _hasher.hash(check_password(password))
    with factory.begin() as s:
        row = s.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise UserError("no such account", "Không tìm thấy tài khoản này.")
        loses_admin = row.role == "admin" and row.active and (active is False or role not in (None, "admin"))
        if loses_admin and actor_id == user_id:
            raise UserError(
                "you cannot disable or demote your own account",
                "Bạn không thể tự khóa hoặc hạ quyền tài khoản của chính mình.",
            )
        if loses_admin and not _other_admins(s, user_id):
            raise UserError(
                "at least one active admin must remain", "Phải còn ít nhất một tài khoản quản trị đang hoạt động."
            )
        if values:
            s.execute(update(users).where(users.c.id == user_id).values(**values))
        if queue_ids is not None:
            qids = set(_queue_ids(s, list(queue_ids)))
            s.execute(delete(user_queues).where(user_queues.c.user_id == user_id))
            for qid in sorted(qids):
                s.execute(insert(user_queues).values(user_id=user_id, queue_id=qid))


def _other_admins(s: Session, user_id: int) -> int:
    mine = (users.c.role == "admin") & users.c.active.is_(True) & (users.c.id != user_id)
    return s.scalar(select(func.count()).select_from(users).where(mine))


def authenticate(factory: sessionmaker, username: str, password: str) -> Account | None:
    """The active account when the password is right, else None; as slow for an unknown name."""
    with factory() as s:
        row = s.execute(select(users).where(users.c.username == (username or "")[:64])).first()
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, (password or "")[:1024])
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        return _account(s, row)
