"""The faults the scripted server can inject, by name (see `fake_server` for what the
`openai` client does with each).

What the `openai` client does with each fault kind (checked with openai 3.57, which runs on
`httpx2`), i.e. what the engine has to handle. With `max_retries=0`:

    kind            server sends                          openai raises / returns
    429             429 + `Retry-After: 0`                RateLimitError (.response.headers)
    500, 503        500 / 503 + error JSON                InternalServerError
    timeout         nothing for `hang_seconds`, closes    APITimeoutError (client timeout)
    drop            closes the socket, no response        APIConnectionError
    broken_json     200, application/json, cut-off body   json.JSONDecodeError (a ValueError,
                                                          not an openai.OpenAIError, and not
                                                          retried): the engine must catch it
                                                          and treat it as a malformed reply
    empty_choices   200, "choices": []                    a ChatCompletion, choices == []
                                                          (choices[0] -> IndexError)
    null_content    200, message.content null             a ChatCompletion, content is None
    length          200, first words, finish "length"     a ChatCompletion, finish_reason
                                                          "length", content truncated
    content_filter  200, "", finish "content_filter"      a ChatCompletion, content == ""

With retries on, openai itself retries 429, 5xx, timeouts and dropped connections (each retry
is a new request here and counts in `stats`); it never retries the 200 cases, which only the
engine can recognise as bad. Note openai ignores `Retry-After: 0` (it only honours values in
(0, 120] seconds, or `retry-after-ms`) and falls back to its own backoff of 0.5 s, doubling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ALL_FAULTS", "LENGTH_FAULT_WORDS", "FaultKind", "Faults", "check_kinds"]


class FaultKind(StrEnum):
    """What a request can be made to suffer instead of a clean reply."""

    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    TIMEOUT = "timeout"
    DROP = "drop"
    BROKEN_JSON = "broken_json"
    EMPTY_CHOICES = "empty_choices"
    NULL_CONTENT = "null_content"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"


ALL_FAULTS: tuple[str, ...] = tuple(k.value for k in FaultKind)

# How many words a "length" fault keeps: short enough to be visibly cut, long enough that
# the engine cannot tell it from a real answer by emptiness alone.
LENGTH_FAULT_WORDS = 3


@dataclass(frozen=True)
class Faults:
    """Random fault injection. `rate` is the chance each chat request fails; `kinds` is drawn
    from uniformly. Seeded so a failing run can be replayed exactly."""

    rate: float = 0.0
    kinds: Sequence[str] = ALL_FAULTS
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate!r}")
        if isinstance(self.kinds, str):
            raise TypeError("kinds must be a sequence of fault names, not one string")
        kinds = tuple(self.kinds)
        check_kinds(kinds)
        if not kinds:
            raise ValueError("kinds must name at least one fault")
        object.__setattr__(self, "kinds", kinds)


def check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in ALL_FAULTS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(ALL_FAULTS)}")


