"""A run from command-line options: one place, used by `run`, `estimate` and `optimize`.

It turns options into an `Endpoint` and a `RunConfig` and hands them to a `RunSession`
(the same code the panel uses), so a pilot or an optimisation step makes exactly the calls
the real run would.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError
from .options import weights

if TYPE_CHECKING:
    from ..run.session import Endpoint, RunRecipe, RunSession

__all__ = ["load_run_seeds", "open_run", "recipe_from", "record_gate_inputs"]


def load_run_seeds(args: argparse.Namespace) -> list[Any]:
    """The seeds `args` name, with bad rows reported (as `run` always has)."""
    from ..seeds import load_seeds
    from ..textsafe import inert

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


def endpoint_from(args: argparse.Namespace) -> Endpoint:
    from ..run.session import Endpoint

    roles = {"evolver": args.evolver_model, "answerer": args.answer_model,
             "judge": args.judge_model}
    return Endpoint(base_url=args.base_url, model=args.model,
                    role_models={r: m for r, m in roles.items() if m},
                    api_key_env=args.api_key_env, concurrency=args.concurrency,
                    timeout=args.timeout, retries=args.retries, max_outage=args.max_outage)


def recipe_from(args: argparse.Namespace, *, gates: Any = None) -> RunRecipe:
    """The endpoint, settings and templates the options describe."""
    from ..config import RunConfig
    from ..rules import RuleConfig
    from ..run.session import RunRecipe, default_judge, default_sampling, default_style
    from ..templates import TemplateSet

    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
    endpoint = endpoint_from(args)
    style = (args.prompt_style or default_style(endpoint)).replace("-", "_")
    templates = TemplateSet.load(args.templates, style=style)
    sampling = default_sampling(endpoint)
    if args.temperature is not None:
        for role in ("evolver", "answerer"):
            sampling[role] = replace(sampling[role], temperature=args.temperature)
    rules = (RuleConfig.paper if args.paper_rules else RuleConfig)(
        sorry_max_words=args.sorry_max_words)
    if args.unclear_judge == "reject":
        rules = rules.with_(["judge_unclear"])
    elif args.unclear_judge == "keep":
        rules = rules.without(["judge_unclear"])
    rules = rules.without(args.no_rule)
    extra = {"gates": gates} if gates is not None else {}
    config = RunConfig(seed=args.seed, operator_weights=weights(args.weight), rules=rules,
                       sampling=sampling, judge_difficulty=args.judge_difficulty,
                       structured_judge=not args.no_structured_judge,
                       judge=args.judge or default_judge(endpoint), **extra
                       ).with_max_tokens(evolver=args.max_tokens_evolver,
                                         answerer=args.max_tokens_answerer,
                                         judge=args.max_tokens_judge)
    if endpoint.local:
        print("evolviz: no --base-url: starting the embedded local model "
              "(SmolLM2-135M-Instruct)...", file=sys.stderr)
    return RunRecipe(endpoint=endpoint, config=config, templates=templates)


def open_run(args: argparse.Namespace, seeds: Sequence[Any], store_path: str | Path,
             *, gates: Any = None) -> RunSession:
    """The run `args` describe over `seeds`, its client built (the local model started
    when no endpoint is given), holding the store's writer lock: a second `evolviz run`
    on the same store stops with `StoreLockedError` (exit 2) before writing anything."""
    from ..textsafe import inert

    def say(message: str) -> None:
        print(f"evolviz: {inert(message)}", file=sys.stderr)

    return recipe_from(args, gates=gates).start(store_path, seeds, notify=say,
                                                writer="evolviz run")


def record_gate_inputs(store: Any, index: Any) -> None:
    """What the dataset card needs and the store does not otherwise keep: which benchmark
    files (by sha256) the run was decontaminated against."""
    if index is not None:
        store.set_meta("gate_benchmarks", index.describe())


