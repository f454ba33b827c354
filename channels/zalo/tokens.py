"""The OA's access token, kept in the database and refreshed under a lease shared by every process.

A Zalo refresh token works once: whoever refreshes must store the new pair before anyone else refreshes, or the
OA is locked out until an admin issues a new pair. So the pair in use lives in `zalo_tokens`, seeded from
ZALO_ACCESS_TOKEN and ZALO_REFRESH_TOKEN the first time (and again when the operator sets a new pair there: the
row remembers a digest of the refresh token it was seeded from). A refresh takes the lease `zalo-token:<app id>`
(bot/leases.py) and an in-process lock, then reads the pair again: when another process or task has refreshed
meanwhile, its new token is used and nothing is refreshed. An access token about to end is refreshed before use;
one Zalo calls expired or invalid (-216, -124) is refreshed and the call made once more (`call`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot import inbox, leases
from channels.zalo.client import Pair, ZaloClient, ZaloError, ZaloUnavailable
from channels.zalo.tables import tokens
from handlers.store import aware

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({-216, -124})  # access token invalid, access token expired
LEASE = timedelta(seconds=60)  # longer than a refresh may take (the client's timeout is 30 s)
EARLY = timedelta(minutes=5)  # an access token this close to its end is refreshed before use
WAIT_STEP, WAIT_MAX = 0.2, 45.0  # while another process refreshes
T = TypeVar("T")


class MissingTokens(Exception):
    """Neither the database nor the settings hold a token pair."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, factory: sessionmaker, client: ZaloClient, first_access: str, first_refresh: str):
        self.factory = factory
        self.client = client
        self.app_id = client.app_id
        self.first = Pair(first_access, first_refresh, 0)
        self._lock = asyncio.Lock()  # one refresh at a time in this process (the lease is per process)

    # ---- the stored pair -----------------------------------------------------------------------

    def _row(self):
        with self.factory() as s:
            return s.execute(select(tokens).where(tokens.c.app_id == self.app_id)).one_or_none()

    def _load(self):
        """The pair in use, seeded from the settings when there is none or the settings carry a new one."""
        row = self._row()
        seed = _digest(self.first.refresh_token) if self.first.access_token and self.first.refresh_token else ""
        if row is not None and (not seed or row.seed == seed):
            return row
        if not seed:
            raise MissingTokens("set ZALO_ACCESS_TOKEN and ZALO_REFRESH_TOKEN: the database holds no token pair")
        first = self.first
        values = {"access_token": first.access_token, "refresh_token": first.refresh_token, "expires_at": None}
        values |= {"seed": seed, "updated_at": inbox.utcnow()}
        try:
            with self.factory.begin() as s:
                if row is None:
                    s.execute(insert(tokens).values(app_id=self.app_id, **values))
                else:
                    mine = (tokens.c.app_id == self.app_id) & (tokens.c.seed == row.seed)
                    s.execute(update(tokens).where(mine).values(**values))
            log.info("zalo token pair taken from the settings app=%s", self.app_id)
        except IntegrityError:  # another process seeded it first
            pass
        return self._row()

    def _save(self, pair: Pair) -> None:
        now = inbox.utcnow()
        expires = now + timedelta(seconds=pair.expires_in) if pair.expires_in else None
        values = {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "expires_at": expires}
        with self.factory.begin() as s:
            s.execute(update(tokens).where(tokens.c.app_id == self.app_id).values(**values, updated_at=now))

    # ---- use -----------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The access token to call with: the stored one, refreshed first when it is about to end."""
        row = await asyncio.to_thread(self._load)
        if row.expires_at is not None and aware(row.expires_at) - EARLY <= inbox.utcnow():
            return await self.refresh(row.access_token)
        return row.access_token

    async def refresh(self, stale: str) -> str:
        """An access token in place of `stale`: refreshed here under the lease, or the one another process or
        task stored meanwhile."""
        name = f"zalo-token:{self.app_id}"
        async with self._lock:
            deadline = time.monotonic() + WAIT_MAX
            while not await asyncio.to_thread(leases.acquire, self.factory, name, inbox.HOLDER, LEASE):
                row = await asyncio.to_thread(self._row)
                if row is not None and row.access_token != stale:
                    return row.access_token
                if time.monotonic() > deadline:
                    raise ZaloUnavailable("another process holds the token refresh lease")
                await asyncio.sleep(WAIT_STEP)
            try:
                row = await asyncio.to_thread(self._load)
                if row.access_token != stale:  # refreshed meanwhile
                    return row.access_token
                pair = await self.client.refresh(row.refresh_token)
                await asyncio.to_thread(self._save, pair)
                log.info("zalo token refreshed app=%s expires_in=%d", self.app_id, pair.expires_in)
                return pair.access_token
            finally:
                await asyncio.to_thread(leases.release, self.factory, name, inbox.HOLDER)

    async def call(self, request: Callable[[str], Awaitable[T]]) -> T:
        """`request(access_token)`; when Zalo calls the token expired or invalid, once more with a fresh one."""
        token = await self.access_token()
        try:
            return await request(token)
        except ZaloError as e:
            if e.code not in TOKEN_ERRORS:
                raise
            log.info("zalo token refused (%d), refreshing", e.code)
        return await request(await self.refresh(token))
