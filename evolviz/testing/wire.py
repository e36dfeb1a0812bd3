"""The scripted server's wire format: replies, responders, and HTTP/1.1 framing."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = ["DROP", "Reply", "Responder", "check_loopback", "completion_body", "count_words",
           "default_responder", "encode", "error_body", "json_bytes", "parse_head", "prompt_tokens"]


@dataclass
class Reply:
    """What a responder may return when a plain string (finish_reason "stop") is not enough."""

    content: str | None
    finish_reason: str = "stop"


Responder = Callable[[dict[str, Any]], "Reply | str | Awaitable[Reply | str]"]
"""Gets the parsed request JSON and returns the assistant message.

It runs on the server's thread, so anything it shares with the test must be thread-safe
(appending to a list or popping from a deque is). It may be a coroutine function: awaiting
lets a test hold a request open until it says so. Only requests answered with content (no
fault, or the "length" fault) reach it, so a scripted sequence of replies is not used up by
requests that fail anyway. If it raises, the client gets a 500 naming the exception.
"""


_WORDS = (
    "river", "lantern", "method", "garden", "signal", "harbor", "pattern", "engine",
    "window", "ledger", "meadow", "circuit", "compass", "marble", "thread", "orchard",
    "beacon", "canvas", "summit", "filter", "anchor", "prism", "valley", "atlas",
    "cipher", "quarry", "timber", "vector", "glacier", "mosaic", "saddle", "tunnel",
)  # fmt: skip


def default_responder(request: dict[str, Any]) -> str:
    """A short sentence fixed by the messages, so identical prompts get identical answers
    (cache tests) and different prompts get different ones (dedup tests). It avoids "sorry"
    and prompt-marker words so the elimination rules pass it by default."""
    messages = request.get("messages")
    digest = hashlib.blake2b(
        json.dumps(messages, sort_keys=True, ensure_ascii=False).encode(), digest_size=8
    ).digest()
    words = " ".join(_WORDS[b % len(_WORDS)] for b in digest)
    return f"Fake reply {digest[:4].hex()}: {words}."


def count_words(text: object) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def prompt_tokens(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts
            total += sum(count_words(p.get("text")) for p in content if isinstance(p, dict))
        else:
            total += count_words(content)
    return max(1, total)


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def completion_body(id_: str, model: str, messages: list[Any], content: str | None,
                    finish_reason: str, *, choices: bool = True) -> bytes:
    """A chat completion as OpenAI sends it (no choices at all when `choices` is False)."""
    completion = max(1, count_words(content))
    prompt = prompt_tokens(messages)
    choice = {"index": 0, "message": {"role": "assistant", "content": content},
              "logprobs": None, "finish_reason": finish_reason}
    return json_bytes({
        "id": id_, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [choice] if choices else [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    })


def error_body(message: str, type_: str, code: str | None = None) -> bytes:
    return json_bytes({"error": {"message": message, "type": type_, "param": None, "code": code}})


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"FakeOpenAIServer only binds to loopback (127.0.0.1, ::1, localhost), not {host!r}:"
            " it has no authentication and exists for local tests"
        )


_REASONS = {s.value: s.phrase for s in HTTPStatus}

# A response is (status, body, extra headers); DROP means close the socket without one.
Response = tuple[int, bytes, tuple[tuple[str, str], ...]]
DROP = None


def encode(response: Response, keep_alive: bool) -> bytes:
    status, body, extra = response
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n"
    )
    for name, value in extra:
        head += f"{name}: {value}\r\n"
    return (head + "\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return method, target, version, headers
