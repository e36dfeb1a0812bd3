"""Is the endpoint up? A circuit breaker shared by every call of one client.

Why: retries are per call, so an endpoint that is down (nothing listening, a gateway
answering 5xx, every call timing out) used to exhaust every call's retries and record each
candidate as failed: hours of failures written into the store on a big run, and an exit
code of 0. A failure says something about the call only while the endpoint is otherwise
healthy; when it is not, the calls should wait for it, not fail.

How the client uses it, for connection errors, timeouts and 5xx only (a 429 or a
malformed reply is the endpoint answering):

- `failed(...)` after each such failure. After `threshold` of them in a row with no
  success between, or when a call has used up its retries and no other call succeeded
  while its last attempt was out, the breaker asks `probe` (one cheap request: the models list).
  If it answers, the endpoint is up and the call's failure is its own.
  If the probe fails too, the endpoint is down: the breaker opens, and every call that
  fails (or arrives) waits, uncharged, while one probe at a time checks again with
  backoff (1, 2, 4 ... 30 s). When a probe answers, the calls go again.
- `succeeded()` after each success: the streak ends, the outage (if any) is over.
- If no call through this client has ever succeeded, `threshold` failures in a row are
  not an outage but a wrong or broken endpoint (down, or failing every call while its
  models list answers): `EndpointUnreachable`, before anything is recorded. Until then
  a call that used up its retries tries again uncharged: one early 500 is not yet a
  verdict on the call or on the endpoint.
- An outage longer than `max_outage` seconds raises `EndpointOutage` in every waiting
  call: the run stops cleanly and the same command resumes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..errors import EndpointOutage, EndpointUnreachable

__all__ = ["DEFAULT_MAX_OUTAGE", "EndpointHealth"]

DEFAULT_MAX_OUTAGE = 600.0
#: Endpoint-level failures in a row, with no success between, that make the breaker look.
THRESHOLD = 5

Probe = Callable[[], Awaitable[str | None]]  # None: the endpoint answers; else the cause


class EndpointHealth:
    def __init__(self, base_url: str, probe: Probe, *, max_outage: float = DEFAULT_MAX_OUTAGE,
                 threshold: int = THRESHOLD, backoff_base: float = 1.0,
                 backoff_max: float = 30.0):
        self.base_url = base_url
        self.probe = probe
        self.max_outage = max_outage
        self.threshold = threshold
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.ever_succeeded = False
        self.last_success = 0.0  # monotonic
        self.streak = 0
        self.cause = ""
        self.down_since: float | None = None  # wall clock, for messages
        self.retry_at: float | None = None  # wall clock of the next probe
        self.outages = 0
        self._tries = 0  # probes failed in this outage: the backoff's exponent
        self._answered_at = 0.0  # monotonic time of the last probe that got an answer
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def describe(self) -> str:
        """What the progress line and the panel say while the endpoint is down; "" when up."""
        if self.down_since is None:
            return ""
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since))
        wait = max(0, round((self.retry_at or time.time()) - time.time()))
        return f"endpoint unreachable since {since} ({self.cause[:80]}), retrying in {wait} s"

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    def succeeded(self) -> None:
        self.ever_succeeded = True
        self.last_success = time.monotonic()
        self.clear()

    def clear(self) -> None:
        """The endpoint answers (a call or a probe got through): no outage, no streak."""
        self.streak = self._tries = 0
        self.down_since = self.retry_at = None

    async def wait_if_down(self) -> None:
        """Before a call: hold it while the endpoint is known to be down."""
        if self.down_since is not None:
            await self._wait_up()

    async def failed(self, cause: str, sent_at: float, exhausted: bool) -> str:
        """After an endpoint-level failure, what the call does next:

        - "charge": the endpoint is otherwise healthy; the attempt counts against the
          call's retries (and fails it when they are used up);
        - "free": retry after the usual pause without charging it (the call has used its
          retries, but no call has succeeded yet to tell a bad call from a bad endpoint);
        - "resumed": the endpoint was down and answers again; retry now, uncharged.
        """
        self.streak += 1
        self.cause = cause
        if self.down_since is None:
            if exhausted and self.last_success > sent_at:
                return "charge"  # another call got through meanwhile: this one's failure
            if self.streak < self.threshold:
                if not exhausted:
                    return "charge"
                if not self.ever_succeeded:
                    return "free"  # too soon to tell; the streak decides
            async with self._guard():
                if self.down_since is None:  # nobody decided while we waited for the lock
                    if self.ever_succeeded and self._answered_at > sent_at:
                        return "charge"  # a probe since this attempt went out: it answers
                    why = await self.probe()
                    if not self.ever_succeeded:
                        raise EndpointUnreachable(
                            self.base_url, why or f"no call has succeeded; the last failed "
                                                  f"with {cause}")
                    if why is None:
                        self.streak, self._answered_at = 0, time.monotonic()
                        return "charge"  # the endpoint answers: this call's failure
                    self.down_since, self.cause, self._tries = time.time(), why, 0
                    self.outages += 1
        await self._wait_up()
        return "resumed"

    async def _wait_up(self) -> None:
        """Probe, one caller at a time with growing pauses, until the endpoint answers."""
        while self.down_since is not None:
            async with self._guard():
                if self.down_since is None:
                    return
                left = self.down_since + self.max_outage - time.time()
                if left <= 0:
                    raise EndpointOutage(self.base_url, self.down_since, self.cause,
                                         self.max_outage)
                pause = min(self.backoff_max, self.backoff_base * 2 ** self._tries, left)
                self.retry_at = time.time() + pause
                await asyncio.sleep(pause)
                why = await self.probe()
                if why is None:
                    self.clear()
                    return
                self.cause = why
                self._tries += 1
