"""A thin aiohttp client of the Zalo Official Account API: the few calls the channel makes (no maintained Python
SDK exists). The base URLs come from the settings, so tests point them at tests/fake_zalo.py.

Zalo tells an error in the body, `{"error": -216, "message": "…"}`, with HTTP 200 as often as not: every answer is
read for its `error` whatever the HTTP status (`ZaloError` carries the code). An answer that is not Zalo's JSON (a
proxy's 502 page, a cut connection) is `ZaloUnavailable`: tried again later. The OAuth server answers a refresh
with the new pair and `expires_in`, a number of seconds that may come as a string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=30)  # a send answered late is waited for: recorded once, not repeated
CHUNK = 64 * 1024


class ZaloError(Exception):
    """Zalo refused the call: `code` is the body's `error` (negative)."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(f"{code} {message}".strip()[:200])
        self.code = code


class ZaloUnavailable(Exception):
    """No usable answer from Zalo (not JSON, an HTTP error without Zalo's error body)."""


@dataclass(frozen=True)
class Pair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives; 0 when Zalo did not say


class ZaloClient:
    def __init__(self, api_base_url: str, oauth_base_url: str, app_id: str, app_secret: str):
        self.api = api_base_url.rstrip("/")
        self.oauth = oauth_base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict:
        async with self._http().request(method, url, **kwargs) as r:
            try:
                body = await r.json(content_type=None)
            except ValueError:
                raise ZaloUnavailable(f"HTTP {r.status}, not JSON") from None
            status = r.status
        if not isinstance(body, dict):
            raise ZaloUnavailable(f"HTTP {status}, not an object")
        code = _int(body.get("error"))
        if code:
            text = body.get("message") or body.get("error_description") or body.get("error_name") or ""
            raise ZaloError(code, str(text))
        if status >= 400:
            raise ZaloUnavailable(f"HTTP {status}")
        return body

    async def send(self, access_token: str, body: dict) -> str:
        """POST /v3.0/oa/message/cs (a customer-service message); the message id Zalo gave it."""
        answer = await self._call(
            "POST", f"{self.api}/v3.0/oa/message/cs", json=body, headers={"access_token": access_token}
        )
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        return str(data.get("message_id") or "")

    async def oa_info(self, access_token: str) -> dict:
        """GET /v2.0/oa/getoa: the OA's profile (a check that the API answers and the token works)."""
        answer = await self._call("GET", f"{self.api}/v2.0/oa/getoa", headers={"access_token": access_token})
        return answer.get("data") if isinstance(answer.get("data"), dict) else {}

    async def refresh(self, refresh_token: str) -> Pair:
        """POST /v4/oa/access_token: a new pair for the refresh token (which then works no more)."""
        answer = await self._call(
            "POST",
            f"{self.oauth}/v4/oa/access_token",
            data={"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"},
            headers={"secret_key": self.app_secret},
        )
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise ZaloUnavailable("token refresh answered without a token pair")
        return Pair(access, refresh, max(_int(answer.get("expires_in")), 0))

    async def download(self, url: str, limit: int) -> tuple[bytes, int]:
        """A file a user sent: (its bytes, its size); no bytes when it is larger than `limit` (the size then is
        the one announced, or what was read before stopping)."""
        if not url.startswith(("https://", "http://")):
            raise ZaloUnavailable("not an http(s) file URL")
        async with self._http().get(url) as r:
            if r.status != 200:
                raise ZaloUnavailable(f"file download HTTP {r.status}")
            if r.content_length is not None and r.content_length > limit:
                return b"", r.content_length
            data = bytearray()
            async for chunk in r.content.iter_chunked(CHUNK):
                data += chunk
                if len(data) > limit:
                    return b"", len(data)
        return bytes(data), len(data)


def _int(value: Any) -> int:
    """Zalo's numbers arrive as numbers or strings ("90000", "-216"); anything else is 0."""
    try:
        return int(str(value).strip()) if value is not None and not isinstance(value, bool) else 0
    except ValueError:
        return 0
