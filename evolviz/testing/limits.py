"""Rate limits for the scripted server, as real endpoints enforce them.

Two kinds, alone or together: a cap on requests in flight (what a self-hosted server or a
gateway with N workers does: a request above the cap is answered 429 at once), and a
number of requests per fixed window (what OpenAI's requests-per-minute limit does), with
the `x-ratelimit-*` headers OpenAI-compatible servers send on every reply, so a client can
pace itself before it is refused.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .wire import Response, error_body

__all__ = ["LimitState", "Limits"]


@dataclass(frozen=True)
class Limits:
    max_in_flight: int | None = None
    requests_per_window: int | None = None
    window: float = 1.0
    headers: bool = True  # send x-ratelimit-* headers with every chat reply
    retry_after: str | None = None  # Retry-After sent with a 429 (None: none)

    def __post_init__(self) -> None:
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if self.requests_per_window is not None and self.requests_per_window < 1:
            raise ValueError("requests_per_window must be >= 1")
        if self.window <= 0:
            raise ValueError("window must be > 0 seconds")


class LimitState:
    """The counters behind `Limits`; `admit` is called once per chat request."""

    def __init__(self, limits: Limits, clock=time.monotonic):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._used = 0
        self.refused = 0

    def _roll(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed >= self.limits.window:
            self._window_start += elapsed - elapsed % self.limits.window
            self._used = 0

    def admit(self, in_flight: int) -> Response | None:
        """None to serve the request, or the 429 to answer instead."""
        lim = self.limits
        with self._lock:
            self._roll(self._clock())
            over_cap = lim.max_in_flight is not None and in_flight >= lim.max_in_flight
            over_rate = (lim.requests_per_window is not None
                         and self._used >= lim.requests_per_window)
            if not (over_cap or over_rate):
                self._used += 1
                return None
            self.refused += 1
        what = "requests in flight" if over_cap else "requests per window"
        extra = (*self.headers(), *((("retry-after", lim.retry_after),)
                                    if lim.retry_after is not None else ()))
        return 429, error_body(f"Rate limit reached for {what} (fake server)", "requests",
                               "rate_limit_exceeded"), extra

    def headers(self) -> tuple[tuple[str, str], ...]:
        lim = self.limits
        if not lim.headers or lim.requests_per_window is None:
            return ()
        with self._lock:
            now = self._clock()
            self._roll(now)
            remaining = max(0, lim.requests_per_window - self._used)
            reset = lim.window - (now - self._window_start)
        return (("x-ratelimit-limit-requests", str(lim.requests_per_window)),
                ("x-ratelimit-remaining-requests", str(remaining)),
                ("x-ratelimit-reset-requests", f"{max(0.0, reset):.3f}s"))
