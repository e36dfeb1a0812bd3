"""`evolviz run`: evolve a seed set, resuming when the store exists, within a budget."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from .flags import flagged
from .options import budget, gate_config
from .runsetup import load_run_seeds, open_run, record_gate_inputs
from .show import render_table

__all__ = ["cmd_run"]


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from ..run.budget import BudgetReached
    from .progress import CliProgress

    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    limit = budget(args)
    seeds = load_run_seeds(args)
    gates, index = gate_config(args)
    with open_run(args, seeds, args.store, gates=gates) as session:
        record_gate_inputs(session.store, index)
        store, client = session.store, session.client
        assert client is not None
        if limit is not None:
            limit.spent_prompt, limit.spent_completion = store.token_totals()
            client.budget = limit
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

        stop = None
        try:
            asyncio.run(go())
        except BudgetReached as e:
            stop = e
        finally:
            progress.close()
        print(render_table(store))
        print(f"{store.candidate_count()} candidates in {args.store}; "
              f"{client.tokens.total()} tokens this session; {session.cache.hits} cached "
              f"responses reused")
        if stop is not None:
            print(f"evolviz: stopped: {flagged(str(stop))} ({limit.spent()} by this run). "
                  f"Everything finished is saved; run the same command with a larger budget "
                  f"(or none) to continue.", file=sys.stderr)
    return 0
