"""What the client reads off the wire: response bodies, retry hints, error kinds.

Kept apart from `llm.py` so that the client's retry loop reads as a loop; every function
here is a pure function of one response or one exception.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import openai

from ..calls import COMPLETION, CallResult, Sampling, read_completion

__all__ = ["FATAL_STATUSES", "Retryable", "connection_cause", "http_limits", "http_module",
           "is_completion", "json_bytes", "read_response", "refuses_structured_output",
           "request_body",
           "retry_after_seconds", "status_error"]

#: Statuses that say every call will fail alike (key, access, URL or model): stop the run.
FATAL_STATUSES = frozenset({401, 403, 404})


class Retryable(Exception):
    """A failed attempt worth another try. `endpoint`: the failure says the endpoint may
    be down (connection, timeout, 5xx), which the circuit breaker weighs."""

    def __init__(self, error_class: str, message: str, retry_after: float | None = None,
                 *, endpoint: bool = False):
        super().__init__(message)
        self.error_class = error_class
        self.retry_after = retry_after
        self.endpoint = endpoint


def http_module() -> Any:
    """The HTTP library this openai release is built on (httpx, or its successor)."""
    return sys.modules[openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]]


def http_limits(connections: int) -> Any:
    return http_module().Limits(max_connections=connections,
                                max_keepalive_connections=connections)


def refuses_structured_output(e: openai.APIStatusError) -> bool:
    """The endpoint refused the `response_format` itself: a 400/422 (most likely it), or
    llama-cpp-python's 500 that names the field (its request validation)."""
    return e.status_code in (400, 422) or (e.status_code == 500
                                           and "response_format" in str(e.message))


def retry_after_seconds(response: Any) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM endpoints, fall back to our backoff


def connection_cause(e: BaseException) -> str:
    """The operating system's words for a failed connection ("connection refused"), which
    say more to a person than openai's "Connection error." or httpx's "All connection
    attempts failed": the first OS error with an errno down the chain of causes."""
    stack, seen = [e], set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, OSError) and x.errno:
            return os.strerror(x.errno).lower()
        stack += [n for n in (x.__context__, x.__cause__) if n is not None]
        stack += list(getattr(x, "exceptions", None) or ())
    inner = e.__cause__ or e
    return str(inner) or type(inner).__name__


def read_response(content: bytes, result: CallResult) -> None:
    """Pull content out of a raw completion (chat or text), treating a hollow one as
    retryable. We parse the JSON ourselves (openai's model construction was the next
    largest CPU cost per call) and check exactly the fields we use (`calls.read_completion`,
    which batch mode uses for its result lines too)."""
    try:
        data = json.loads(content)
    except ValueError as e:
        raise Retryable("MalformedResponse",
                        f"the body is not a chat completion ({type(e).__name__})") from e
    problem = read_completion(data, result)
    if problem is not None:
        raise Retryable("MalformedResponse", problem)


def is_completion(messages: list[dict[str, str]]) -> bool:
    """A completion-style prompt: one message of role "completion", sent as the prompt of
    the completions API (what `Template.render` makes of a few-shot template)."""
    return len(messages) == 1 and messages[0].get("role") == COMPLETION


def request_body(model: str, messages: list[dict[str, str]], sampling: Sampling,
                 seed: int | None, response_format: Mapping[str, Any] | None,
                 structured_style: str = "openai") -> dict[str, Any]:
    """The request body, built by hand.

    `chat.completions.create` runs every request through openai's type-driven transform,
    which cost about 1.7 ms of CPU per call here (a quarter of the engine's time at zero
    latency, see docs/benchmarks.md); our messages are already plain dicts of strings.
    Structured output goes in OpenAI's `json_schema` form, or llama.cpp's (`json_object`
    with the schema beside it, which its server turns into a grammar).
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
    if seed is not None:
        body["seed"] = seed
    if response_format is not None:
        if structured_style == "llama_cpp" and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            body["response_format"] = {"type": "json_object",
                                       **({"schema": schema} if schema else {})}
        else:
            body["response_format"] = dict(response_format)
    return body


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def status_error(client: openai.AsyncOpenAI, base_url: str, reply: Any) -> Exception:
    """An error reply that came by the fast path, as openai would have raised it (same
    class, message and response), so that the retry loop handles both alike."""
    http = http_module()
    request = http.Request("POST", f"{base_url.rstrip('/')}/chat/completions")
    response = http.Response(reply.status, headers=reply.headers, content=reply.content,
                             request=request)
    return client._make_status_error_from_response(response)
