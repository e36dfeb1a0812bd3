"""The template workbench: `compare`, `estimate` and `optimize`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .options import prices
from .runsetup import load_run_seeds, recipe_from

__all__ = ["cmd_compare", "cmd_estimate", "cmd_optimize"]


def cmd_compare(args: argparse.Namespace) -> int:
    from ..store import RunStore
    from ..workbench.compare import compare_stores, render_comparison

    price_pair = prices(args)
    with RunStore(args.a, create=False, readonly=True) as a, \
            RunStore(args.b, create=False, readonly=True) as b:
        report = compare_stores(a, b, prices=price_pair, batch_discount=args.batch_discount)
    print(json.dumps(report, indent=2) if args.json else render_comparison(report))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """Pilot (or read a store), project, print."""
    import asyncio

    from ..errors import ConfigError
    from ..workbench.estimate import estimate, pilot, render_estimate, stored_rows

    price_pair = prices(args)
    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    if args.pilot < 1:
        raise ConfigError("--pilot must be >= 1")
    seeds = load_run_seeds(args)
    if args.from_store:
        rows, concurrency, source = stored_rows(args.from_store), args.concurrency or 8, \
            args.from_store
    else:
        recipe = recipe_from(args)
        print(f"evolviz: pilot: evolving {min(args.pilot, len(seeds))} seeds for one "
              f"generation...", file=sys.stderr)
        rows, concurrency = asyncio.run(pilot(recipe, seeds, k=args.pilot, seed=args.seed))
        source = "pilot"
    report = estimate(rows, seeds=len(seeds), generations=args.generations,
                      concurrency=concurrency, prices=price_pair, seed=args.seed,
                      source=source, batch_discount=args.batch_discount)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_estimate(report))
        if price_pair is None:
            print("cost: give --price-in and --price-out (USD per million tokens)")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    """Dev slice, baseline, up to --steps revisions, the kept template written."""
    import asyncio

    from ..workbench.optimize import kept, optimize_new_store, render_steps

    def say(_history: list[dict[str, Any]], doing: str) -> None:
        if doing:
            print(f"evolviz optimize: {doing}", file=sys.stderr, flush=True)

    history, best = asyncio.run(optimize_new_store(
        recipe_from(args), load_run_seeds(args), args.store, operator=args.operator,
        steps=args.steps, dev=args.dev, seed=args.seed, progress=say))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{args.operator}.toml").write_text(best.to_toml(), encoding="utf-8")
    if args.json:
        print(json.dumps(history, indent=2))
    else:
        final = kept(history)
        print(render_steps(history))
        print(f"kept: step {final['step']}" + (f"; written to {args.out}/{args.operator}.toml"
                                                if args.out else ""))
    return 0
