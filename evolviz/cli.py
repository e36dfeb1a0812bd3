"""`evolviz`: the headless front end. Exit codes: 0 ok, 2 bad usage or input, 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, EvolvizError, InputError

__all__ = ["build_parser", "main"]


def _weights(values: Sequence[str]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, w = v.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(w)
        except ValueError:
            raise ConfigError(
                f"--weight {v!r}: expected OPERATOR=NUMBER, e.g. mutation=0.5"
            ) from None
    return out


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
    r.add_argument("--field", help="instruction column/key for CSV, Parquet or JSONL")
    r.add_argument("--format", dest="seed_format", help="force the seed file format")
    r.add_argument("--strict", action="store_true", help="refuse a seed file with a bad row")
    r.add_argument("--limit", type=int, help="use only the first N seeds")
    r.add_argument("--base-url", help="OpenAI-compatible endpoint; default: the local model")
    r.add_argument("--model", help="model for every role")
    r.add_argument("--evolver-model", help="model for rewriting (default: --model)")
    r.add_argument("--answer-model", help="model for answering (default: --model)")
    r.add_argument("--judge-model", help="model for judging (default: --model)")
    r.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    r.add_argument("--concurrency", type=int,
                   help="LLM calls in flight (default 8; 2 on the local model, which serves "
                        "one request at a time)")
    r.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    r.add_argument("--retries", type=int, default=5, help="retries per call")
    r.add_argument("--seed", type=int, default=0, help="RNG seed for operator choice")
    r.add_argument("--temperature", type=float, help="sampling temperature for rewrites "
                                                     "and answers")
    r.add_argument("--templates", help="folder of template files laid over the built-ins")
    r.add_argument("--weight", action="append", default=[], metavar="OP=W",
                   help="operator weight (repeatable); uniform by default")
    r.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch an elimination rule off (repeatable)")
    r.add_argument("--sorry-max-words", type=int, default=80, help="rule 2 threshold")
    r.add_argument("--judge-difficulty", action="store_true",
                   help="rate the seeds and accepted instructions 1-10 with the judge")
    r.add_argument("--paper-rules", action="store_true",
                   help="the paper's four rules only: switch off answer_refusal, "
                        "answer_truncated, answer_filtered and judge_unclear")
    r.add_argument("--unclear-judge", choices=["keep", "reject"], default="keep",
                   help="what a judge reply that stays unreadable after one re-ask does "
                        "(reject: rule judge_unclear)")
    r.add_argument("--no-structured-judge", action="store_true",
                   help="do not ask the judges for JSON through response_format")
    for role, flag in (("evolver", "evolver"), ("answerer", "answer"), ("judge", "judge")):
        r.add_argument(f"--max-tokens-{flag}", type=int, metavar="N", dest=f"max_tokens_{role}",
                       help=f"max tokens per {role} reply")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

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

    sl = sub.add_parser("serve-local", help="serve the embedded local model until Ctrl-C")
    sl.add_argument("--port", type=int)

    t = sub.add_parser("templates", help="list templates, or preview one filled in")
    t.add_argument("--templates", help="folder of template files laid over the built-ins")
    t.add_argument("--preview", metavar="NAME", help="template to fill in and print")
    t.add_argument("--instruction", default="Write a haiku about autumn.",
                   help="instruction to fill into --preview")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors already
        return int(e.code or 0)
    try:
        handler = {
            "run": cmd_run, "show": cmd_show, "export": cmd_export, "check": cmd_check,
            "map": cmd_map, "serve-local": cmd_serve_local, "templates": cmd_templates,
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
    from .config import DEFAULT_SAMPLING, RunConfig
    from .engine import Evolution
    from .llm import LLMClient, ResponseCache
    from .progress import CliProgress
    from .rules import RuleConfig
    from .seeds import load_seeds
    from .store import RunStore
    from .templates import TemplateSet
    from .textsafe import inert

    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
    loaded = load_seeds(args.seeds, field=args.field, format=args.seed_format,
                        strict=args.strict)
    for problem in loaded.problems[:10]:
        print(f"evolviz: skipped {problem.path}:{problem.line}: {inert(problem.reason)}",
              file=sys.stderr)
    if len(loaded.problems) > 10:
        print(f"evolviz: ... and {len(loaded.problems) - 10} more bad rows skipped",
              file=sys.stderr)
    seeds = loaded.seeds[: args.limit] if args.limit else loaded.seeds
    if not seeds:
        raise InputError(f"{args.seeds}: no usable seeds")
    templates = TemplateSet.load(args.templates)

    local = None
    sampling = dict(DEFAULT_SAMPLING)
    if args.base_url:
        base_url = args.base_url
        api_key = os.environ.get(args.api_key_env)
        model = args.model or "gpt-4o-mini"
    else:
        from .local_model import LOCAL_SAMPLING, shared_local_model

        print("evolviz: no --base-url: starting the embedded local model "
              "(SmolLM2-135M-Instruct)...", file=sys.stderr)
        local = shared_local_model()
        base_url, api_key, model = local.base_url, "none", args.model or local.model_name
        sampling = dict(LOCAL_SAMPLING)
    if args.temperature is not None:
        for role in ("evolver", "answerer"):
            sampling[role] = sampling[role].__class__(**{**sampling[role].__dict__,
                                                         "temperature": args.temperature})
    rules = (RuleConfig.paper if args.paper_rules else RuleConfig)(
        sorry_max_words=args.sorry_max_words)
    if args.unclear_judge == "reject":
        rules = rules.with_(["judge_unclear"])
    rules = rules.without(args.no_rule)
    config = RunConfig(seed=args.seed, operator_weights=_weights(args.weight), rules=rules,
                       sampling=sampling, judge_difficulty=args.judge_difficulty,
                       structured_judge=not args.no_structured_judge).with_max_tokens(
        evolver=args.max_tokens_evolver, answerer=args.max_tokens_answerer,
        judge=args.max_tokens_judge)
    models = {"evolver": args.evolver_model or model, "answerer": args.answer_model or model,
              "judge": args.judge_model or model}

    store = RunStore(args.store)
    cache = ResponseCache(args.store)
    concurrency = args.concurrency or (2 if local is not None else 8)
    client = LLMClient(base_url, api_key=api_key, models=models,
                       concurrency=concurrency, timeout=args.timeout,
                       max_retries=args.retries, cache=cache,
                       recover=local.recover if local is not None else None)
    try:
        evo = Evolution(store, client, templates, config, seeds=seeds)
        progress = CliProgress(store, args.generations, disable=args.no_progress)

        async def go() -> None:
            try:
                await evo.run(args.generations, on_candidate=progress.candidate,
                              on_generation=progress.generation)
            finally:
                await client.aclose()

        asyncio.run(go())
        progress.close()
        print(render_table(store))
        cached = cache.hits
        print(f"{store.candidate_count()} candidates in {args.store}; "
              f"{client.tokens.total()} tokens this session; {cached} cached responses reused")
    finally:
        cache.close()
        store.close()
    return 0


def render_table(store) -> str:
    from .rules import RULE_IDS

    short = {"rewrite_invalid": "invalid", "no_information_gain": "r1_nogain",
             "sorry_short_answer": "r2_sorry", "stopwords_only_answer": "r3_stopw",
             "copied_prompt_wording": "r4_copied", "answer_refusal": "x_refusal",
             "answer_truncated": "x_trunc", "answer_filtered": "x_filter",
             "judge_unclear": "x_unclear"}
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
    lines.append("r1-r4: the paper's rules; x_*: rules beyond it (--paper-rules switches "
                 "them off)")
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
    for v in c.verdicts:
        lines.append(f"  {'pass' if v.passed else 'FAIL'} {v.rule}: {inert(v.reason)}")
        if v.detail:  # the evidence: words matched, judge text read, finish reason
            lines.append("      evidence: " + "; ".join(
                f"{k}={inert(str(val))[:200]}" for k, val in v.detail.items()))
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
