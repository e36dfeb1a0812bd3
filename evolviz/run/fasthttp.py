"""A lean keep-alive HTTP/1.1 client for the one request a run makes thousands of times.

Why: profiled at 50 ms latency and 64 calls in flight, sending a chat request through
`openai` and its HTTP stack (request options copied per call, headers merged and
validated, a connection pool that scans every connection for every request) was half of
the engine's CPU, about 1.2 ms a call; a run was CPU-bound at a few hundred calls per
second. Writing the request and reading the reply on asyncio streams costs a tenth.

Only the chat POST goes this way, and only where nothing else is needed: plain `http://`
or `https://` (TLS through `ssl`), no proxy variables set, no query string in the base URL,
no test transport. Everything else (the health probe, proxies, Azure-style URLs) keeps
using `openai`, and `LLMClient(fast_path=False)` turns this off entirely (the benchmark's
"before"). Replies are handed back as they came (status, headers, bytes): the client turns
an error status into openai's own exception classes, so retries and messages are the same
whichever way a request went.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["FastHTTP", "FastResponse", "TransportError", "TransportTimeout", "usable"]

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")


class TransportError(Exception):
    """The connection failed, or broke before a whole reply came back."""


class TransportTimeout(TransportError):
    """No whole reply within the timeout."""


@dataclass
class FastResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    content: bytes


def usable(base_url: str) -> bool:
    """Whether the fast path can serve this endpoint exactly as `openai` would."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or parts.query or not parts.hostname:
        return False
    return not any(os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARS)


class FastHTTP:
    def __init__(self, base_url: str, headers: dict[str, str], timeout: float):
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        host_header = parts.netloc.rsplit("@", 1)[-1]
        self._head = "".join(f"{k}: {v}\r\n" for k, v in
                             {"Host": host_header, "Accept": "application/json",
                              "Content-Type": "application/json", **headers}.items())
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, timeout: float | None = None
                   ) -> FastResponse:
        request = (f"POST {self.prefix}{path} HTTP/1.1\r\n{self._head}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(timeout or self.timeout):
                while self._idle:  # a kept-alive connection the server may have closed
                    conn = self._idle.pop()
                    try:
                        return await self._exchange(conn, request)
                    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                            ValueError):
                        continue  # closed while idle: nothing was answered, try another
                try:
                    conn = await asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                                         limit=1 << 22)
                except OSError as e:
                    raise TransportError(str(e)) from e
                try:
                    return await self._exchange(conn, request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ValueError) as e:
                    raise TransportError(f"the connection broke ({e!r})") from e
        except TimeoutError as e:
            raise TransportTimeout(f"no reply within {timeout or self.timeout:g} s") from e

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        request: bytes) -> FastResponse:
        reader, writer = conn
        ok = False
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                content = await reader.readexactly(int(headers["content-length"]))
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                content = await _read_chunked(reader)
            else:  # the body runs to the end of the connection
                content = await reader.read()
                headers["connection"] = "close"
            ok = headers.get("connection", "").lower() != "close"
            return FastResponse(status, headers, content)
        finally:
            if ok:
                self._idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _reader, writer in idle:
            writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
