"""The one way evolviz talks to an LLM: any OpenAI-compatible endpoint through `openai`.

Every call goes through `LLMClient.chat`, which adds what a long, paid run needs and the
`openai` package leaves to the caller: a concurrency limit shared by all roles, our own
retry loop (exponential backoff with jitter, honouring Retry-After) over the failures that
are worth retrying, a response cache so that a replayed run costs nothing, and token
accounting per role. A call that still fails raises `LLMCallError` with a short error
class; the engine records it on the candidate and carries on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import openai

from ..calls import ROLES, CallResult, Sampling, read_completion
from ..errors import EndpointError, EndpointUnreachable, LLMCallError
from ..store.cache import ResponseCache
from . import fasthttp
from .accounting import TokenCounter, cache_key
from .budget import Budget
from .health import DEFAULT_MAX_OUTAGE, EndpointHealth
from .pacing import Pacer
from .wire import (
    FATAL_STATUSES,
    Retryable,
    connection_cause,
    http_limits,
    http_module,
    is_completion,
    json_bytes,
    read_response,
    refuses_structured_output,
    request_body,
    retry_after_seconds,
    status_error,
)

__all__ = ["ROLES", "CallResult", "LLMClient", "ResponseCache", "Sampling", "TokenCounter",
           "cache_key", "is_completion", "read_completion"]


class LLMClient:
    """Async chat calls with limits, retries, cache and accounting.

    The number of calls in flight adapts between 1 and `concurrency` (`Pacer`: fewer on
    429s, more as calls succeed, paced by rate-limit headers); an endpoint that goes down
    makes calls wait rather than fail (`EndpointHealth`, bounded by `max_outage` seconds).

    One client serves all three roles; `models` maps each role to a model name. The API key
    is held only here, in memory: nothing this class writes (cache, results) contains it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        models: Mapping[str, str] | str = "default",
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 120.0,
        cache: ResponseCache | None = None,
        rng: random.Random | None = None,
        send_seed: bool = True,
        recover: Callable[[], Awaitable[str | None]] | None = None,
        transport: Any = None,
        structured_style: str = "openai",
        max_outage: float = DEFAULT_MAX_OUTAGE,
        fast_path: bool = True,
    ):
        if isinstance(models, str):
            models = dict.fromkeys(ROLES, models)
        missing = [r for r in ROLES if r not in models]
        if missing:
            raise ValueError(f"no model given for role(s) {missing}")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if max_outage < 0:
            raise ValueError("max_outage must be >= 0 seconds")
        self.base_url = base_url
        self.models = dict(models)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.cache = cache
        self.send_seed = send_seed
        # Called when the endpoint stops answering (connection refused or dropped), before
        # the retry: the local model uses it to restart its server. It may return a new
        # base URL. One recovery at a time; calls that failed before it just retry.
        self.recover = recover
        # A test seam: an HTTP transport object (e.g. evolviz.testing.ScriptedTransport's)
        # used instead of sockets. Production code never passes one.
        self.transport = transport
        self.recoveries = 0
        # Cleared when the endpoint refuses a structured-output request (see `chat`).
        self.structured_output = True
        # How structured output is asked for: "openai" (json_schema) or "llama_cpp"
        # (json_object plus a schema, grammar-constrained by llama-cpp-python's server).
        self.structured_style = structured_style
        self._recover_lock: asyncio.Lock | None = None
        self.tokens = TokenCounter()
        # A spending limit (evolviz.run.budget.Budget) consulted before every paid call.
        self.budget: Budget | None = None
        self._rng = rng or random.Random(0)
        self._api_key = api_key or "none"
        self.pacer = Pacer(concurrency)
        self.health = EndpointHealth(base_url, self._probe, max_outage=max_outage,
                                     backoff_max=backoff_max)
        self._checked = False  # the endpoint answered a probe once
        self._client: openai.AsyncOpenAI | None = None
        # Chat requests over `fasthttp` where it serves the endpoint exactly (see there);
        # False sends every request through `openai` (what the benchmark compares with).
        self.fast_path = fast_path
        self._fast: fasthttp.FastHTTP | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never show the key
        return f"LLMClient(base_url={self.base_url!r}, models={self.models!r})"

    def _ensure(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # waiters and connections belong to one event loop
            self.pacer.reset_loop()
            self._client = self._fast = None
            self._loop = loop
        if self._client is None:
            # openai's own client class (it builds on its pinned HTTP library, whichever
            # that is), with a pool as deep as our concurrency so no call waits for a socket.
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                max_retries=0,
                timeout=self.timeout,
                http_client=openai.DefaultAsyncHttpxClient(
                    limits=http_limits(self.concurrency + 4), timeout=self.timeout,
                    **({"transport": self.transport} if self.transport is not None else {})),
            )
            self._fast = None
            if self.fast_path and self.transport is None and fasthttp.usable(self.base_url):
                headers = {k: v for k, v in self._client.default_headers.items()
                           if isinstance(v, str)}
                headers["Authorization"] = f"Bearer {self._api_key}"
                self._fast = fasthttp.FastHTTP(self.base_url, headers, self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._fast is not None:
            await self._fast.aclose()
            self._fast = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    def model_for(self, role: str) -> str:
        return self.models[role]

    # -- the endpoint's health -----------------------------------------------------------

    async def check_endpoint(self) -> None:
        """Before a run's first generation: one cheap request proves the endpoint answers,
        so a mistyped URL stops the run in seconds, before anything is recorded. Free
        once a call or a probe has succeeded through this client."""
        if not self.health.down and (self._checked or self.health.ever_succeeded):
            return  # (after an outage that stopped a run, the next run looks again)
        why: str | None = None
        for pause in (0.0, 0.5, 1.5):  # ride out a blip, give up within seconds
            await asyncio.sleep(pause)
            why = await self._probe()
            if why is None:
                self._checked = True
                self.health.clear()
                return
        raise EndpointUnreachable(self.base_url, why or "no answer")

    async def _probe(self) -> str | None:
        """GET the models list: None if the endpoint answers (any status but 5xx: a
        server without the list still answers), else why not. A refused key stops here
        as it would on a call."""
        timeout = min(self.timeout, 10.0)
        for attempt in (0, 1):
            client, seen = self._ensure(), self.recoveries
            try:
                await client.get("/models", cast_to=http_module().Response,
                                 options={"timeout": timeout})
                return None
            except openai.APIStatusError as e:
                if e.status_code in (401, 403):
                    raise EndpointError(self.base_url, e.status_code, e.message) from None
                if e.status_code < 500 or e.status_code == 501:  # 501: no such route
                    return None
                return f"HTTP {e.status_code}"
            except openai.APITimeoutError:
                return f"no answer within {timeout:g} s"
            except openai.APIConnectionError as e:
                if self.recover is None or attempt:
                    return connection_cause(e)
                await self._recover(seen)  # the local model: restart it, then look again
        return None  # pragma: no cover - the loop returns

    @property
    def in_flight(self) -> int:
        return self.pacer.in_flight

    def status(self) -> dict[str, Any]:
        """What a progress line shows: calls in flight (and the adaptive limit), calls
        per second, and the outage message while the endpoint is down."""
        return {"in_flight": self.pacer.in_flight, "limit": int(self.pacer.limit),
                "calls_per_s": round(self.pacer.calls_per_second(), 1),
                "endpoint": self.health.describe()}

    async def chat(
        self,
        role: str,
        messages: list[dict[str, str]],
        sampling: Sampling,
        *,
        sample: str = "0",
        seed: int | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """One logical call; raises `LLMCallError` (with the partial result attached).

        `response_format` (OpenAI's structured output, e.g. a JSON schema) goes into the
        request body. An endpoint that refuses it (HTTP 400/422) is asked again without,
        and is not sent one again by this client: the judges' parsers read prose too.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        model = self.models[role]
        result = CallResult(role=role, model=model, messages=messages,
                            sampling=sampling.to_dict())
        key = cache_key(model, messages, sampling, sample, response_format)
        if response_format is not None and not self.structured_output:
            response_format = None
        result.response_format = dict(response_format) if response_format else None
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                result.content = hit.get("content")
                result.finish_reason = hit.get("finish_reason")
                result.prompt_tokens = int(hit.get("prompt_tokens", 0))
                result.completion_tokens = int(hit.get("completion_tokens", 0))
                result.cached = True
                self.tokens.cached_calls += 1
                return result

        hold = self.budget.reserve(role, messages, sampling) if self.budget else None
        started = time.perf_counter()
        charged = 0  # failed attempts that count against max_retries
        while True:
            result.attempts += 1
            client, seen_recoveries = self._ensure(), self.recoveries
            sent_at = time.monotonic()
            try:
                await self.health.wait_if_down()
                body = self._body(model, messages, sampling, seed, response_format)
                sent_at, beside = await self.pacer.acquire()
                response = await self._send(client, body, sent_at, beside)
                read_response(response.content, result)
                break
            except Retryable as e:
                last = e
            except (openai.APITimeoutError, fasthttp.TransportTimeout) as e:
                last = Retryable("Timeout", str(e) or "the call timed out", endpoint=True)
            except (openai.APIConnectionError, fasthttp.TransportError) as e:
                last = Retryable("ConnectionError",
                                 f"{e or 'the connection failed'} ({connection_cause(e)})",
                                 endpoint=True)
                if self.recover is not None and charged < self.max_retries:
                    await self._recover(seen_recoveries)
            except openai.APIStatusError as e:
                if response_format is not None and refuses_structured_output(e):
                    # Asked once more without it, free; the parsers read prose too.
                    self.structured_output = False
                    response_format = result.response_format = None
                    result.retries.append("StructuredOutputRefused")
                    continue
                if isinstance(e, openai.InternalServerError):
                    last = Retryable("ServerError", f"HTTP {e.status_code}: {e.message}",
                                     retry_after_seconds(e.response), endpoint=True)
                elif e.status_code in (408, 409):
                    last = Retryable("ServerError", f"HTTP {e.status_code}: {e.message}")
                elif e.status_code in FATAL_STATUSES:
                    self.tokens.failed_calls += 1
                    raise EndpointError(self.base_url, e.status_code, e.message) from None
                else:
                    # 400/422 and the like: retrying the same request cannot help.
                    return self._fail(result, started, "BadRequest",
                                      f"HTTP {e.status_code}: {e.message}", hold)
            except (openai.APIResponseValidationError, ValueError, TypeError, KeyError) as e:
                # A 200 whose body is not a chat completion (broken JSON and the like).
                last = Retryable("MalformedResponse", f"{type(e).__name__}: {e}")
            result.retries.append(last.error_class)
            exhausted = charged >= self.max_retries
            verdict = (await self.health.failed(str(last), sent_at, exhausted) if last.endpoint
                       else "charge")
            if verdict == "resumed":
                continue  # the endpoint was down and answers again: not this call's fault
            if verdict == "charge":
                if exhausted:
                    return self._fail(result, started, last.error_class, str(last), hold)
                charged += 1
            self.tokens.retries += 1
            await asyncio.sleep(self._delay(max(0, charged - 1), last.retry_after))

        self.health.succeeded()
        self.pacer.success(result.prompt_tokens + result.completion_tokens)
        result.latency_s = time.perf_counter() - started
        self.tokens.prompt[role] += result.prompt_tokens
        self.tokens.completion[role] += result.completion_tokens
        self.tokens.calls[role] += 1
        if hold is not None and self.budget is not None:
            self.budget.settle(hold, result.prompt_tokens, result.completion_tokens)
        if self.cache is not None:
            self.cache.put(key, model, {
                "content": result.content,
                "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
            })
        return result

    async def _send(self, client: openai.AsyncOpenAI, body: dict[str, Any], sent: float,
                    beside: int) -> Any:
        """One HTTP request, admitted by the pacer at `sent` with `beside` others in
        flight; gives the slot back and reports what came back."""
        pacer = self.pacer
        try:
            # A completion-style prompt (a few-shot template) goes to the completions API.
            path = "/completions" if "prompt" in body else "/chat/completions"
            if self._fast is not None:
                response = await self._fast.post(path, json_bytes(body))
                if response.status >= 400:
                    raise status_error(client, self.base_url, response)
            else:
                response = await client.post(path, body=body,
                                             cast_to=http_module().Response,
                                             options={"timeout": self.timeout})
        except openai.RateLimitError as e:
            pacer.rate_limited_at(sent, beside)
            pacer.headers(e.response.headers)
            raise Retryable("RateLimited", str(e), retry_after_seconds(e.response)) from None
        finally:
            pacer.release()
        pacer.headers(response.headers)
        return response

    def request_body(self, model: str, messages: list[dict[str, str]], sampling: Sampling,
                     seed: int | None,
                     response_format: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The request body this client sends; batch mode writes the same body into each
        line of its request files, so a batch call asks exactly what a live one does."""
        return request_body(model, messages, sampling, seed if self.send_seed else None,
                            response_format, self.structured_style)

    _body = request_body

    async def _recover(self, seen: int) -> None:
        if self._recover_lock is None:
            self._recover_lock = asyncio.Lock()
        async with self._recover_lock:
            if self.recoveries != seen:
                return  # another call already recovered the endpoint
            assert self.recover is not None
            new_url = await self.recover()
            self.recoveries += 1
            if new_url and new_url != self.base_url:
                self.base_url = new_url
                self._client = None  # rebuilt on the next attempt

    def _fail(self, result: CallResult, started: float, error_class: str, message: str,
              hold: tuple[str, int, int] | None = None):
        if hold is not None and self.budget is not None:
            self.budget.settle(hold, 0, 0)
        result.latency_s = time.perf_counter() - started
        result.error_class = error_class
        result.error = message[:2000]
        self.tokens.failed_calls += 1
        raise LLMCallError(error_class, message, attempts=result.attempts, result=result)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return self._rng.uniform(0, ceiling)  # "full jitter": spreads a thundering herd
