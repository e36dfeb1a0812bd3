"""Step and Run in the background: the evolution as an asyncio task on the kernel's loop.

The panel answers clicks while candidates stream in; each candidate is committed to the
run store before the panel hears of it, so stopping, a crash or a kernel restart loses
only the calls in flight, and opening the same store again resumes the run. While a run
goes, the status is pushed at most every `STATUS_EVERY` seconds and the map drawn at most
every `MAP_EVERY`: a push per candidate would flood the browser on a fast endpoint.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from ..errors import EvolvizError
from ..records import Candidate
from ..run.budget import Budget, BudgetReached
from ..run.session import RunSession
from .map_controller import MapController

__all__ = ["MAP_EVERY", "STATUS_EVERY", "TICK_EVERY", "Background", "RunLoop"]

STATUS_EVERY = 0.25  # seconds between status pushes while running
MAP_EVERY = 1.5  # seconds between map updates while running
TICK_EVERY = 1.0  # seconds between status pushes while a run waits (an outage)


class Background:
    """The panel's tasks on the kernel's loop: kept alive until done, cancelled together,
    and a failure reported through `on_error` (the panel reports, never dies)."""

    def __init__(self, on_error: Callable[[BaseException], None]):
        self.on_error = on_error
        self.tasks: set[asyncio.Task] = set()
        self.last_error: str | None = None

    def schedule(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run `coro` on the kernel's loop.

        Called from widget callbacks and from `Explorer.__init__` in a cell, where the
        kernel's loop is running but may not be the *current* one: `get_running_loop`
        first, else the policy's loop (never `get_event_loop`, deprecated for this)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(coro)
        # The loop holds tasks weakly: keep each one alive until it is done.
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.last_error = "".join(traceback.format_exception(exc)[-3:]).strip()
            self.on_error(exc)

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()


class RunLoop:
    """Evolves generations of one session in the background and keeps the panel told."""

    def __init__(self, session: RunSession, background: Background, *,
                 say: Callable[[str], None], refresh: Callable[[], None],
                 maps: MapController | None, budget: Callable[[], Budget | None]):
        self.session = session
        self.background = background
        self.say = say
        self.refresh = refresh
        self.maps = maps
        self.budget = budget
        self.task: asyncio.Task | None = None
        self.running_since: float | None = None
        #: The budget the client consults during a run (None between runs).
        self.live_budget: Budget | None = None
        #: The last run stopped because the budget would have been crossed.
        self.stopped_by_budget = False
        self._last_status = 0.0
        self._last_map = 0.0

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def start(self, generations: int) -> asyncio.Task:
        if self.running:
            raise EvolvizError("a run is already in progress; stop it first")
        if self.session.store.get_meta("batch_mode"):
            raise EvolvizError("this run is made in batch mode, where a generation takes "
                               "hours (each stage is a batch answered within 24 h): Step "
                               "is off; continue it where it was started (evolviz run "
                               "--batch). The status line shows its batches")
        self.running_since = time.monotonic()
        self.stopped_by_budget = False
        self.task = self.background.schedule(self._run(generations))
        return self.task

    def stop(self) -> bool:
        """Cancel the calls in flight; True if a run was going."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            return True
        return False

    async def check_endpoint(self) -> None:
        """Probe a newly set endpoint at once, so a typo shows before the next Step."""
        client = await self.session.client_async()
        await client.check_endpoint()
        self.say(f"endpoint {self.session.endpoint_label()} answers")

    async def _tick(self) -> None:
        """Refresh the status every second: during an outage no candidate arrives to."""
        while True:
            await asyncio.sleep(TICK_EVERY)
            self.refresh()

    async def _run(self, generations: int) -> list[Candidate]:
        out: list[Candidate] = []
        evolution, store, maps = self.session.evolution, self.session.store, self.maps
        ticking: asyncio.Task | None = None
        locked = False
        try:
            # One writer per store: a CLI run on this store refuses the Step (and says
            # who is writing); the panel keeps browsing it.
            self.session.lock_writer("the panel's Step/Run")
            locked = True
            ticking = asyncio.get_running_loop().create_task(self._tick())
            client = await self.session.client_async()
            client.budget = self.live_budget = self.budget()
            for _ in range(generations):
                g = evolution.next_generation()
                self.say(f"generation {g}: evolving {store.seed_count()} pool members")
                async for cand in evolution.step():
                    out.append(cand)
                    if maps is not None:
                        maps.add(cand)
                    now = time.monotonic()
                    if now - self._last_status >= STATUS_EVERY:
                        self._last_status = now
                        self.refresh()
                    if maps is not None and now - self._last_map >= MAP_EVERY:
                        self._last_map = now
                        await maps.flush()
                stats = store.count_generation(g)
                self.say(f"generation {g} done: {stats.accepted} accepted, "
                         f"{sum(stats.rejected.values())} rejected, {stats.failed} failed")
                if maps is not None:
                    await maps.flush()
        except BudgetReached as e:
            limit = self.live_budget
            self.stopped_by_budget = True
            self.say(f"stopped: {e} ({limit.spent() if limit else ''}). Everything finished "
                     f"is saved; raise or clear the budget in Settings and Step again to "
                     f"continue")
        finally:
            if ticking is not None:
                ticking.cancel()
            if locked:
                self.session.unlock_writer()
            if self.session.client is not None:
                self.session.client.budget = None
            self.live_budget = None
            self.running_since = None
            self.refresh()
        return out
