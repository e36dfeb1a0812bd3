"""`evolviz run`: evolve a seed set, resuming when the store exists, within a budget;
live, or through the provider's Batch API (`--batch`, in `cli/batches.py`)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .batches import check_batch_args, run_batches, spent_so_far
from .options import budget, gate_config
from .runsetup import load_run_seeds, open_run, record_gate_inputs
from .show import render_table

__all__ = ["cmd_run"]


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from .progress import CliProgress, run_to_end, say_budget_stop

    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    check_batch_args(args)
    limit = budget(args)
    seeds = load_run_seeds(args)
    gates, index = gate_config(args)
    with open_run(args, seeds, args.store, gates=gates) as session:
        record_gate_inputs(session.store, index)
        store, client = session.store, session.client
        assert client is not None
        if limit is not None:
            (limit.spent_prompt, limit.spent_completion, limit.batch_prompt,
             limit.batch_completion) = spent_so_far(store)
            client.budget = limit
        if args.batch:
            return run_batches(args, session, limit)
        _refuse_open_batches(store, args.store)
        progress = CliProgress(store, args.generations, disable=args.no_progress)

        async def ticker() -> None:
            while True:
                await asyncio.sleep(1.0)
                progress.tick(client.status())

        async def go() -> None:
            ticking = asyncio.create_task(ticker())
            try:
                await session.evolution.run(args.generations, on_candidate=progress.candidate,
                                            on_generation=progress.generation)
            finally:
                ticking.cancel()
                await client.aclose()

        stop = run_to_end(go, progress)
        print(render_table(store))
        print(f"{store.candidate_count()} candidates in {args.store}; "
              f"{client.tokens.total()} tokens this session; {session.cache.hits} cached "
              f"responses reused")
        say_budget_stop(stop, limit.spent() if limit is not None else "")
    return 0


def _refuse_open_batches(store, path: str) -> None:
    """A live call for a request already out in a batch would be paid twice."""
    from ..store.batches import BatchLedger

    out_there = BatchLedger(store).batches(open_only=True)
    if out_there:
        raise ConfigError(f"{path}: {len(out_there)} batches of this run are still out there "
                          f"(`evolviz batches {path}` lists them); continue it with --batch, "
                          f"or cancel them (`evolviz batches {path} --cancel`) first")
