"""A batch run's batches for people: the listing, the status line, and cancelling.

`evolviz batches STORE` prints `batch_table`; the panel's status line shows
`batch_status`; `cancel_batches` asks the provider to cancel every open batch (a run
polling them then collects what finished and stops cleanly).
"""

from __future__ import annotations

from typing import Any

from ..store import RunStore
from ..store.batches import TERMINAL, BatchLedger
from .batch_api import BatchAPI, Refused, Unavailable

__all__ = ["batch_status", "batch_table", "cancel_batches"]


def _cost(prompt: int, completion: int, prices: tuple[float, float] | None,
          discount: float) -> float | None:
    if prices is None:
        return None
    return discount * (prompt * prices[0] + completion * prices[1]) / 1e6


def batch_table(store: RunStore, *, prices: tuple[float, float] | None = None,
                discount: float = 0.5) -> dict[str, Any]:
    """Every batch of the run (stage, state, request counts, tokens and, with prices, the
    cost at the batch price: `discount` x the live price), and the totals."""
    ledger = BatchLedger(store)
    rows = []
    for b in ledger.batches():
        d = b.to_dict()
        d["cost_usd"] = _cost(b.prompt_tokens, b.completion_tokens, prices, discount)
        rows.append(d)
    prompt = sum(r["prompt_tokens"] for r in rows)
    completion = sum(r["completion_tokens"] for r in rows)
    return {"store": str(store.path), "batch_run": ledger.is_batch_run(),
            "batches": rows, "open": sum(not r["collected"] for r in rows),
            "requests": sum(r["requests"] for r in rows),
            "prompt_tokens": prompt, "completion_tokens": completion,
            "cost_usd": _cost(prompt, completion, prices, discount),
            "prices": None if prices is None else {"in": prices[0], "out": prices[1],
                                                   "batch_discount": discount}}


def batch_status(store: RunStore) -> str:
    """One line for a status bar: what the run's batches are doing ("" for a live run)."""
    ledger = BatchLedger(store)
    if not ledger.exists() or not ledger.is_batch_run():
        return ""
    rows = ledger.batches()
    out_there = [b for b in rows if b.open]
    if not out_there:
        return f"batch run: {len(rows)} batches, none open"
    parts = [f"{b.stage} {b.state} {b.completed + b.failed}/{b.requests}"
             for b in out_there[:4]]
    more = f" +{len(out_there) - 4} more" if len(out_there) > 4 else ""
    return f"batch run: {len(out_there)} open of {len(rows)}: " + ", ".join(parts) + more


async def cancel_batches(store: RunStore, api: BatchAPI) -> list[dict[str, Any]]:
    """Ask the provider to cancel every batch still running; what each answered.

    Lines a cancelled batch finished are kept (the run collects them); the rest go out
    again only when the run is started again. A batch not yet created (its file still
    uploading) cannot be cancelled and is listed as such.
    """
    ledger = BatchLedger(store)
    done = []
    for b in ledger.batches(open_only=True):
        entry: dict[str, Any] = {"batch_id": b.batch_id, "stage": b.stage,
                                 "generation": b.generation, "was": b.state}
        if b.batch_id is None:
            entry["state"], entry["note"] = b.state, "not yet submitted"
        elif b.state in TERMINAL or b.state in ("cancelling",):
            entry["state"], entry["note"] = b.state, "already finished; the run collects it"
        else:
            try:
                remote = await api.cancel(b.batch_id)
            except Unavailable as e:
                entry["state"], entry["note"] = b.state, f"no answer ({e}); try again"
            except Refused as e:  # finishing already, say: the run collects it
                entry["state"], entry["note"] = b.state, f"not cancelled ({e})"
            else:
                ledger.update(b.key, remote.status, remote.completed, remote.failed)
                entry["state"] = remote.status
        done.append(entry)
    return done
