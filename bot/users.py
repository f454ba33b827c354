"""Staff and admin accounts. Passwords are hashed with Argon2id (argon2-cffi)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
ROLES = ("staff", "admin")
MIN_PASSWORD = 10
_hasher = PasswordHasher()


class UserError(ValueError):
    pass


def add_user(factory: sessionmaker, username: str, password: str, role: str) -> int:
    if not re.fullmatch(r"[a-z0-9._-]{3,64}", username or ""):
        raise UserError("username: 3-64 characters of a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    try:
        with factory.begin() as s:
            return s.execute(
                insert(users).values(
                    username=username, password_hash=_hasher.hash(password), role=role, created_at=datetime.now(UTC)
                )
            ).inserted_primary_key[0]
    except IntegrityError:
        raise UserError(f"username: {username!r} exists already") from None


def verify(factory: sessionmaker, username: str, password: str) -> str | None:
    """The user's role when the password is right, else None."""
    with factory() as s:
        row = s.execute(select(users.c.password_hash, users.c.role).where(users.c.username == username)).first()
    if row is None:
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except VerifyMismatchError:
        return None
    return row.role
