"""What the scripted server saw, for a test's assertions."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

__all__ = ["ServerStats"]


class ServerStats:
    """Counters for assertions. Written on the server thread under a lock, so `snapshot()`
    is consistent even while a benchmark is still running; plain attribute reads are fine
    once the requests of interest have completed.

    `requests` counts chat-completion requests that parsed; `invalid` those rejected with
    400. `outcomes` holds "ok" or the fault kind per chat request in arrival order (always
    kept: a few bytes each). `bodies` holds the parsed request bodies, capped by
    `keep_requests` (True: all, False: none, an int: the most recent that many).
    """

    def __init__(self, keep_requests: bool | int = True) -> None:
        if keep_requests is True:
            maxlen: int | None = None
        elif keep_requests is False:
            maxlen = 0
        elif isinstance(keep_requests, int) and keep_requests >= 0:
            maxlen = keep_requests
        else:
            raise ValueError(f"keep_requests must be a bool or an int >= 0: {keep_requests!r}")
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything except what is in flight right now."""
        with self._lock:
            self.requests = 0
            self.invalid = 0
            self.connections = 0
            self.faults: Counter[str] = Counter()
            # Authorization headers seen, so a test can prove a key was sent (and only there)
            self.authorizations: Counter[str] = Counter()
            self.models: Counter[str] = Counter()
            self.outcomes: list[str] = []
            self.bodies: deque[dict[str, Any]] = deque(maxlen=self._maxlen)
            self.in_flight = getattr(self, "in_flight", 0)
            self.max_in_flight = self.in_flight

    @property
    def ok(self) -> int:
        """Chat requests that got no injected fault (responder errors still count here)."""
        return self.requests - sum(self.faults.values())

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy, safe to take while requests are still being served."""
        with self._lock:
            return {
                "requests": self.requests,
                "ok": self.requests - sum(self.faults.values()),
                "invalid": self.invalid,
                "connections": self.connections,
                "faults": dict(self.faults),
                "models": dict(self.models),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }

    def _begin(self, body: dict[str, Any], model: str, outcome: str) -> None:
        with self._lock:
            self.requests += 1
            self.models[model] += 1
            if outcome != "ok":
                self.faults[outcome] += 1
            self.outcomes.append(outcome)
            self.bodies.append(body)
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight

    def _authorized(self, value: str) -> None:
        with self._lock:
            self.authorizations[value] += 1

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def __repr__(self) -> str:
        return f"ServerStats({self.snapshot()})"
