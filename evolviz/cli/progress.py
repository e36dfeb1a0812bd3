"""The CLI's progress bar: candidates done over candidates planned, with live counts."""

from __future__ import annotations

import sys

from tqdm import tqdm

from ..records import Candidate, GenerationStats
from ..store import RunStore

__all__ = ["CliProgress"]


class CliProgress:
    """Counts start from what the store already holds, so a resumed run's bar is honest."""

    def __init__(self, store: RunStore, generations: int, *, disable: bool = False):
        pool = store.seed_count()
        done = sum(store.candidate_count(g) for g in range(1, generations + 1))
        self.counts = {"accepted": 0, "rejected": 0, "failed": 0}
        self.bar = tqdm(total=pool * generations, initial=done, unit="cand",
                        desc="evolving", file=sys.stderr, disable=disable, dynamic_ncols=True)

    def candidate(self, cand: Candidate) -> None:
        self.counts[cand.status] += 1
        self.bar.set_postfix(gen=cand.generation, **self.counts, refresh=False)
        self.bar.update(1)

    def generation(self, stats: GenerationStats) -> None:
        rejected = sum(stats.rejected.values())
        self.bar.write(f"generation {stats.generation}: {stats.accepted} accepted, "
                       f"{rejected} rejected, {stats.failed} failed of {stats.pool_size}")

    def close(self) -> None:
        self.bar.close()
