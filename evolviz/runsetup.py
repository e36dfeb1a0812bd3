"""Building a run from command-line options: one place, used by `run` and `estimate`.

Why shared: a cost estimate is only worth something if its pilot makes exactly the calls
the real run will make (same endpoint, models, sampling, templates, rules and operator
weights), so both commands build their run here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Evolution
from .errors import ConfigError, InputError
from .llm import LLMClient, ResponseCache
from .store import RunStore

__all__ = ["RunParts", "load_run_seeds", "open_run"]


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


def load_run_seeds(args: argparse.Namespace) -> list[Any]:
    """The seeds `args` name, with bad rows reported (as `run` always has)."""
    from .seeds import load_seeds
    from .textsafe import inert

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
    return seeds


@dataclass
class RunParts:
    store: RunStore
    cache: ResponseCache
    client: LLMClient
    evolution: Evolution

    def close(self) -> None:
        self.cache.close()
        self.store.close()


def open_run(args: argparse.Namespace, seeds: Sequence[Any], store_path: str | Path) -> RunParts:
    """The store, client and `Evolution` that `args` describe, over `seeds`."""
    from .config import DEFAULT_SAMPLING, RunConfig
    from .rules import RuleConfig
    from .templates import TemplateSet

    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
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
    rules = RuleConfig(sorry_max_words=args.sorry_max_words).without(args.no_rule)
    config = RunConfig(seed=args.seed, operator_weights=_weights(args.weight), rules=rules,
                       sampling=sampling, judge_difficulty=args.judge_difficulty)
    models = {"evolver": args.evolver_model or model, "answerer": args.answer_model or model,
              "judge": args.judge_model or model}

    store = RunStore(store_path)
    cache = ResponseCache(store_path)
    concurrency = args.concurrency or (2 if local is not None else 8)
    client = LLMClient(base_url, api_key=api_key, models=models,
                       concurrency=concurrency, timeout=args.timeout,
                       max_retries=args.retries, cache=cache,
                       recover=local.recover if local is not None else None)
    try:
        evo = Evolution(store, client, templates, config, seeds=seeds)
    except BaseException:
        cache.close()
        store.close()
        raise
    return RunParts(store, cache, client, evo)
