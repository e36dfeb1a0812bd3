"""`evolviz`: the headless front end. Exit codes: 0 ok, 2 bad usage or input, 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, EvolvizError, InputError

__all__ = ["build_parser", "main"]


def _run_options(p: argparse.ArgumentParser) -> None:
    """What decides a run's calls: shared by `run` and `estimate`, so a pilot is the run."""
    p.add_argument("--field", help="instruction column/key for CSV, Parquet or JSONL")
    p.add_argument("--format", dest="seed_format", help="force the seed file format")
    p.add_argument("--strict", action="store_true", help="refuse a seed file with a bad row")
    p.add_argument("--limit", type=int, help="use only the first N seeds")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint; default: the local model")
    p.add_argument("--model", help="model for every role")
    p.add_argument("--evolver-model", help="model for rewriting (default: --model)")
    p.add_argument("--answer-model", help="model for answering (default: --model)")
    p.add_argument("--judge-model", help="model for judging (default: --model)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--concurrency", type=int,
                   help="LLM calls in flight (default 8; 2 on the local model, which serves "
                        "one request at a time)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    p.add_argument("--retries", type=int, default=5, help="retries per call")
    p.add_argument("--seed", type=int, default=0, help="RNG seed for operator choice")
    p.add_argument("--temperature", type=float, help="sampling temperature for rewrites "
                                                     "and answers")
    p.add_argument("--templates", help="folder of template files laid over the built-ins")
    p.add_argument("--weight", action="append", default=[], metavar="OP=W",
                   help="operator weight (repeatable); uniform by default")
    p.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch an elimination rule off (repeatable)")
    p.add_argument("--sorry-max-words", type=int, default=80, help="rule 2 threshold")
    p.add_argument("--judge-difficulty", action="store_true",
                   help="rate accepted instructions 1-10 with the judge")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evolviz",
        description="Evol-Instruct you can see into: evolve instructions generation by "
                    "generation and keep every prompt, response and verdict.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="evolve a seed set (resumes when the store exists)")
    r.add_argument("seeds", help="seed file: Alpaca JSON/JSONL, ShareGPT, Self-Instruct, "
                                 ".txt, or CSV/Parquet/JSONL with --field")
    r.add_argument("--store", required=True, help="run store (SQLite file)")
    r.add_argument("--generations", type=int, required=True, help="total generations")
    _run_options(r)
    _budget_options(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    es = sub.add_parser("estimate", help="project a full run's calls, tokens, cost and "
                                         "time from a pilot, before paying for it")
    es.add_argument("seeds", help="the seed file the full run will use")
    es.add_argument("--generations", type=int, required=True, help="total generations")
    es.add_argument("--pilot", type=int, default=20, metavar="K",
                    help="seeds evolved for one generation in a scratch store (default 20)")
    es.add_argument("--from-store", metavar="DB",
                    help="project from this run store's generation 1 instead of a pilot")
    es.add_argument("--json", action="store_true", help="print the projection as JSON")
    _run_options(es)
    _add_prices(es)

    op = sub.add_parser("optimize", help="let the evolver LLM revise an operator's template "
                                         "from its failures; keep only what tests better")
    op.add_argument("seeds", help="seed file; a dev slice of it is evolved at each step")
    op.add_argument("--operator", required=True, help="the operator template to revise")
    op.add_argument("--store", required=True, help="new store for every call and step")
    op.add_argument("--steps", type=int, default=3, help="revision steps (default 3)")
    op.add_argument("--dev", type=int, default=30, help="dev seeds (default 30)")
    op.add_argument("--out", metavar="DIR", help="write the kept template here, for "
                                                 "--templates DIR")
    op.add_argument("--json", action="store_true", help="print the steps as JSON")
    _run_options(op)

    s = sub.add_parser("show", help="per-generation table of a run, or one candidate")
    s.add_argument("store")
    s.add_argument("--candidate", metavar="ID", help="print one candidate's full record")

    e = sub.add_parser("export", help="write the dataset")
    e.add_argument("store")
    e.add_argument("--format", required=True, choices=["alpaca", "sharegpt", "jsonl",
                                                       "parquet"])
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--include-rejected", action="store_true")

    c = sub.add_parser("check", help="verify a store's integrity")
    c.add_argument("store")

    m = sub.add_parser("map", help="t-SNE/k-means figure of a run against references")
    m.add_argument("store")
    m.add_argument("--reference", help="reference folder (default $EVOLVIZ_REFERENCE_DIR)")
    m.add_argument("-o", "--output", required=True, help="figure file (.html)")
    m.add_argument("--sample", type=int, default=1000, help="references per set")
    m.add_argument("-k", type=int, default=20, help="k-means clusters")
    m.add_argument("--seed", type=int, default=0)

    cp = sub.add_parser("compare", help="two runs side by side, with intervals and "
                                          "significance flags")
    cp.add_argument("a", help="run store A (the baseline)")
    cp.add_argument("b", help="run store B")
    cp.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_prices(cp)

    sl = sub.add_parser("serve-local", help="serve the embedded local model until Ctrl-C")
    sl.add_argument("--port", type=int)

    t = sub.add_parser("templates", help="list templates, or preview one filled in")
    t.add_argument("--templates", help="folder of template files laid over the built-ins")
    t.add_argument("--preview", metavar="NAME", help="template to fill in and print")
    t.add_argument("--instruction", default="Write a haiku about autumn.",
                   help="instruction to fill into --preview")
    return p


def _add_prices(p: argparse.ArgumentParser) -> None:
    p.add_argument("--price-in", type=float, metavar="USD",
                   help="price per million input (prompt) tokens")
    p.add_argument("--price-out", type=float, metavar="USD",
                   help="price per million output (completion) tokens")


def _prices(args: argparse.Namespace) -> tuple[float, float] | None:
    """Both prices or none: a cost from half a price list would be silently wrong."""
    if args.price_in is None and args.price_out is None:
        return None
    if args.price_in is None or args.price_out is None:
        raise ConfigError("--price-in and --price-out go together (USD per million tokens)")
    if args.price_in < 0 or args.price_out < 0:
        raise ConfigError("--price-in and --price-out must be >= 0")
    return args.price_in, args.price_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors already
        return int(e.code or 0)
    try:
        handler = {
            "run": cmd_run, "show": cmd_show, "export": cmd_export, "check": cmd_check,
            "map": cmd_map, "compare": cmd_compare, "estimate": cmd_estimate,
            "optimize": cmd_optimize, "serve-local": cmd_serve_local,
            "templates": cmd_templates,
        }[args.command]
        return handler(args)
    except InputError as e:
        from .textsafe import inert

        print(f"evolviz: error: {inert(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nevolviz: interrupted; everything finished is saved. Run the same command "
              "again to resume.", file=sys.stderr)
        return 1
    except EvolvizError as e:
        print(f"evolviz: error: {e}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:
        print(f"evolviz: error: the run store is damaged ({e}); `evolviz check STORE` "
              f"says what is wrong", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace) -> int:
    from .budget import BudgetReached
    from .progress import CliProgress
    from .runsetup import load_run_seeds, open_run

    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    budget = _budget(args)
    seeds = load_run_seeds(args)
    run = open_run(args, seeds, args.store)
    store, cache, client, evo = run.store, run.cache, run.client, run.evolution
    try:
        if budget is not None:
            budget.spent_prompt, budget.spent_completion = store.token_totals()
            client.budget = budget
        progress = CliProgress(store, args.generations, disable=args.no_progress)

        async def go() -> None:
            try:
                await evo.run(args.generations, on_candidate=progress.candidate,
                              on_generation=progress.generation)
            finally:
                await client.aclose()

        stop = None
        try:
            asyncio.run(go())
        except BudgetReached as e:
            stop = e
        progress.close()
        print(render_table(store))
        cached = cache.hits
        print(f"{store.candidate_count()} candidates in {args.store}; "
              f"{client.tokens.total()} tokens this session; {cached} cached responses reused")
        if stop is not None:
            print(f"evolviz: stopped: {stop} ({budget.spent()} by this run). Everything "
                  f"finished is saved; run the same command with a larger budget (or none) "
                  f"to continue.", file=sys.stderr)
    finally:
        run.close()
    return 0


def _budget_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-tokens", type=int, metavar="N",
                   help="stop cleanly before the run's tokens (all sessions) would pass N")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="stop cleanly before the run's cost would pass USD "
                        "(needs --price-in and --price-out)")
    _add_prices(p)


def _budget(args: argparse.Namespace) -> Any:
    from .budget import Budget

    prices = _prices(args)
    if args.max_tokens is None and args.max_cost is None:
        return None
    return Budget(max_tokens=args.max_tokens, max_cost=args.max_cost, prices=prices)


def render_table(store) -> str:
    from .rules import RULE_IDS

    short = {"rewrite_invalid": "invalid", "no_information_gain": "r1_nogain",
             "sorry_short_answer": "r2_sorry", "stopwords_only_answer": "r3_stopw",
             "copied_prompt_wording": "r4_copied"}
    head = ["gen", "pool", "done", "accepted", *[short[r] for r in RULE_IDS], "failed",
            "tokens", "time_s", "state"]
    rows = []
    for s in store.generation_stats():
        rows.append([s.generation, s.pool_size, s.done, s.accepted,
                     *[s.rejected.get(r, 0) for r in RULE_IDS], s.failed, s.tokens,
                     f"{s.wall_time:.1f}", "done" if s.finished else "partial"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(head, widths, strict=True))]
    lines += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    failed = {}
    for s in store.generation_stats():
        for k, v in s.failed_by.items():
            failed[k] = failed.get(k, 0) + v
    if failed:
        lines.append("failed by error class: " + ", ".join(f"{k}={v}" for k, v in
                                                          sorted(failed.items())))
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from .store import RunStore

    with RunStore(args.store, create=False) as store:
        if args.candidate:
            cand = store.candidate(args.candidate)
            if cand is None:
                raise InputError(f"{args.store}: no candidate {args.candidate!r}")
            print(render_candidate(cand))
        else:
            print(render_table(store))
    return 0


def render_candidate(c: Any) -> str:
    """A candidate for the terminal; every stored string passes through `inert`."""
    from .textsafe import inert

    lines = [f"{c.id}  generation {c.generation}  operator {c.operator}  status {c.status}"
             + (f"  rejected by {c.rejected_by}" if c.rejected_by else "")
             + (f"  error {c.error_class}" if c.error_class else ""),
             f"parent {c.parent_id}: {inert(c.parent_instruction)}",
             f"instruction: {inert(c.instruction)}",
             f"answer: {inert(c.answer)}", "verdicts:"]
    lines += [f"  {'pass' if v.passed else 'FAIL'} {v.rule}: {inert(v.reason)}"
              for v in c.verdicts]
    for name, call in c.calls.items():
        lines.append(f"--- {name} ({call.model}, {call.prompt_tokens}+{call.completion_tokens}"
                     f" tokens, finish {call.finish_reason}) ---")
        for m in call.messages:
            lines.append(f"[{m['role']}] {inert(m['content'])}")
        lines.append(f"[response] {inert(call.content)}")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export
    from .store import RunStore

    with RunStore(args.store, create=False) as store:
        n = export(store, args.format, args.output, include_rejected=args.include_rejected)
    print(f"wrote {n} records to {args.output}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .integrity import check_store
    from .store import RunStore

    with RunStore(args.store, create=False) as store:
        problems = check_store(store)
    if problems:
        for p in problems:
            print(f"{args.store}: {p}")
        return 1
    print(f"{args.store}: ok")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from .maps import map_main

    if not Path(args.store).exists():
        raise InputError(f"{args.store}: no such run store")
    return map_main(args.store, args.reference, args.output, sample=args.sample, k=args.k,
                    seed=args.seed)


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from .compare import compare_stores, render_comparison
    from .store import RunStore

    prices = _prices(args)
    with RunStore(args.a, create=False, readonly=True) as a, \
            RunStore(args.b, create=False, readonly=True) as b:
        report = compare_stores(a, b, prices=prices)
    print(json.dumps(report, indent=2) if args.json else render_comparison(report))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from .estimate import run_estimate

    return run_estimate(args, _prices(args))


def cmd_optimize(args: argparse.Namespace) -> int:
    from .optimize import run_optimize

    return run_optimize(args)


def cmd_serve_local(args: argparse.Namespace) -> int:
    from .local_model import serve_local_main

    return serve_local_main(args.port)


def cmd_templates(args: argparse.Namespace) -> int:
    from .templates import TemplateSet

    templates = TemplateSet.load(args.templates)
    if args.preview:
        t = {x.name: x for x in templates.all()}.get(args.preview)
        if t is None:
            raise ConfigError(f"--preview: no template named {args.preview!r}")
        values = {p: args.instruction for p in t.placeholders}
        for m in t.render(**values):
            print(f"--- {m['role']} ---\n{m['content']}")
        return 0
    for t in templates.all():
        kind = f"{t.role}/{t.kind}" if t.kind else t.role
        print(f"{t.name:20} {kind:18} {t.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
