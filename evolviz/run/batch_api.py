"""The provider side of batch mode: request files and batches, through the openai client.

OpenAI's Batch API, and the providers and proxies that copy it, take a JSONL file of
requests (uploaded with purpose "batch"), run it as a batch within a 24-hour window at
half the price of live calls, and return output and error files keyed by each line's
`custom_id`. `OpenAIBatches` speaks that protocol to any base URL; `BatchAPI` is the shape
the driver (`evolviz.run.batch`) needs, so another transport can stand in for it.

Failures come in three kinds, because the driver treats them differently:

- `Unavailable`: the endpoint did not answer usefully this time (connection, timeout,
  429, 5xx). Polling just tries again at its next turn; a batch lives for hours.
- `Refused`: the endpoint answered no to this request (413 for a file too large, 400 for
  a bad one). Trying again cannot help; the driver names the file and stops.
- `EndpointError` (401/403/404): every request would fail alike; the run stops at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import openai

from ..errors import EndpointError

__all__ = ["BatchAPI", "OpenAIBatches", "Refused", "RemoteBatch", "Unavailable"]

T = TypeVar("T")

#: The endpoint every line asks for; a batch is created for it.
CHAT_ENDPOINT = "/v1/chat/completions"


class Unavailable(Exception):
    """The endpoint did not answer usefully this time; asking again later may work."""


class Refused(Exception):
    """The endpoint answered no to this very request; asking again cannot help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class RemoteBatch:
    """A batch as the provider reports it."""

    id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    created_at: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, b: Any) -> RemoteBatch:
        """From openai's `Batch` model (or anything with its attributes)."""
        counts = getattr(b, "request_counts", None)
        errors, codes = [], []
        for e in (getattr(getattr(b, "errors", None), "data", None) or []):
            where = f"line {e.line}: " if getattr(e, "line", None) else ""
            errors.append(f"{where}{getattr(e, 'message', '') or getattr(e, 'code', '')}")
            codes.append(str(getattr(e, "code", "") or ""))
        return cls(id=b.id, status=str(b.status), input_file_id=b.input_file_id,
                   output_file_id=getattr(b, "output_file_id", None),
                   error_file_id=getattr(b, "error_file_id", None),
                   total=int(getattr(counts, "total", 0) or 0),
                   completed=int(getattr(counts, "completed", 0) or 0),
                   failed=int(getattr(counts, "failed", 0) or 0), errors=errors,
                   error_codes=codes,
                   created_at=float(getattr(b, "created_at", 0) or 0),
                   metadata=dict(getattr(b, "metadata", None) or {}))


class BatchAPI(Protocol):
    """What batch mode asks of a provider."""

    async def upload(self, name: str, data: bytes) -> str: ...

    async def create(self, file_id: str, metadata: Mapping[str, str]) -> RemoteBatch: ...

    async def retrieve(self, batch_id: str) -> RemoteBatch: ...

    async def find(self, file_id: str, since: float) -> RemoteBatch | None: ...

    async def content(self, file_id: str) -> bytes: ...

    async def cancel(self, batch_id: str) -> RemoteBatch: ...

    async def aclose(self) -> None: ...


class OpenAIBatches:
    """`BatchAPI` over openai's files and batches resources, against any base URL.

    The key is held in memory only, as `LLMClient` holds it. openai's own retries are off:
    a retried `create` whose first answer was lost would submit the batch twice, so the
    driver decides what is safe to repeat (and looks a batch up by its file before
    creating it again).
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 120.0,
                 window: str = "24h"):
        self.base_url = base_url
        self.timeout = timeout
        self.window = window
        self._api_key = api_key or "none"
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBatches(base_url={self.base_url!r})"

    def _openai(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key,
                                              max_retries=0, timeout=self.timeout)
            self._loop = loop
        return self._client

    async def _call(self, make: Callable[[openai.AsyncOpenAI], Awaitable[T]]) -> T:
        try:
            return await make(self._openai())
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            raise Unavailable(str(e) or type(e).__name__) from None
        except openai.APIStatusError as e:
            if e.status_code in (401, 403, 404):
                raise EndpointError(self.base_url, e.status_code, e.message) from None
            if e.status_code in (408, 409, 429) or e.status_code >= 500:
                raise Unavailable(f"HTTP {e.status_code}: {e.message}") from None
            raise Refused(e.status_code, str(e.message)) from None
        except (openai.APIResponseValidationError, ValueError, TypeError) as e:
            raise Unavailable(f"an unreadable answer ({type(e).__name__}: {e})") from None

    async def upload(self, name: str, data: bytes) -> str:
        # A 200 MB file takes a while to send: the upload gets ten times the call timeout.
        f = await self._call(lambda c: c.files.create(
            file=(name, data, "application/jsonl"), purpose="batch",
            timeout=self.timeout * 10))
        return f.id

    async def create(self, file_id: str, metadata: Mapping[str, str]) -> RemoteBatch:
        b = await self._call(lambda c: c.batches.create(
            input_file_id=file_id, endpoint=CHAT_ENDPOINT,  # type: ignore[arg-type]
            completion_window=self.window,  # type: ignore[arg-type]
            metadata=dict(metadata)))
        return RemoteBatch.of(b)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        return RemoteBatch.of(await self._call(lambda c: c.batches.retrieve(batch_id)))

    async def find(self, file_id: str, since: float) -> RemoteBatch | None:
        """The batch made of `file_id`, if one was created (newest first, back to a day
        before `since`): how a run adopts a batch it created but had not yet recorded."""

        async def scan(c: openai.AsyncOpenAI) -> RemoteBatch | None:
            seen = 0
            async for b in c.batches.list(limit=100):
                if b.input_file_id == file_id:
                    return RemoteBatch.of(b)
                seen += 1
                if seen >= 2000 or (b.created_at and b.created_at < since - 86400):
                    return None
            return None

        return await self._call(scan)

    async def content(self, file_id: str) -> bytes:
        r = await self._call(lambda c: c.files.content(file_id, timeout=self.timeout * 10))
        return r.content

    async def cancel(self, batch_id: str) -> RemoteBatch:
        return RemoteBatch.of(await self._call(lambda c: c.batches.cancel(batch_id)))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
