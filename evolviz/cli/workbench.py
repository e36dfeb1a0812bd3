"""The template workbench: `compare`, `estimate` and `optimize`."""

from __future__ import annotations

import argparse

from .options import prices

__all__ = ["cmd_compare", "cmd_estimate", "cmd_optimize"]


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from ..store import RunStore
    from ..workbench.compare import compare_stores, render_comparison

    price_pair = prices(args)
    with RunStore(args.a, create=False, readonly=True) as a, \
            RunStore(args.b, create=False, readonly=True) as b:
        report = compare_stores(a, b, prices=price_pair)
    print(json.dumps(report, indent=2) if args.json else render_comparison(report))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from ..workbench.estimate import run_estimate

    return run_estimate(args, prices(args))


def cmd_optimize(args: argparse.Namespace) -> int:
    from ..workbench.optimize import run_optimize

    return run_optimize(args)
