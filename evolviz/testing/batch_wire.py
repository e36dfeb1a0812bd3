"""The batch server's wire pieces: multipart uploads, scripted line faults, result lines."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LineFaults", "error_line", "output_line", "parse_multipart"]

_NAME = re.compile(rb'\bname="([^"]*)"')
_FILENAME = re.compile(rb'\bfilename="([^"]*)"')


def parse_multipart(body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (file name or None, content).

    The boundary is read from the body's first line (the route sees no headers); what
    httpx sends for `files.create` always starts with it.
    """
    first, sep, _ = body.partition(b"\r\n")
    if not sep or not first.startswith(b"--"):
        raise ValueError("not a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(first)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a multipart part without a blank line after its headers")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        name = _NAME.search(head)
        if name is None:
            raise ValueError("a multipart part without a name")
        filename = _FILENAME.search(head)
        fields[name.group(1).decode()] = (filename.group(1).decode() if filename else None,
                                          content)
    return fields


def _unit(*parts: object) -> float:
    h = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


@dataclass
class LineFaults:
    """Which lines of a batch fail, fixed by each line's custom id, so two runs (one
    killed and resumed, one not) see the same faults whatever the batches' make-up.

    A line whose id hashes under `expire_rate` is left unfinished the first time it is
    sent (its batch ends "expired"); one under `fail_rate` is answered with an error
    (`kinds`: an HTTP status as text, or "malformed" for a 200 with no choices) on each of
    its first `fail_times` submissions.
    """

    fail_rate: float = 0.0
    kinds: Sequence[str] = ("500",)
    fail_times: int = 1
    expire_rate: float = 0.0
    seed: int = 0

    def __call__(self, custom_id: str, submission: int) -> str | None:
        if submission == 1 and _unit(self.seed, "expire", custom_id) < self.expire_rate:
            return "expire"
        if submission <= self.fail_times and _unit(self.seed, "fail", custom_id) < \
                self.fail_rate:
            kinds = list(self.kinds)
            return kinds[int(_unit(self.seed, "kind", custom_id) * len(kinds))]
        return None


def output_line(n: int, custom_id: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"batch_req_{n}", "custom_id": custom_id,
            "response": {"status_code": status, "request_id": f"req_{n}", "body": body},
            "error": None}


def error_line(n: int, custom_id: str, *, status: int | None = None, message: str,
               code: str | None = None) -> dict[str, Any]:
    """A failed line as OpenAI writes it: an HTTP error response, or no response and an
    error code (batch_expired, batch_cancelled)."""
    if status is None:
        return {"id": f"batch_req_{n}", "custom_id": custom_id, "response": None,
                "error": {"code": code, "message": message}}
    body = {"error": {"message": message, "type": "server_error" if status >= 500 else
                      "invalid_request_error", "param": None, "code": code}}
    return output_line(n, custom_id, status, body)
