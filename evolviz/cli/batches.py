"""`evolviz run --batch` and `evolviz batches`: a run through the provider's Batch API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .options import prices

__all__ = ["check_batch_args", "cmd_batches", "run_batches", "spent_so_far"]


def check_batch_args(args: argparse.Namespace) -> None:
    """Refuse batch options that cannot work, before anything starts."""
    if not args.batch:
        if args.detach or args.batch_dir:
            raise ConfigError("--detach and --batch-dir go with --batch")
        return
    if args.batch_dir and not args.base_url:
        # No call goes to this URL: the client only builds the request bodies.
        args.base_url = Path(args.batch_dir).resolve().as_uri()
    if not args.base_url:
        raise ConfigError("--batch needs --base-url (an endpoint with a Batch API; the "
                          "embedded local model has none) or --batch-dir (files for an "
                          "offline runner such as vllm run-batch)")


def spent_so_far(store: Any) -> tuple[int, int, int, int]:
    """(prompt, completion, of them at the batch price: prompt, completion) the whole run
    has paid for: live calls of stored candidates plus every answered batch line."""
    from ..store.batches import BatchLedger

    ledger = BatchLedger(store)
    live, paid = ledger.live_tokens(), ledger.paid_tokens()
    return live[0] + paid[0], live[1] + paid[1], paid[0], paid[1]


def run_batches(args: argparse.Namespace, session: Any, limit: Any) -> int:
    """The `run --batch` half of `cmd_run`: the same store, client and budget, driven
    through batches; prints the same table and says what is left out there."""
    from ..run.batch import BatchRun, BatchSettings
    from .progress import CliProgress, run_to_end, say_budget_stop
    from .show import render_table

    settings = BatchSettings(max_requests=args.batch_max_requests, max_mb=args.batch_max_mb,
                             poll_interval=args.poll_interval, retries=args.retries,
                             detach=args.detach)
    store, client = session.store, session.client
    api = _api(args)
    progress = CliProgress(store, args.generations, disable=args.no_progress)

    def say(message: str) -> None:
        progress.bar.write(f"evolviz: {message}", file=sys.stderr)

    runner = BatchRun(session.evolution, client, api, settings, notify=say,
                      on_candidate=progress.candidate, on_generation=progress.generation)

    async def go() -> None:
        try:
            await runner.run(args.generations)
        finally:
            await api.aclose()
            await client.aclose()

    stop = run_to_end(go, progress)
    report = runner.report
    print(render_table(store))
    print(f"{store.candidate_count()} candidates in {args.store}; {report.submitted} batches "
          f"({report.lines} requests) submitted and {report.collected} collected this "
          f"session; {session.cache.hits} cached responses reused")
    if report.state == "detached":
        print(f"evolviz: {report.open} batches are out there; run the same command later to "
              f"collect them and continue (`evolviz batches {args.store}` shows them)",
              file=sys.stderr)
    elif report.state == "cancelled":
        print("evolviz: stopped: the run's batches were cancelled. What they finished is "
              "saved; the same command sends the unfinished requests again.",
              file=sys.stderr)
    say_budget_stop(stop, limit.spent() if limit is not None else "")
    return 0


def _api(args: argparse.Namespace) -> Any:
    """The provider: a folder an offline runner reads (--batch-dir), else the Batch API at
    --base-url, its key read from the environment now and kept in memory only."""
    if args.batch_dir:
        from ..run.batch_folder import FolderBatches

        return FolderBatches(args.batch_dir)
    from ..run.batch_api import OpenAIBatches

    return OpenAIBatches(args.base_url, api_key=os.environ.get(args.api_key_env),
                         timeout=getattr(args, "timeout", 120.0))


def _when(t: float | None) -> str:
    return "-" if not t else datetime.fromtimestamp(t).strftime("%m-%d %H:%M")


def render_batches(table: dict[str, Any]) -> str:
    from ..textsafe import inert

    head = ["batch", "gen", "stage", "state", "requests", "done", "failed", "tokens_in",
            "tokens_out", "cost_usd", "created", "updated"]
    rows = [[inert(b["batch_id"] or "(" + b["file_name"] + ")"), b["generation"], b["stage"],
             inert(b["state"]) + ("" if b["collected"] else " *"), b["requests"],
             b["completed"], b["failed"], b["prompt_tokens"], b["completion_tokens"],
             "-" if b["cost_usd"] is None else f"{b['cost_usd']:.4f}", _when(b["created"]),
             _when(b["updated"])] for b in table["batches"]]
    if not rows:
        return f"{table['store']}: no batches (a live run, or none submitted yet)"
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(head, widths, strict=True))]
    lines += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    cost = table["cost_usd"]
    lines.append(f"{len(rows)} batches, {table['open']} open (*: not yet collected), "
                 f"{table['requests']:,} requests, {table['prompt_tokens']:,} input and "
                 f"{table['completion_tokens']:,} output tokens"
                 + ("" if cost is None else
                    f", {cost:.4f} USD at the batch price "
                    f"({table['prices']['batch_discount']:g} x the live price)"))
    return "\n".join(lines)


def cmd_batches(args: argparse.Namespace) -> int:
    """List a run's batches; with --cancel, cancel the open ones first."""
    import asyncio

    from ..run.batch_admin import batch_table, cancel_batches
    from ..store import RunStore

    price_pair = prices(args)
    if args.cancel:
        if not args.base_url and not args.batch_dir:
            raise ConfigError("--cancel needs --base-url (the endpoint the batches went "
                              "to; it is never stored), or --batch-dir")
        api = _api(args)

        async def cancel() -> list[dict[str, Any]]:
            try:
                with RunStore(args.store, create=False) as store:
                    return await cancel_batches(store, api)
            finally:
                await api.aclose()

        for c in asyncio.run(cancel()):
            print(f"evolviz: {c['batch_id'] or '(not submitted)'} (generation "
                  f"{c['generation']}, {c['stage']}): {c['was']} -> {c['state']}"
                  + (f" ({c['note']})" if c.get("note") else ""), file=sys.stderr)
    with RunStore(args.store, create=False, readonly=True) as store:
        table = batch_table(store, prices=price_pair, discount=args.batch_discount)
    print(json.dumps(table, indent=2) if args.json else render_batches(table))
    return 0
