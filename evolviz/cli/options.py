"""Option groups several commands share, and reading them back into settings.

Shared so that `run`, `estimate` and `optimize` describe a run with the same words: a cost
estimate is only worth something if its pilot makes exactly the calls the run will make.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ["add_prices", "batch_options", "budget", "budget_options", "duration", "gate_config",
           "gate_options", "prices", "run_options", "weights"]


def weights(values: Sequence[str]) -> dict[str, float]:
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


def duration(text: str) -> float:
    """Seconds from "600", "90s", "10m" or "1h" (argparse reports a ValueError as usage)."""
    text = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:])
    value = float(text[:-1] if scale else text) * (scale or 1.0)
    if value < 0:
        raise ValueError(text)
    return value


def run_options(p: argparse.ArgumentParser) -> None:
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
                   help="LLM calls in flight (default 8; on the local model, as many as "
                        "its server decodes at once: 8 for llama-server, 1 for "
                        "llama-cpp-python's)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    p.add_argument("--retries", type=int, default=5, help="retries per call")
    p.add_argument("--max-outage", type=duration, default=600.0, metavar="TIME",
                   help="how long a run waits for an endpoint that went down mid-run before "
                        "it stops (resumable): seconds, or 90s, 10m, 1h (default 10m)")
    p.add_argument("--seed", type=int, default=0, help="RNG seed for operator choice")
    p.add_argument("--temperature", type=float, help="sampling temperature for rewrites "
                                                     "and answers")
    p.add_argument("--templates", help="folder of template files laid over the built-ins")
    p.add_argument("--prompt-style", choices=["few-shot", "chat"],
                   help="built-in templates: few-shot completions (the default on the local "
                        "model; for small models anywhere) or chat (the paper's editing "
                        "instructions; the default on any --base-url)")
    p.add_argument("--weight", action="append", default=[], metavar="OP=W",
                   help="operator weight (repeatable); uniform by default")
    p.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch an elimination rule off (repeatable)")
    p.add_argument("--sorry-max-words", type=int, default=80, help="rule 2 threshold")
    p.add_argument("--judge-difficulty", action="store_true",
                   help="rate the seeds and accepted instructions 1-10 with the judge")
    p.add_argument("--paper-rules", action="store_true",
                   help="the paper's four rules only: switch off not_a_task, off_topic, "
                        "answer_echo, answer_refusal, answer_truncated, answer_filtered "
                        "and judge_unclear")
    p.add_argument("--unclear-judge", choices=["keep", "reject"],
                   help="what a judge reply that stays unreadable after one re-ask does: "
                        "reject (rule judge_unclear; the default) or keep (the paper's "
                        "behaviour, the default with --paper-rules)")
    p.add_argument("--judge", choices=["model", "check"],
                   help="who decides rule 1 and whether a rewrite is a task: the judge "
                        "model (the default on any --base-url) or the checks that need no "
                        "model (the default on the local model; measured in "
                        "docs/local_model.md)")
    p.add_argument("--no-structured-judge", action="store_true",
                   help="do not ask the judges for JSON through response_format")
    for role, flag in (("evolver", "evolver"), ("answerer", "answer"), ("judge", "judge")):
        p.add_argument(f"--max-tokens-{flag}", type=int, metavar="N", dest=f"max_tokens_{role}",
                       help=f"max tokens per {role} reply")


def gate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-dedup", action="store_true",
                   help="keep exact duplicates (on by default: the earlier slot wins)")
    p.add_argument("--near-dup", type=float, metavar="THRESHOLD",
                   help="also reject near duplicates: cosine similarity >= THRESHOLD in (0, 1]")
    p.add_argument("--decontaminate", action="append", default=[], metavar="FILE",
                   help="benchmark file whose items no instruction may share an n-gram with "
                        "(repeatable; any seed format)")
    p.add_argument("--decontaminate-field", metavar="FIELD",
                   help="text column/key of the benchmark files, where one is needed")
    p.add_argument("--decontaminate-ngram", type=int, default=13, metavar="N",
                   help="words in a row that count as contamination (default 13)")


def gate_config(args: argparse.Namespace):
    """The gates asked for, with benchmark files checked (and indexed) now, so a bad file
    stops the command before anything starts."""
    from ..gates import GateConfig, load_index

    gates = GateConfig(dedup=not args.no_dedup, near_dup=args.near_dup,
                       decontaminate=tuple(args.decontaminate),
                       decontaminate_field=args.decontaminate_field,
                       decontaminate_ngram=args.decontaminate_ngram)
    index = None
    if gates.decontaminate:
        index = load_index(gates.decontaminate, gates.decontaminate_field,
                           gates.decontaminate_ngram)
        d = index.describe()
        print(f"evolviz: decontaminating against {d['items']} benchmark items "
              f"({d['ngrams']} {gates.decontaminate_ngram}-grams; {d['too_short']} items "
              f"too short to share one)", file=sys.stderr)
    return gates, index


def add_prices(p: argparse.ArgumentParser) -> None:
    p.add_argument("--price-in", type=float, metavar="USD",
                   help="price per million input (prompt) tokens")
    p.add_argument("--price-out", type=float, metavar="USD",
                   help="price per million output (completion) tokens")
    p.add_argument("--batch-discount", type=float, default=0.5, metavar="F",
                   help="a batch call's price as a fraction of the live price (default 0.5)")


def batch_options(p: argparse.ArgumentParser) -> None:
    """`run --batch`: the provider's Batch API instead of live calls."""
    p.add_argument("--batch", action="store_true",
                   help="send each generation's calls as batches (OpenAI's Batch API or a "
                        "copy of it at --base-url): half the price, answered within 24 h")
    p.add_argument("--batch-dir", metavar="DIR",
                   help="with --batch, for a runner with no Batch API (vllm run-batch): "
                        "write request files into DIR and read NAME.output.jsonl back")
    p.add_argument("--detach", action="store_true",
                   help="with --batch: submit and exit; the same command later collects "
                        "and continues")
    p.add_argument("--poll-interval", type=float, default=60.0, metavar="S",
                   help="with --batch: seconds between polls of the open batches (60)")
    p.add_argument("--batch-max-requests", type=int, default=50_000, metavar="N",
                   help="requests per batch file (default 50,000, OpenAI's limit)")
    p.add_argument("--batch-max-mb", type=float, default=200.0, metavar="MB",
                   help="megabytes per batch file (default 200, OpenAI's limit)")


def prices(args: argparse.Namespace) -> tuple[float, float] | None:
    """Both prices or none: a cost from half a price list would be silently wrong."""
    discount = getattr(args, "batch_discount", 0.5)
    if not 0 < discount <= 1:
        raise ConfigError("--batch-discount must be in (0, 1]: the batch price as a "
                          "fraction of the live price")
    if args.price_in is None and args.price_out is None:
        return None
    if args.price_in is None or args.price_out is None:
        raise ConfigError("--price-in and --price-out go together (USD per million tokens)")
    if args.price_in < 0 or args.price_out < 0:
        raise ConfigError("--price-in and --price-out must be >= 0")
    return args.price_in, args.price_out


def budget_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-tokens", type=int, metavar="N",
                   help="stop cleanly before the run's tokens (all sessions) would pass N")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="stop cleanly before the run's cost would pass USD "
                        "(needs --price-in and --price-out)")
    add_prices(p)


def budget(args: argparse.Namespace) -> Any:
    from ..run.budget import Budget

    price_pair = prices(args)
    if args.max_tokens is None and args.max_cost is None:
        return None
    if args.max_cost is not None and price_pair is None:
        raise ConfigError("--max-cost needs --price-in and --price-out (USD per million "
                          "tokens)")
    return Budget(max_tokens=args.max_tokens, max_cost=args.max_cost, prices=price_pair,
                  batch_discount=args.batch_discount, batch=bool(getattr(args, "batch", False)))
