"""The records of LLM calls: what was asked for (`Sampling`) and what came back
(`CallResult`), plus the names of roles and calls.

Kept apart from the client so that the store, the records and the rules can read and write
call records without importing `openai`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["COMPLETION", "ROLES", "CallName", "CallResult", "Role", "Sampling", "call_seed",
           "read_completion"]


class Role(StrEnum):
    """Who a call is for: each role can have its own model and sampling."""

    EVOLVER = "evolver"
    ANSWERER = "answerer"
    JUDGE = "judge"


class CallName(StrEnum):
    """The calls a candidate can make, the keys of `Candidate.calls`."""

    REWRITE = "rewrite"
    EQUALITY = "equality"
    EQUALITY_REASK = "equality_reask"  # asked once more when the first reply was unreadable
    ANSWER = "answer"
    DIFFICULTY = "difficulty"
    DIFFICULTY_REASK = "difficulty_reask"


ROLES = tuple(r.value for r in Role)

#: The role of the one message a completion-style prompt is made of: the client sends its
#: content as the prompt of the completions API instead of as a chat.
COMPLETION = "completion"


def call_seed(run_seed: int, key: str, name: str) -> int:
    """The seed sent with one call: fixed by the run, what the call is for (a candidate or
    a seed id) and the call's name, so a replay asks the same, and a scripted endpoint can
    tell which call it is serving."""
    digest = hashlib.sha256(f"{run_seed}/{key}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters sent with a call; part of the cache key and of each record."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    # llama.cpp's own sampling knob (its servers read `repeat_penalty`); None: not sent,
    # so a request to any other endpoint, and every existing cache key, stays as it was.
    repeat_penalty: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        if self.repeat_penalty is None:
            del d["repeat_penalty"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sampling:
        return cls(
            temperature=float(d.get("temperature", 0.7)),
            top_p=float(d.get("top_p", 1.0)),
            max_tokens=int(d.get("max_tokens", 512)),
            stop=tuple(d.get("stop") or ()),
            repeat_penalty=(float(d["repeat_penalty"]) if d.get("repeat_penalty") is not None
                            else None),
        )


@dataclass
class CallResult:
    """What one logical call produced, kept verbatim on the candidate record."""

    role: str
    model: str
    messages: list[dict[str, str]]
    sampling: dict[str, Any]
    content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    error_class: str | None = None
    error: str | None = None
    retries: list[str] = field(default_factory=list)
    # The structured-output request sent (None: plain text was asked for, or the endpoint
    # refused the request with one and it was sent again without).
    response_format: dict[str, Any] | None = None
    # The provider's id of the batch that answered this call (None: a live call). Records
    # written before batch mode have no such key and load with None.
    batch_id: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict: asdict deep-copies every message, and this runs
        # for every call of every candidate.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CallResult:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def read_completion(data: Any, result: CallResult) -> str | None:
    """File a chat completion's content, finish reason and tokens on `result`; or say why
    the body is not a usable completion (a retryable "MalformedResponse").

    One reader for every way a completion arrives: a live call's body, and the `body` of a
    batch result line, so a batch call's record equals a live one's.
    """
    try:
        choices = data.get("choices")
        if not choices:
            return "the response has no choices"
        choice = choices[0]
        # A chat completion's message, or a text completion's text (a completion-style
        # prompt, see `COMPLETION`).
        content = (choice["text"] if "text" in choice
                   else (choice.get("message") or {}).get("content"))
        finish = choice.get("finish_reason")
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
    except (ValueError, AttributeError, TypeError, IndexError) as e:
        return f"the body is not a chat completion ({type(e).__name__})"
    if content is not None and not isinstance(content, str):
        return "the message content is not text"
    if content is None and finish not in ("content_filter", "length"):
        return "the response message has no content"
    result.content = content
    result.finish_reason = finish
    result.prompt_tokens = prompt_tokens
    result.completion_tokens = completion_tokens
    return None
