"""Batch mode's lines: a call as one line of a request file, a result line back as a call.

A line's body is `LLMClient.request_body` (what a live call sends) and a result line's
body is read by `read_completion` (what reads a live reply), so a batch call asks and
records exactly what a live one does. Failures are named by the live client's error
classes (RateLimited, ServerError, BadRequest, MalformedResponse...) so a candidate fails
the same way in both modes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..calls import CallName, CallResult, Role, Sampling, read_completion
from ..errors import BatchError
from ..store.batches import LineOutcome, LineRow

__all__ = ["RETRYABLE", "STAGES", "Line", "call_result", "custom_id", "iter_jsonl",
           "outcome_of", "role_of", "split_files", "stage_of"]

#: Stages in the order their batches go out within one pass.
STAGES = ("rewrite", "equality", "answer", "difficulty", "reask", "retry")

#: Error classes worth sending again (as the live client retries them).
RETRYABLE = frozenset({"RateLimited", "ServerError", "Timeout", "ConnectionError",
                       "MalformedResponse", "BatchLineError"})

_ROLE = {CallName.REWRITE: Role.EVOLVER, CallName.ANSWER: Role.ANSWERER}


def role_of(name: str) -> str:
    """The role a call name is made for (what a result line is accounted under)."""
    return _ROLE.get(name, Role.JUDGE)  # type: ignore[call-overload]


def stage_of(name: str, resent: bool) -> str:
    if resent:
        return "retry"
    return "reask" if name.endswith("_reask") else name


def custom_id(owner: str, name: str) -> str:
    """`owner/name`, fixed by the candidate (or seed) and the call; a long seed id is
    hashed so the id stays short enough for every provider."""
    if len(owner) > 48:
        owner = owner.split(":", 1)[0] + ":" + hashlib.sha256(owner.encode()).hexdigest()[:24]
    return f"{owner}/{name}"


@dataclass
class Line:
    """A call waiting to go out."""

    custom_id: str
    owner: str
    name: str
    key: str  # the call's cache key: which request this is
    stage: str
    body: dict[str, Any]
    role: str
    messages: list[dict[str, str]]
    sampling: Sampling

    @property
    def sent_format(self) -> bool:
        return "response_format" in self.body

    def encode(self) -> bytes:
        return (json.dumps({"custom_id": self.custom_id, "method": "POST",
                            "url": "/v1/chat/completions", "body": self.body},
                           ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def split_files(lines: Sequence[Line], max_requests: int,
                max_bytes: int) -> Iterator[tuple[list[Line], bytes]]:
    """Request files within the provider's limits, in order; a single line larger than
    a whole file is refused here, naming it, since no provider would take it."""
    part: list[Line] = []
    chunks: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode()
        if len(data) > max_bytes:
            raise BatchError(f"request {line.custom_id} alone is {len(data):,} bytes, more "
                             f"than a whole batch file may hold ({max_bytes:,}); raise "
                             f"batch_max_mb if the endpoint takes larger files",
                             field="batch_max_mb")
        if part and (len(part) >= max_requests or size + len(data) > max_bytes):
            yield part, b"".join(chunks)
            part, chunks, size = [], [], 0
        part.append(line)
        chunks.append(data)
        size += len(data)
    if part:
        yield part, b"".join(chunks)


def iter_jsonl(data: bytes) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL result file; a broken line is skipped (its request stays
    unanswered and goes out again)."""
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
            yield obj


def _error_class(status: int | None) -> str:
    if status == 429:
        return "RateLimited"
    if status is not None and (status >= 500 or status in (408, 409)):
        return "ServerError"
    if status is not None and 400 <= status < 500:
        return "BadRequest"
    return "BatchLineError"


def _message(resp: dict[str, Any], err: Any) -> str:
    """The reason a line failed, wherever its writer put it: OpenAI's error body, an
    `error` object (vLLM's runner nests one more `error`), or plain text."""
    body = resp.get("body") if isinstance(resp, dict) else None
    for source in (body, err):
        if isinstance(source, str) and source:
            return source
        if isinstance(source, dict):
            inner = source.get("error") if isinstance(source.get("error"), dict) else source
            if inner.get("message"):
                return str(inner["message"])
    return "the batch returned no answer for this request"


def outcome_of(obj: dict[str, Any], prev: LineRow, batch_id: str,
               latency: float) -> tuple[LineOutcome, int | None]:
    """One result line as the outcome of its request, and the HTTP status when it says
    the endpoint refuses every call (401/403/404), which stops the run."""
    cid = prev.custom_id
    resp = obj.get("response") if isinstance(obj.get("response"), dict) else {}
    err = obj.get("error")
    status = resp.get("status_code") if resp else None
    retries = list((prev.result or {}).get("retries", []))
    if status == 200 and isinstance(resp.get("body"), dict):
        probe = CallResult("", "", [], {})
        problem = read_completion(resp["body"], probe)
        if problem is None:
            result = {"content": probe.content, "finish_reason": probe.finish_reason,
                      "prompt_tokens": probe.prompt_tokens,
                      "completion_tokens": probe.completion_tokens, "batch_id": batch_id,
                      "retries": retries, "latency_s": latency}
            return LineOutcome(cid, "done", result, probe.prompt_tokens,
                               probe.completion_tokens), None
        error_class, message = "MalformedResponse", problem
    else:
        code = err.get("code") if isinstance(err, dict) else None
        if code in ("batch_expired", "batch_cancelled"):
            return LineOutcome(cid, "unsent", prev.result), None
        if status in (401, 403, 404):
            return LineOutcome(cid, "unsent", prev.result), int(status)
        message = _message(resp, err)
        if prev.sent_format and (status in (400, 422) or (
                status == 500 and "response_format" in message)):
            # The endpoint refuses structured output: asked again without, as live.
            result = {"retries": [*retries, "StructuredOutputRefused"], "batch_id": batch_id}
            return LineOutcome(cid, "refused", result), None
        error_class = _error_class(status)
    result = {"error_class": error_class, "error": message[:2000], "batch_id": batch_id,
              "retries": [*retries, error_class], "latency_s": latency,
              "final": error_class not in RETRYABLE}
    return LineOutcome(cid, "failed", result, counts_as_attempt=True), None


def call_result(row: LineRow, role: str, model: str, messages: list[dict[str, str]],
                sampling: Sampling, fmt: dict[str, Any] | None) -> CallResult:
    """The record of a batched call, from its request and its collected result."""
    r = row.result or {}
    res = CallResult(role=role, model=model, messages=messages, sampling=sampling.to_dict())
    res.content = r.get("content")
    res.finish_reason = r.get("finish_reason")
    res.prompt_tokens = int(r.get("prompt_tokens") or 0)
    res.completion_tokens = int(r.get("completion_tokens") or 0)
    res.latency_s = float(r.get("latency_s") or 0.0)
    res.batch_id = r.get("batch_id")
    res.retries = list(r.get("retries") or [])
    res.attempts = max(1, row.submissions)
    res.error_class = r.get("error_class")
    res.error = r.get("error")
    res.response_format = dict(fmt) if fmt is not None and row.sent_format else None
    return res
