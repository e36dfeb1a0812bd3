"""The CLI's progress bar: candidates done over candidates planned, with live counts, the
calls in flight and calls/s, and what the endpoint is doing when it is down."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tqdm import tqdm

from ..errors import BudgetReached
from ..records import Candidate, GenerationStats
from ..store import RunStore
from ..textsafe import inert

__all__ = ["CliProgress"]


class CliProgress:
    """Counts start from what the store already holds, so a resumed run's bar is honest."""

    def __init__(self, store: RunStore, generations: int, *, disable: bool = False):
        pool = store.seed_count()
        done = sum(store.candidate_count(g) for g in range(1, generations + 1))
        self.counts = {"accepted": 0, "rejected": 0, "failed": 0}
        self.generation_no = 0
        self.calls: dict[str, Any] = {}
        self.outage = ""
        self.bar = tqdm(total=pool * generations, initial=done, unit="cand",
                        desc="evolving", file=sys.stderr, disable=disable, dynamic_ncols=True)

    def _postfix(self, refresh: bool) -> None:
        calls = self.calls
        extra = ({"in_flight": f"{calls['in_flight']}/{calls['limit']}",
                  "calls/s": calls["calls_per_s"]} if calls else {})
        self.bar.set_postfix(gen=self.generation_no, **self.counts, **extra, refresh=refresh)

    def candidate(self, cand: Candidate) -> None:
        self.counts[cand.status] += 1
        self.generation_no = cand.generation
        self._postfix(refresh=False)
        self.bar.update(1)

    def tick(self, status: dict[str, Any]) -> None:
        """Once a second from the run: the client's calls and the endpoint's health. An
        outage is also written as a line (and its end), so a log without the bar has it."""
        self.calls = status
        outage = status.get("endpoint") or ""
        if outage and not self.outage:
            self.bar.write(f"evolviz: {inert(outage)}", file=sys.stderr)
        elif self.outage and not outage:
            self.bar.write("evolviz: the endpoint answers again; the run continues",
                           file=sys.stderr)
        self.outage = outage
        self.bar.set_description(f"evolviz: {inert(outage)}" if outage else "evolving",
                                 refresh=False)
        self._postfix(refresh=True)

    def generation(self, stats: GenerationStats) -> None:
        rejected = sum(stats.rejected.values())
        self.bar.write(f"generation {stats.generation}: {stats.accepted} accepted, "
                       f"{rejected} rejected, {stats.failed} failed of {stats.pool_size}")

    def close(self) -> None:
        self.bar.close()


def run_to_end(go: Callable[[], Awaitable[None]], progress: CliProgress) -> BudgetReached | None:
    """Run a command's coroutine to its end; a budget reached is a stop (returned, for the
    closing message), not an error. The bar is closed either way so the table prints
    below it."""
    try:
        asyncio.run(go())  # type: ignore[arg-type]
    except BudgetReached as e:
        return e
    finally:
        progress.close()
    return None


def say_budget_stop(stop: BudgetReached | None, spent: str) -> None:
    """What a run stopped by its budget says last: what was spent, and how to continue."""
    if stop is not None:
        from .flags import flagged

        print(f"evolviz: stopped: {flagged(str(stop))} ({spent} by this run). Everything "
              f"finished is saved; run the same command with a larger budget (or none) to "
              f"continue.", file=sys.stderr)
