"""How `LLMClient` reads an endpoint's HTTP answers: which statuses end a run, which failures
are worth a retry and after how long (Retry-After), and the HTTP library under `openai`.

Apart from llm.py because these are facts about HTTP and the `openai` package, not about
the client's loop; the names keep their leading underscore: they serve llm.py only.
"""

from __future__ import annotations

import sys
from typing import Any

import openai

__all__: list[str] = []


#: Statuses that say every call will fail alike (key, access, URL or model): stop the run.
FATAL_STATUSES = frozenset({401, 403, 404})


def _refuses_structured_output(e: openai.APIStatusError) -> bool:
    """The endpoint refused the `response_format` itself: a 400/422 (most likely it), or
    llama-cpp-python's 500 that names the field (its request validation)."""
    return e.status_code in (400, 422) or (e.status_code == 500
                                           and "response_format" in str(e.message))


class _Retryable(Exception):
    def __init__(self, error_class: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.retry_after = retry_after


def _http_module() -> Any:
    """The HTTP library this openai release is built on (httpx, or its successor)."""
    return sys.modules[openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]]


def _http_limits(connections: int) -> Any:
    return _http_module().Limits(max_connections=connections,
                                 max_keepalive_connections=connections)


def _retry_after_seconds(response: Any) -> float | None:
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
