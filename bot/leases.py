"""Named leases in the database, shared by every process on it: one holder at a time, for a while (who long
polls Telegram; later, who refreshes a channel's token). A holder renews before the lease ends; when it stops or
dies, another process takes the lease once it has ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

metadata = MetaData()

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)


def acquire(factory: sessionmaker, name: str, holder: str, duration: timedelta) -> bool:
    """Take or renew the lease `name` for `duration`; False while another holder's lease runs."""
    now = datetime.now(UTC)
    with factory.begin() as s:
        n = s.execute(
            update(leases)
            .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.until <= now))
            .values(holder=holder, until=now + duration)
        ).rowcount
        if n == 1:
            return True
    try:
        with factory.begin() as s:
            s.execute(insert(leases).values(name=name, holder=holder, until=now + duration))
        return True
    except IntegrityError:  # another holder has it
        return False


def release(factory: sessionmaker, name: str, holder: str) -> None:
    with factory.begin() as s:
        s.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
