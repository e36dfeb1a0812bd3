"""How many calls are in flight, adapted to what the endpoint allows.

Why not a fixed semaphore: `--concurrency 256` against an endpoint that serves 40 at once
keeps 216 calls bouncing off 429s for the whole run. The `Pacer` keeps a limit between 1
and the configured ceiling and moves it the way TCP moves its window (AIMD):

- it starts at min(ceiling, 32), so a run against a small cap overshoots by a few calls,
  not by hundreds;
- below any cap found so far each success adds 1 (the limit doubles per round trip, as
  TCP's slow start), so a big endpoint gets its full concurrency within a round trip or
  two, and the limit climbs back at once after a cut;
- a 429 lowers it at once to what was in flight beside that call when it was sent (the
  endpoint just said that is its capacity), and multiplicatively (x0.9), at most once per
  round trip, so a burst of 429s from one overshoot counts once;
- at or above that cap each success adds 1/(4 x limit): about +1 per four round trips,
  so the limit spends its time at the cap and probes past it rarely (the endpoint's
  capacity may grow), each probe costing one 429.

Rate-limit headers, when the endpoint sends them (OpenAI's `x-ratelimit-remaining-requests`,
`-tokens` and their `-reset-` times), pace the starts before a 429 happens: the remaining
requests are spread over the time to their reset, and when the remaining tokens would not
cover the calls in flight, new calls wait for the tokens' reset.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Mapping

__all__ = ["Pacer", "parse_reset"]

#: The most a limit starts at: enough for a real endpoint's first round trip, few enough
#: that a small cap is found after a handful of 429s.
START_LIMIT = 32
DECREASE = 0.9
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str | None) -> float | None:
    """Seconds from a reset header: "1s", "6m0s", "59.2s", "20ms", or a bare number."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


class Pacer:
    """The gate every call passes: `async with pacer.slot() as ticket`, then report."""

    def __init__(self, ceiling: int, *, clock=time.monotonic):
        if ceiling < 1:
            raise ValueError("ceiling must be >= 1")
        self.ceiling = ceiling
        self.limit = float(min(ceiling, START_LIMIT))
        self.in_flight = 0
        self.rate_limited = 0  # 429s seen
        self.cap: int | None = None  # the in-flight level a 429 last revealed
        self._clock = clock
        self._last_cut = -1.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._next_start = 0.0  # header pacing: no start before this
        self._gap = 0.0
        self._done: deque[float] = deque()  # completion times, for calls/s
        self._tokens_per_call = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- admission -----------------------------------------------------------------------

    def reset_loop(self) -> None:
        """Forget waiters of another event loop (a client reused on a new loop)."""
        self._waiters.clear()
        self.in_flight = 0
        self._timer = None

    async def acquire(self) -> tuple[float, int]:
        """Wait for room; returns (start time, calls in flight beside this one)."""
        while not self._may_start():
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            self._arm_timer()
            try:
                await fut
            except BaseException:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                self._wake()  # pass the turn on if we were woken and then cancelled
                raise
        now = self._clock()
        if self._gap:
            self._next_start = max(self._next_start, now) + self._gap
        self.in_flight += 1
        return now, self.in_flight - 1

    def _may_start(self) -> bool:
        return self.in_flight < max(1, int(self.limit)) and self._clock() >= self._next_start

    def _arm_timer(self) -> None:
        """Header pacing holds calls until a time, not until a release: wake them then."""
        wait = self._next_start - self._clock()
        if wait > 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._wake()

    def _wake(self) -> None:
        room = max(1, int(self.limit)) - self.in_flight
        while self._waiters and room > 0:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                room -= 1
        if self._waiters:
            self._arm_timer()

    def release(self) -> None:
        self.in_flight -= 1
        self._done.append(self._clock())
        self._wake()

    # -- feedback ------------------------------------------------------------------------

    def success(self, tokens: int = 0) -> None:
        # Below any known cap: +1 a success, doubling per round trip; at the cap: +1 per
        # four round trips.
        below = self.cap is None or self.limit < self.cap
        step = 1.0 if below else 0.25 / max(1.0, self.limit)
        self.limit = min(float(self.ceiling), self.limit + step)
        if tokens:  # a running mean, for the token headers' pacing
            weight = 0.05 if self._tokens_per_call else 1.0
            self._tokens_per_call += (tokens - self._tokens_per_call) * weight
        self._wake()

    def rate_limited_at(self, started: float, beside: int) -> None:
        """A 429 for a call started at `started` with `beside` other calls in flight."""
        self.rate_limited += 1
        if started > self._last_cut:  # a new overshoot: one multiplicative cut for it
            self.cap = max(1, beside)
            limit = min(self.limit, float(self.cap)) * DECREASE
            self._last_cut = self._clock()
        else:  # the same overshoot: the fewest in flight that were refused is the cap
            self.cap = max(1, min(self.cap or beside, beside))
            limit = min(self.limit, float(self.cap) * DECREASE)
        self.limit = max(1.0, limit)

    def headers(self, headers: Mapping[str, str]) -> None:
        """Pace by the rate-limit headers of a response, when it has them."""
        remaining = _int(headers.get("x-ratelimit-remaining-requests"))
        reset = parse_reset(headers.get("x-ratelimit-reset-requests"))
        now = self._clock()
        if remaining is not None and reset is not None:
            if remaining <= 0:
                self._next_start = max(self._next_start, now + reset)
            # What is left, spread evenly over the time until it is renewed.
            self._gap = reset / max(1, remaining)
        tokens_left = _int(headers.get("x-ratelimit-remaining-tokens"))
        tokens_reset = parse_reset(headers.get("x-ratelimit-reset-tokens"))
        if (tokens_left is not None and tokens_reset is not None and self._tokens_per_call
                and tokens_left < self._tokens_per_call * (self.in_flight + 1)):
            self._next_start = max(self._next_start, now + tokens_reset)

    # -- what the progress line shows ----------------------------------------------------

    def calls_per_second(self, window: float = 10.0) -> float:
        now = self._clock()
        while self._done and self._done[0] < now - window:
            self._done.popleft()
        if not self._done:
            return 0.0
        span = min(window, max(now - self._done[0], 1e-3))
        return len(self._done) / span
