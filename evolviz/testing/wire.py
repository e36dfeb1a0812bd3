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
           "default_responder", "encode", "error_body", "json_bytes", "parse_head",
           "prompt_tokens", "read_request"]


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


def completion_body(model: str, content: str | None, finish_reason: str, messages: list[Any],
                    *, completion_id: str, with_choice: bool = True,
                    text: bool = False) -> bytes:
    """A chat.completion body (`text`: a text_completion's, the reply as "text"), usage
    counted in words (at least one completion token); `with_choice=False` sends
    "choices": [] (the empty_choices fault)."""
    completion_tokens = max(1, count_words(content))
    prompt = prompt_tokens(messages)
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish_reason}
    if text:
        choice["text"] = content
    else:
        choice["message"] = {"role": "assistant", "content": content}
    choices = [choice] if with_choice else []
    return json_bytes({
        "id": completion_id,
        "object": "text_completion" if text else "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                  "total_tokens": prompt + completion_tokens},
    })


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(message: str, type_: str, code: str | None = None) -> bytes:
    return json_bytes({"error": {"message": message, "type": type_, "param": None, "code": code}})


def read_request(raw: bytes, *, completion: bool = False
                 ) -> tuple[dict[str, Any], str, list[Any]]:
    """A chat request's JSON, model and messages; a text completion's prompt becomes one
    message of role "completion" (what evolviz's completion-style templates render to),
    so a responder reads both alike. ValueError says what a real server would refuse."""
    try:
        request = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"request body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ValueError("request body must be a JSON object")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("'model' is required")
    if completion:
        prompt = request.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("'prompt' must be a string")
        request = {**request, "messages": [{"role": "completion", "content": prompt}]}
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise ValueError("'messages' must be a list")
    return request, model, messages


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
