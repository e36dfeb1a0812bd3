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
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai

from ..calls import COMPLETION, ROLES, CallResult, Sampling, read_completion
from ..errors import EndpointError, LLMCallError
from ..store.cache import ResponseCache
from .budget import Budget
from .llm_http import (
    FATAL_STATUSES,
    _http_limits,
    _http_module,
    _refuses_structured_output,
    _retry_after_seconds,
    _Retryable,
)

__all__ = [
    "ROLES",
    "CallResult",
    "LLMClient",
    "ResponseCache",
    "Sampling",
    "TokenCounter",
    "cache_key",
    "is_completion",
    "read_completion",
]

def is_completion(messages: list[dict[str, str]]) -> bool:
    """A completion-style prompt: one message of role "completion", sent as the prompt of
    the completions API (what `Template.render` makes of a few-shot template)."""
    return len(messages) == 1 and messages[0].get("role") == COMPLETION


def cache_key(model: str, messages: list[dict[str, str]], sampling: Sampling, sample: str,
              response_format: Mapping[str, Any] | None = None) -> str:
    """Same model, messages, parameters and sample index give the same response.

    `sample` separates calls that are alike but must not share an answer (two candidates
    that happen to send the same prompt at temperature > 0 are two samples). A structured
    output request is part of the key (JSON asked for is a different answer); without one
    the key is what it always was, so existing caches stay valid.
    """
    fields: dict[str, Any] = {"model": model, "messages": messages,
                              "sampling": sampling.to_dict(), "sample": sample}
    if response_format is not None:
        fields["response_format"] = response_format
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class TokenCounter:
    """Tokens and calls per role; cached responses are counted apart (they cost nothing)."""

    prompt: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    completion: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))
    cached_calls: int = 0
    failed_calls: int = 0
    retries: int = 0

    def total(self) -> int:
        return sum(self.prompt.values()) + sum(self.completion.values())


class LLMClient:
    """Async chat calls with limits, retries, cache and accounting.

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
    ):
        if isinstance(models, str):
            models = dict.fromkeys(ROLES, models)
        missing = [r for r in ROLES if r not in models]
        if missing:
            raise ValueError(f"no model given for role(s) {missing}")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
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
        self._semaphore: asyncio.Semaphore | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never show the key
        return f"LLMClient(base_url={self.base_url!r}, models={self.models!r})"

    def _ensure(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a semaphore belongs to one event loop
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._client = None
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
                    limits=_http_limits(self.concurrency + 4), timeout=self.timeout,
                    **({"transport": self.transport} if self.transport is not None else {})),
            )
        assert self._semaphore is not None
        return self._client, self._semaphore

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def model_for(self, role: str) -> str:
        return self.models[role]

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
        completion = is_completion(messages)
        if completion:
            response_format = None  # a text to continue; its reader reads text
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
        last: _Retryable | None = None
        refused = 0  # 1 once the structured-output request was refused: a free attempt
        for attempt in range(self.max_retries + 2):
            result.attempts = attempt + 1
            client, semaphore = self._ensure()
            seen_recoveries = self.recoveries
            try:
                async with semaphore:
                    response = await client.post(
                        "/completions" if completion else "/chat/completions",
                        body=self.request_body(model, messages, sampling, seed,
                                               response_format),
                        cast_to=_http_module().Response,
                        options={"timeout": self.timeout},
                    )
                self._read(response, result)
                break
            except _Retryable as e:
                last = e
            except openai.RateLimitError as e:
                last = _Retryable("RateLimited", str(e), _retry_after_seconds(e.response))
            except openai.APITimeoutError as e:
                last = _Retryable("Timeout", str(e) or "the call timed out")
            except openai.APIConnectionError as e:
                last = _Retryable("ConnectionError", str(e) or "the connection failed")
                if self.recover is not None and attempt - refused < self.max_retries:
                    await self._recover(seen_recoveries)
            except openai.APIStatusError as e:
                if response_format is not None and _refuses_structured_output(e):
                    # Asked once more without it; the parsers read prose too.
                    self.structured_output = False
                    response_format = result.response_format = None
                    result.retries.append("StructuredOutputRefused")
                    refused = 1
                    continue
                if isinstance(e, openai.InternalServerError):
                    last = _Retryable("ServerError", f"HTTP {e.status_code}: {e.message}",
                                      _retry_after_seconds(e.response))
                elif e.status_code in (408, 409):
                    last = _Retryable("ServerError", f"HTTP {e.status_code}: {e.message}")
                elif e.status_code in FATAL_STATUSES:
                    self.tokens.failed_calls += 1
                    raise EndpointError(self.base_url, e.status_code, e.message) from None
                else:
                    # 400/422 and the like: retrying the same request cannot help.
                    return self._fail(result, started, "BadRequest",
                                      f"HTTP {e.status_code}: {e.message}", hold)
            except (openai.APIResponseValidationError, ValueError, TypeError, KeyError) as e:
                # A 200 whose body is not a chat completion (broken JSON and the like).
                last = _Retryable("MalformedResponse", f"{type(e).__name__}: {e}")
            result.retries.append(last.error_class)
            if attempt - refused >= self.max_retries:
                return self._fail(result, started, last.error_class, str(last), hold)
            self.tokens.retries += 1
            await asyncio.sleep(self._delay(attempt - refused, last.retry_after))
        else:  # pragma: no cover - every iteration breaks, returns or continues once
            return self._fail(result, started, "MalformedResponse", "no attempt left", hold)

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

    def request_body(self, model: str, messages: list[dict[str, str]], sampling: Sampling,
                     seed: int | None,
                     response_format: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The request body, built by hand; batch mode writes the same body into each line
        of its request files, so a batch call asks exactly what a live one does.

        `chat.completions.create` runs every request through openai's type-driven
        transform, which cost about 1.7 ms of CPU per call here (a quarter of the engine's
        time at zero latency, see docs/benchmarks.md); our messages are already plain
        dicts of strings, so the same JSON goes out through the client's `post`.
        """
        body: dict[str, Any] = {"model": model, "temperature": sampling.temperature,
                                "top_p": sampling.top_p, "max_tokens": sampling.max_tokens}
        if is_completion(messages):
            body["prompt"] = messages[0]["content"]
        else:
            body["messages"] = messages
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.repeat_penalty is not None:
            body["repeat_penalty"] = sampling.repeat_penalty
        if seed is not None and self.send_seed:
            body["seed"] = seed
        if response_format is not None:
            body["response_format"] = self._structured(response_format)
        return body

    def _structured(self, response_format: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAI's `json_schema` form, or llama.cpp's (`json_object` with the schema beside
        it, which its server turns into a grammar) when `structured_style` says so."""
        if self.structured_style == "llama_cpp" and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            return {"type": "json_object", **({"schema": schema} if schema else {})}
        return dict(response_format)

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

    def _read(self, response: Any, result: CallResult) -> None:
        """Pull content out of the raw response, treating a hollow one as retryable.

        We parse the JSON ourselves (openai's model construction was the next largest CPU
        cost per call) and check exactly the fields we use.
        """
        try:
            data = json.loads(response.content)
        except ValueError as e:
            raise _Retryable("MalformedResponse",
                             f"the body is not a chat completion ({type(e).__name__})") from e
        problem = read_completion(data, result)
        if problem is not None:
            raise _Retryable("MalformedResponse", problem)

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

