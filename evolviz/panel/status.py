"""The status line's facts, one function per part of `state.Status`.

The front end decides how a state looks from these flags (`error`, `budget_reached`...),
never by reading display text, so wording can change without breaking a colour or a
test. A new concern adds its TypedDict to `Status`'s bases and its function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..run.budget import Budget
from .state import Batches, Calls, Counts, Messages, RunState, Spending, Status

__all__ = ["Note", "calls", "compose", "counts", "messages", "spending"]

SHOWN_MESSAGES = 3


@dataclass(frozen=True)
class Note:
    """One message of the panel, and whether it reports an error."""

    text: str
    error: bool = False


def counts(store: Any, generation: int, running: bool) -> Counts:
    """The counts of the generation running; between generations, of the last finished
    one (its counts say more than zeros)."""
    shown, stats = generation, store.count_generation(generation)
    if not running and stats.done == 0 and generation > 1:
        shown, stats = generation - 1, store.count_generation(generation - 1)
    return {"counts_generation": shown, "pool_size": stats.pool_size or store.seed_count(),
            "done": stats.done, "accepted": stats.accepted,
            "rejected": sum(stats.rejected.values()), "failed": stats.failed}


def spending(store: Any, limit: Budget | None, price_per_1k: float, *,
             stopped: bool) -> Spending:
    """What the whole run has spent, against `limit` (the live budget during a run)."""
    tokens = sum(s.tokens for s in store.generation_stats())
    priced = limit is not None and limit.prices
    return {
        "tokens": tokens,
        "cost": (limit.cost(limit.spent_prompt, limit.spent_completion)
                 if limit is not None and priced else tokens / 1000 * price_per_1k),
        "budget": "" if limit is None else "budget: " + limit.spent() + (
            " (reached)" if limit.reached else ""),
        "budget_set": limit is not None,
        "budget_reached": bool(limit is not None and limit.reached),
        "budget_stopped": stopped,
    }


def calls(client: Any, *, running: bool) -> Calls:
    """The calls' pace during a run, and the endpoint's outage while it lasts: a run
    that waits out an outage sends no candidates, so this is what says why."""
    if client is None or not running:
        return {"in_flight": 0, "calls_per_s": 0.0, "endpoint_health": ""}
    now = client.status()
    return {"in_flight": now["in_flight"], "calls_per_s": now["calls_per_s"],
            "endpoint_health": now["endpoint"]}


def messages(notes: Sequence[Note]) -> Messages:
    return {"message": " · ".join(n.text for n in notes[-SHOWN_MESSAGES:]),
            "error": bool(notes) and notes[-1].error}


def compose(*parts: RunState | Counts | Spending | Calls | Batches | Messages) -> Status:
    """The status from its parts (each a TypedDict of `Status`'s bases)."""
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return cast(Status, out)
