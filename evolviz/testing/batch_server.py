"""The scripted server with OpenAI's Files and Batches API, for batch mode's tests.

`FakeBatchServer` is `FakeOpenAIServer` (same chat route, same responder) plus
`/v1/files` (upload, retrieve, content) and `/v1/batches` (create, retrieve, list,
cancel). A batch line is answered by the very code that answers a live chat request, so a
batch run and a live run get the same scripted reply for the same request.

What a test can script:

- `batch_delay`: seconds from creation to completion (validating, then in_progress with
  counts that grow, then completed);
- `line_faults` (`LineFaults`): lines that fail (an HTTP error in the error file, or a
  malformed 200) or are left unfinished (the batch ends "expired"), fixed by custom id;
- `max_file_bytes`: a larger upload is refused with 413; `max_file_lines`: a larger
  batch fails validation; `max_enqueued_lines`: a batch that would put more lines than
  that in the queue (open batches) fails as OpenAI's enqueued-token limit makes it fail;
- cancel: a cancelled batch answers the lines it had reached and ends "cancelled".

What it records for assertions: `submissions` (custom id -> times sent in a batch),
`overlaps` (custom ids sent while already in an open batch: a batch submitted twice),
`created` (batch ids in order), `uploads`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .batch_wire import LineFaults, error_line, output_line, parse_multipart
from .fake_server import FakeOpenAIServer
from .wire import Response, error_body, json_bytes

__all__ = ["FakeBatchServer", "LineFaults"]

_TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass
class _File:
    id: str
    name: str
    purpose: str
    data: bytes
    created: int = field(default_factory=lambda: int(time.time()))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data),
                "created_at": self.created, "filename": self.name, "purpose": self.purpose,
                "status": "processed"}


@dataclass
class _Batch:
    id: str
    input_file_id: str
    lines: list[dict[str, Any]]
    metadata: dict[str, str]
    started: float
    created: int
    status: str = "validating"
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    cancel_at: float | None = None
    usage: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, Any]:
        total = len(self.lines)
        return {"id": self.id, "object": "batch", "endpoint": "/v1/chat/completions",
                "errors": ({"object": "list", "data": self.errors} if self.errors else None),
                "input_file_id": self.input_file_id, "completion_window": "24h",
                "status": self.status, "output_file_id": self.output_file_id,
                "error_file_id": self.error_file_id, "created_at": self.created,
                "request_counts": {"total": total, "completed": self.completed,
                                   "failed": self.failed},
                "usage": {"input_tokens": self.usage[0], "output_tokens": self.usage[1],
                          "total_tokens": sum(self.usage),
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}},
                "metadata": self.metadata}


class FakeBatchServer(FakeOpenAIServer):
    """`FakeOpenAIServer` that also runs batches (see the module's docstring)."""

    def __init__(self, responder: Any = None, *, batch_delay: float = 0.5,
                 line_faults: LineFaults | None = None, max_file_bytes: int | None = None,
                 max_file_lines: int | None = None, max_enqueued_lines: int | None = None,
                 **options: Any):
        super().__init__(responder, **options)
        self.batch_delay = batch_delay
        self.line_faults = line_faults
        self.max_file_bytes = max_file_bytes
        self.max_file_lines = max_file_lines
        self.max_enqueued_lines = max_enqueued_lines
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self.submissions: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.created: list[str] = []
        self.uploads = 0
        self._file_ids = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self._line_ids = itertools.count(1)

    async def _route(self, method: str, path: str, body: bytes) -> Response | None:
        path = path.rstrip("/")
        parts = path.split("/")[2:]  # after "/v1"
        if parts[:1] == ["files"]:
            return self._files(method, parts[1:], body)
        if parts[:1] == ["batches"]:
            return await self._batches(method, parts[1:], body)
        return await super()._route(method, path, body)

    # -- files ---------------------------------------------------------------------------

    def _files(self, method: str, rest: list[str], body: bytes) -> Response:
        if method == "POST" and not rest:
            try:
                fields = parse_multipart(body)
                name, data = fields["file"]
                purpose = fields.get("purpose", (None, b""))[1].decode()
            except (ValueError, KeyError, UnicodeDecodeError) as e:
                return 400, error_body(f"bad upload: {e}", "invalid_request_error"), ()
            if self.max_file_bytes is not None and len(data) > self.max_file_bytes:
                return 413, error_body(f"file of {len(data)} bytes is larger than this "
                                       f"endpoint takes ({self.max_file_bytes} bytes)",
                                       "invalid_request_error", "file_too_large"), ()
            self.uploads += 1
            return 200, json_bytes(self._new_file(name or "upload.jsonl", purpose,
                                                  data).to_dict()), ()
        f = self.files.get(rest[0]) if rest else None
        if f is None:
            return 404, error_body("no such file", "invalid_request_error"), ()
        if method == "GET" and len(rest) == 1:
            return 200, json_bytes(f.to_dict()), ()
        if method == "GET" and rest[1:] == ["content"]:
            return 200, f.data, ()
        return 405, error_body(f"no route {method} files/{'/'.join(rest)}",
                               "invalid_request_error"), ()

    def _new_file(self, name: str, purpose: str, data: bytes) -> _File:
        f = _File(f"file-{next(self._file_ids):05d}", name, purpose, data)
        self.files[f.id] = f
        return f

    # -- batches -------------------------------------------------------------------------

    async def _batches(self, method: str, rest: list[str], body: bytes) -> Response:
        if method == "POST" and not rest:
            return self._create(body)
        if method == "GET" and not rest:
            for b in self.batches.values():
                await self._advance(b)
            data = [b.to_dict() for b in reversed(self.batches.values())]
            return 200, json_bytes({"object": "list", "data": data, "has_more": False,
                                    "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None}), ()
        b = self.batches.get(rest[0]) if rest else None
        if b is None:
            return 404, error_body("no such batch", "invalid_request_error"), ()
        if method == "POST" and rest[1:] == ["cancel"]:
            if b.status not in _TERMINAL and b.status != "cancelling":
                b.status, b.cancel_at = "cancelling", time.monotonic()
            return 200, json_bytes(b.to_dict()), ()
        if method == "GET" and len(rest) == 1:
            await self._advance(b)
            return 200, json_bytes(b.to_dict()), ()
        return 405, error_body("no such route", "invalid_request_error"), ()

    def _create(self, body: bytes) -> Response:
        try:
            req = json.loads(body)
            file_id, endpoint = req["input_file_id"], req["endpoint"]
        except (ValueError, KeyError, TypeError) as e:
            return 400, error_body(f"bad batch request: {e}", "invalid_request_error"), ()
        f = self.files.get(file_id)
        if f is None:
            return 404, error_body(f"no such file {file_id}", "invalid_request_error"), ()
        if endpoint != "/v1/chat/completions":
            return 400, error_body(f"unsupported endpoint {endpoint}",
                                   "invalid_request_error"), ()
        lines, errors = [], []
        for n, raw in enumerate(f.data.splitlines(), 1):
            try:
                line = json.loads(raw)
                if not isinstance(line.get("custom_id"), str) or not isinstance(
                        line.get("body"), dict):
                    raise ValueError("custom_id and body are required")
                lines.append(line)
            except (ValueError, AttributeError) as e:
                errors.append({"code": "invalid_json_line", "message": str(e), "line": n})
        ids = [ln["custom_id"] for ln in lines]
        if len(set(ids)) != len(ids):
            errors.append({"code": "duplicate_custom_id", "message": "custom ids repeat",
                           "line": None})
        if self.max_file_lines is not None and len(lines) > self.max_file_lines:
            errors.append({"code": "too_many_requests", "line": None,
                           "message": f"{len(lines)} requests; at most "
                                      f"{self.max_file_lines} per batch"})
        queued = sum(len(o.lines) for o in self.batches.values() if o.status not in _TERMINAL)
        if not errors and self.max_enqueued_lines is not None and (
                queued + len(lines) > self.max_enqueued_lines):
            errors.append({"code": "token_limit_exceeded", "line": None,
                           "message": f"Enqueued token limit reached: {queued} lines in "
                                      f"the queue, {self.max_enqueued_lines} at most"})
        b = _Batch(f"batch_{next(self._batch_ids):05d}", file_id, lines,
                   dict(req.get("metadata") or {}), time.monotonic(), int(time.time()))
        if errors:
            b.status, b.errors = "failed", errors
        else:
            open_ids = {ln["custom_id"] for o in self.batches.values()
                        if o.status not in _TERMINAL for ln in o.lines}
            self.overlaps += [i for i in ids if i in open_ids]
            self.submissions.update(ids)
        self.batches[b.id] = b
        self.created.append(b.id)
        return 200, json_bytes(b.to_dict()), ()

    async def _advance(self, b: _Batch) -> None:
        """Move a batch along its clock: validating, in progress, then done."""
        if b.status in _TERMINAL:
            return
        now = time.monotonic()
        elapsed = now - b.started
        if b.status == "cancelling":
            cancel_at = b.cancel_at if b.cancel_at is not None else now
            if now - cancel_at >= min(0.2, self.batch_delay):
                reached = min(1.0, (cancel_at - b.started) / max(self.batch_delay, 1e-9))
                await self._execute(b, int(len(b.lines) * reached), "cancelled")
            return
        if elapsed >= self.batch_delay:
            await self._execute(b, len(b.lines), "completed")
        elif elapsed >= 0.2 * self.batch_delay:
            b.status = "in_progress"
            b.completed = int(len(b.lines) * elapsed / max(self.batch_delay, 1e-9))

    async def _execute(self, b: _Batch, reach: int, final: str) -> None:
        """Answer the first `reach` lines (the rest stay unanswered) and file the results."""
        out, err, prompt, completion = [], [], 0, 0
        expired = False
        for i, line in enumerate(b.lines):
            cid, n = line["custom_id"], next(self._line_ids)
            if i >= reach:
                err.append(error_line(n, cid, code="batch_cancelled",
                                      message="the batch was cancelled first"))
                continue
            fault = self.line_faults(cid, self.submissions[cid]) if self.line_faults else None
            request = line["body"]
            if fault == "expire":
                expired = True
                err.append(error_line(n, cid, code="batch_expired", message="This request "
                                      "could not be executed before the window expired."))
            elif fault == "malformed":
                out.append(output_line(n, cid, 200, {"object": "chat.completion",
                                                     "choices": []}))
            elif fault is not None:
                err.append(error_line(n, cid, status=int(fault),
                                      message=f"Injected {fault} for this line"))
            elif "response_format" in request and not self.structured_output:
                err.append(error_line(n, cid, status=400, message="'response_format' is "
                                      "not supported by this endpoint"))
            else:
                status, payload, _ = await self._answer(None, request, str(request.get(
                    "model")), list(request.get("messages") or []))  # type: ignore[misc]
                answer = json.loads(payload)
                usage = answer.get("usage") or {}
                prompt += int(usage.get("prompt_tokens") or 0)
                completion += int(usage.get("completion_tokens") or 0)
                out.append(output_line(n, cid, status, answer))
        b.status = "expired" if expired and final == "completed" else final
        b.completed, b.failed = len(out), sum(1 for e in err if e["response"] is not None)
        b.usage = (prompt, completion)
        if out:
            b.output_file_id = self._new_file(f"{b.id}_output.jsonl", "batch_output",
                                              _jsonl(out)).id
        if err:
            b.error_file_id = self._new_file(f"{b.id}_errors.jsonl", "batch_output",
                                             _jsonl(err)).id


def _jsonl(objs: list[dict[str, Any]]) -> bytes:
    return b"".join(json_bytes(o) + b"\n" for o in objs)
