"""python-telegram-bot's HTTP layer on aiohttp's client (the server side already runs on aiohttp).

PTB sends through `BaseRequest.do_request`; its default, httpx, cost about as much CPU per message as the rest of
the delivery in the load bench (bench/README.md). This one keeps a pool of keep-alive connections in one
`aiohttp.ClientSession` and maps failures as PTB's own does: a timeout is `TimedOut`, any other transport error
`NetworkError`. A request without files goes as a JSON body (the Bot API takes one; url-encoding a Vietnamese
text byte by byte cost more than the rest of building the request). Error messages carry the error's type only:
an aiohttp error's text may hold the URL, and the URL holds the bot token.
"""

from __future__ import annotations

import json

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        connections: int = 64,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ):
        self.connections = connections
        self._read = read_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        # aiohttp's `connect` covers waiting for a pooled connection and opening one; `sock_read` is the longest
        # silence while the answer comes (aiohttp has no separate write timeout: the body is small).
        waits = [t for t in (connect, pool) if t is not None]
        timeout = aiohttp.ClientTimeout(
            total=None, connect=sum(waits) if waits else None, sock_connect=connect, sock_read=read
        )
        try:
            data, headers = _body(request_data)
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as e:  # before ClientError: aiohttp's ServerTimeoutError is both
            raise TimedOut from e
        except aiohttp.ClientError as e:
            raise NetworkError(f"aiohttp.{type(e).__name__}") from e


JSON = {"Content-Type": "application/json"}


def _body(request_data: RequestData | None) -> tuple[bytes | aiohttp.FormData | None, dict | None]:
    """(body, headers): the parameters as JSON, or as multipart with the files a method uploads."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return json.dumps(request_data.parameters, ensure_ascii=False).encode(), JSON
    files = request_data.multipart_data
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None
