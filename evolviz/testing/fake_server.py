"""A scripted OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

Why a real server and not a mock transport: the engine's retries, timeouts and concurrency
limit lean on what `openai` and its HTTP layer do underneath (connection pool, read timeouts,
status-to-exception mapping, Retry-After). Only real sockets exercise that code, and only a
server whose latency is a real `asyncio.sleep` shows whether requests actually overlap.

The server is plain stdlib asyncio (HTTP/1.1, keep-alive, Content-Length bodies) running its
own event loop on a daemon thread, so sync pytest fixtures and async code use it the same way:
start it, point a client at `base_url`, read `stats` afterwards. It binds to loopback only.

What the `openai` client does with each fault kind: see `evolviz.testing.faults`. Rate
limits (a cap in flight, requests per window, their headers): `evolviz.testing.limits`.

Fault choice is deterministic given the order requests arrive: requests forced with
`force_next` come first; otherwise one `random.Random(seed)` draw per chat request decides
whether it fails (`random() < rate`) and a second picks the kind (`choice(kinds)`).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from typing import Any

from .faults import ALL_FAULTS, LENGTH_FAULT_WORDS, FaultKind, Faults, check_kinds
from .limits import Limits, LimitState
from .stats import ServerStats
from .wire import (
    DROP,
    Reply,
    Responder,
    Response,
    check_loopback,
    completion_body,
    default_responder,
    encode,
    error_body,
    json_bytes,
    parse_head,
    read_request,
)

__all__ = [
    "ALL_FAULTS",
    "FakeOpenAIServer",
    "FaultKind",
    "Faults",
    "Limits",
    "Reply",
    "Responder",
    "ServerStats",
    "default_responder",
]


class FakeOpenAIServer:
    """An OpenAI-compatible endpoint whose answers, faults and latency a test scripts.

    Use as a context manager (`with FakeOpenAIServer() as srv:`) or `start()`/`stop()`.
    `responder` and the fault settings may be changed while it runs.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        faults: Faults | None = None,
        latency: float = 0.0,
        jitter: float = 0.0,
        models: Sequence[str] = ("fake-model",),
        host: str = "127.0.0.1",
        port: int = 0,
        hang_seconds: float = 30.0,
        retry_after: str | None = "0",
        keep_requests: bool | int = True,
        structured_output: bool = True,
        limits: Limits | None = None,
    ) -> None:
        check_loopback(host)
        if latency < 0 or jitter < 0 or hang_seconds < 0:
            raise ValueError("latency, jitter and hang_seconds must be >= 0")
        if isinstance(models, str) or not models:
            raise ValueError("models must be a non-empty sequence of model names")
        self.responder: Responder = responder or default_responder
        self.latency = latency
        self.jitter = jitter
        self.models = tuple(models)
        self.host = host
        self.port = port
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        # False: answer a request with `response_format` with 400, as an endpoint without
        # structured output does.
        self.structured_output = structured_output
        self.stats = ServerStats(keep_requests)
        # Rate limits (a cap in flight, requests per window, their headers); None: none.
        self.limits = LimitState(limits) if limits is not None else None
        self._requested_port = port
        self._forced: deque[str] = deque()
        self._fault_state: tuple[Faults | None, random.Random] = (None, random.Random(0))
        self.set_faults(faults)
        # Jitter has its own generator so turning it on never shifts the fault sequence.
        self._jitter_rng = random.Random(0)
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._startup_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind and serve on a daemon thread; returns once the port is known."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="evolviz-fake-openai", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, hung requests included."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._server = None
        # start() again serves on the same port: an endpoint that went down and came back.
        self._requested_port = self.port

    def __enter__(self) -> FakeOpenAIServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def base_url(self) -> str:
        """The URL to give `openai.OpenAI(base_url=...)`; ends in /v1."""
        if not self.running:
            raise RuntimeError("server not started: call start() or use it as a context manager")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<FakeOpenAIServer {where}>"

    # -- scripting ---------------------------------------------------------------------------

    @property
    def faults(self) -> Faults | None:
        return self._fault_state[0]

    def set_faults(self, faults: Faults | None) -> None:
        """Replace the random faults and restart their generator from `faults.seed`."""
        seed = faults.seed if faults is not None else 0
        self._fault_state = (faults, random.Random(seed))

    def force_next(self, kind: str, n: int = 1) -> None:
        """Make the next `n` chat requests fail as `kind`, ahead of any random faults.
        Calls queue up in order: force_next("429"); force_next("500") fails 429 then 500."""
        check_kinds([kind])
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self._forced.extend([kind] * n)

    def clear_forced(self) -> None:
        self._forced.clear()

    def _pick_fault(self) -> str | None:
        if self._forced:
            try:
                return self._forced.popleft()
            except IndexError:  # emptied by clear_forced() from the other thread
                pass
        faults, rng = self._fault_state
        if faults is None or faults.rate <= 0.0:
            return None
        if rng.random() < faults.rate:
            return rng.choice(faults.kinds)  # type: ignore[arg-type]
        return None

    # -- server thread -----------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                # A large backlog: hundreds of clients connecting at once must not see SYN
                # drops, which cost a 1 s retransmit and would poison benchmark latencies.
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve_connection, self.host, self._requested_port, backlog=2048
                    )
                )
            except BaseException as exc:  # reported to start() on the caller's thread
                self._startup_error = exc
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
        finally:
            ready.set()
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.stats._bump("connections")
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    msg = error_body("request head too large", "invalid_request_error")
                    writer.write(encode((431, msg, ()), keep_alive=False))
                    break
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                try:
                    method, target, version, headers = parse_head(head)
                    length = int(headers.get("content-length") or 0)
                    if length < 0:
                        raise ValueError("negative content-length")
                except ValueError as exc:
                    msg = error_body(f"malformed request: {exc}", "invalid_request_error")
                    writer.write(encode((400, msg, ()), keep_alive=False))
                    break
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    msg = error_body("chunked request bodies unsupported", "invalid_request_error")
                    writer.write(encode((411, msg, ()), keep_alive=False))
                    break
                body = await reader.readexactly(length) if length else b""
                conn = headers.get("connection", "").lower()
                keep_alive = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
                self.stats._authorized(headers.get("authorization", ""))
                response = await self._route(method, target.split("?", 1)[0], body)
                if response is DROP:
                    writer.transport.abort()
                    return
                writer.write(encode(response, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels these. Python 3.11's StreamReaderProtocol calls
            # task.exception() on a finished handler, which re-raises a cancellation and
            # logs a spurious traceback; ending normally avoids that.
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str, body: bytes) -> Response | None:
        path = path.rstrip("/")
        if path in ("/v1/chat/completions", "/v1/completions"):
            if method != "POST":
                return 405, error_body("use POST", "invalid_request_error"), ()
            return await self._chat(body, completion=path == "/v1/completions")
        if path in ("/v1/models", "/models"):
            if method != "GET":
                return 405, error_body("use GET", "invalid_request_error"), ()
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "evolviz-fake"}
                for m in self.models
            ]
            return 200, json_bytes({"object": "list", "data": data}), ()
        if path == "/health":
            return 200, b'{"status":"ok"}', ()
        return 404, error_body(f"no route {method} {path}", "invalid_request_error"), ()

    def _invalid(self, message: str) -> Response:
        self.stats._bump("invalid")
        return 400, error_body(message, "invalid_request_error"), ()

    async def _chat(self, raw: bytes, completion: bool = False) -> Response | None:
        """A chat completion, or (`completion`) a text completion (see `read_request`)."""
        try:
            request, model, messages = read_request(raw, completion=completion)
        except ValueError as exc:
            return self._invalid(str(exc))
        if "response_format" in request and not self.structured_output:
            return self._invalid("'response_format' is not supported by this endpoint")

        limits = self.limits
        refused = limits.admit(self.stats.in_flight) if limits is not None else None
        kind = "429" if refused is not None else self._pick_fault()
        self.stats._begin(request, model, kind or "ok")
        try:
            if refused is not None:
                return refused
            delay = self.latency
            if self.jitter:
                delay += self._jitter_rng.uniform(0.0, self.jitter)
            if delay:
                await asyncio.sleep(delay)
            response = await self._answer(kind, request, model, messages, completion)
            if limits is not None and response is not None:
                response = (*response[:2], (*response[2], *limits.headers()))
            return response
        finally:
            self.stats._end()

    async def _answer(
        self, kind: str | None, request: dict[str, Any], model: str, messages: list[Any],
        completion: bool = False,
    ) -> Response | None:
        if kind == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return DROP
        if kind == "drop":
            return DROP
        if kind == "429":
            extra = (("retry-after", self.retry_after),) if self.retry_after is not None else ()
            message = "Rate limit reached (injected by the fake server)"
            body = error_body(message, "requests", "rate_limit_exceeded")
            return 429, body, extra
        if kind in ("500", "503"):
            body = error_body(f"Injected {kind} from the fake server", "server_error")
            return int(kind), body, ()

        content: str | None
        finish_reason = "stop"
        if kind in (None, "length"):
            try:
                reply = self.responder(request)
                if inspect.isawaitable(reply):
                    reply = await reply
            except Exception as exc:  # a broken responder is a test bug: make it loud
                traceback.print_exc(file=sys.stderr)
                body = error_body(f"responder raised {exc!r}", "fake_server_responder_error")
                return 500, body, ()
            if isinstance(reply, Reply):
                content, finish_reason = reply.content, reply.finish_reason
            else:
                content = reply
            if kind == "length":
                content = " ".join((content or "").split()[:LENGTH_FAULT_WORDS])
                finish_reason = "length"
        elif kind == "null_content":
            content = None
        elif kind == "content_filter":
            content, finish_reason = "", "content_filter"
        else:  # empty_choices, broken_json: the content is never seen
            content = "unused"

        payload = completion_body(model, content, finish_reason, messages,
                                  completion_id=f"{'cmpl' if completion else 'chatcmpl'}"
                                                f"-fake-{next(self._ids)}",
                                  with_choice=kind != "empty_choices", text=completion)
        if kind == "broken_json":
            payload = payload[: len(payload) // 2]  # an unclosed object is never valid JSON
        return 200, payload, ()

