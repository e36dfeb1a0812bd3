"""Token accounting and the response cache's key: what a call is counted and found by."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..calls import ROLES, Sampling

__all__ = ["TokenCounter", "cache_key"]


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
