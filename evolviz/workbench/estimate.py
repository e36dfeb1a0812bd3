"""What a full run will cost, measured on a pilot before paying for it.

Why a pilot and not a formula: calls per candidate depend on how often the cheap checks
stop a candidate early, and tokens on the endpoint's tokenizer and the model's verbosity;
both are properties of this template set on this endpoint. So K seeds are evolved for one
generation (the same construction as `evolviz run`), and the full run is projected from
those K candidates:

- every generation evolves every pool member (a rejected or failed member is evolved
  again), so a run makes seeds x generations candidates, each like a pilot candidate;
- instructions grow as they evolve: an accepted rewrite is on average `growth` tokens
  longer than its parent, so in generation g a member carries about growth x a x (g-1)
  extra tokens (a: acceptance rate), paid once in each prompt or reply that holds it;
- wall time is candidates x mean latency / concurrency (the engine keeps that many
  candidates in flight).

The range is a percentile bootstrap over the pilot's candidates, widened by the projection
at both ends of the acceptance rate's Wilson interval.

Batch mode (`evolviz run --batch`) makes the same calls at `batch_discount` of the price
(0.5 at OpenAI), so its cost is the projection's times that; its wall time is not calls
over concurrency but stage rounds: a candidate's calls go out one batch after another,
each answered within the provider's 24-hour window.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..calls import ROLES
from ..errors import ConfigError, InputError
from ..records import Candidate
from .stats import wilson

if TYPE_CHECKING:
    from ..run.session import RunRecipe

__all__ = ["PilotRow", "estimate", "pilot", "project", "render_estimate", "stored_rows"]

# How many copies of the evolving instruction each call carries, by (call name, kind).
_CARRIES = {("rewrite", "prompt"): 1, ("rewrite", "completion"): 1,
            ("equality", "prompt"): 2, ("answer", "prompt"): 1, ("difficulty", "prompt"): 1}


@dataclass
class PilotRow:
    """One pilot candidate, reduced to what the projection uses."""

    accepted: bool
    calls: dict[str, int] = field(default_factory=dict)
    prompt: dict[str, int] = field(default_factory=dict)
    completion: dict[str, int] = field(default_factory=dict)
    carries: dict[str, list[int]] = field(default_factory=dict)  # role -> [prompt, compl.]
    latency: float = 0.0
    growth_chars: int = 0
    rewrite_chars: int = 0
    rewrite_tokens: int = 0

    @classmethod
    def of(cls, c: Candidate) -> PilotRow:
        row = cls(accepted=c.status == "accepted", latency=c.latency_s)
        for name, call in c.calls.items():  # cached calls count: a real run would make them
            r = call.role
            row.calls[r] = row.calls.get(r, 0) + 1
            row.prompt[r] = row.prompt.get(r, 0) + call.prompt_tokens
            row.completion[r] = row.completion.get(r, 0) + call.completion_tokens
            carry = row.carries.setdefault(r, [0, 0])
            carry[0] += _CARRIES.get((name, "prompt"), 0)
            carry[1] += _CARRIES.get((name, "completion"), 0)
            if name == "rewrite" and call.content:
                row.rewrite_chars += len(call.content)
                row.rewrite_tokens += call.completion_tokens
        if row.accepted and c.instruction is not None:
            row.growth_chars = len(c.instruction) - len(c.parent_instruction)
        return row


def _point(rows: Sequence[PilotRow], seeds: int, generations: int, concurrency: int,
           prices: tuple[float, float] | None, accept: float | None = None) -> dict[str, float]:
    """The projection as flat numbers, from one (possibly resampled) set of pilot rows."""
    n = len(rows)
    a = accept if accept is not None else sum(r.accepted for r in rows) / n
    acc = [r for r in rows if r.accepted]
    chars = sum(r.rewrite_chars for r in rows)
    per_char = sum(r.rewrite_tokens for r in rows) / chars if chars else 0.25
    growth = (sum(r.growth_chars for r in acc) / len(acc)) * per_char if acc else 0.0
    candidates = seeds * generations
    extra = seeds * max(0.0, growth) * a * generations * (generations - 1) / 2
    out: dict[str, float] = {}
    for role in ROLES:
        out[f"calls.{role}"] = candidates * sum(r.calls.get(role, 0) for r in rows) / n
        for i, kind in enumerate(("prompt", "completion")):
            measured = sum(getattr(r, kind).get(role, 0) for r in rows) / n
            carried = sum(r.carries.get(role, [0, 0])[i] for r in rows) / n
            out[f"{kind}.{role}"] = candidates * measured + extra * carried
    out["calls.total"] = sum(out[f"calls.{r}"] for r in ROLES)
    out["prompt.total"] = sum(out[f"prompt.{r}"] for r in ROLES)
    out["completion.total"] = sum(out[f"completion.{r}"] for r in ROLES)
    out["tokens.total"] = out["prompt.total"] + out["completion.total"]
    if prices is not None:
        out["cost_usd"] = (out["prompt.total"] * prices[0]
                           + out["completion.total"] * prices[1]) / 1e6
    lanes = max(1, min(concurrency, seeds))
    out["wall_time_s"] = generations * math.ceil(seeds / lanes) * sum(
        r.latency for r in rows) / n
    out["growth_tokens"] = growth
    return out


def project(rows: Sequence[PilotRow], *, seeds: int, generations: int, concurrency: int,
            prices: tuple[float, float] | None = None, resamples: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """The full run's calls, tokens per role, cost and wall time, each with a range."""
    if not rows:
        raise ValueError("no pilot candidates to project from")
    args = (seeds, generations, concurrency, prices)
    point = _point(rows, *args)
    k = sum(r.accepted for r in rows)
    accept = wilson(k, len(rows))
    ends = [_point(rows, *args, accept=x) for x in (accept.low, accept.high)]
    # One resample gives every number, so the ranges describe the same pilot draws; a big
    # store (--from-store) is thinned to a seeded sample first, which keeps this fast.
    rng = random.Random(seed)
    pool = list(rows) if len(rows) <= 2000 else rng.sample(list(rows), 2000)
    draws = [_point([pool[rng.randrange(len(pool))] for _ in pool], *args)
             for _ in range(resamples)]
    projection: dict[str, Any] = {}
    for key in point:
        values = sorted(d[key] for d in draws)
        lo = values[int(0.025 * (len(values) - 1))]
        hi = values[math.ceil(0.975 * (len(values) - 1))]
        projection[key] = {"value": point[key],
                           "low": min([lo, point[key]] + [e[key] for e in ends]),
                           "high": max([hi, point[key]] + [e[key] for e in ends])}
    return {"seeds": seeds, "generations": generations, "candidates": seeds * generations,
            "concurrency": concurrency, "pilot_candidates": len(rows),
            "pilot_acceptance": accept.to_dict(),
            "prices": None if prices is None else {"in": prices[0], "out": prices[1],
                                                   "unit": "USD per million tokens"},
            "projection": projection}


def render_estimate(report: dict[str, Any]) -> str:
    p = report["projection"]

    def iv(key: str, fmt: str = "{:,.0f}") -> str:
        d = p[key]
        return (f"{fmt.format(d['value'])}  [{fmt.format(d['low'])} .. "
                f"{fmt.format(d['high'])}]")

    acc = report["pilot_acceptance"]
    lines = [f"projection for {report['seeds']} seeds x {report['generations']} generations "
             f"= {report['candidates']:,} candidates, from a pilot of "
             f"{report['pilot_candidates']} ({100 * acc['value']:.0f}% accepted, "
             f"95% CI {100 * acc['low']:.0f}-{100 * acc['high']:.0f}%)",
             f"{'':10}  {'calls':>30}  {'input tokens':>36}  {'output tokens':>36}"]
    for role in (*ROLES, "total"):
        lines.append(f"{role:10}  {iv('calls.' + role):>30}  {iv('prompt.' + role):>36}  "
                     f"{iv('completion.' + role):>36}")
    lines.append(f"{'tokens':10}  {iv('tokens.total'):>30}")
    if "cost_usd" in p:
        pr = report["prices"]
        lines.append(f"{'cost':10}  {iv('cost_usd', '{:,.4f}'):>30} USD (at {pr['in']:g} in / "
                     f"{pr['out']:g} out per million tokens)")
    else:
        lines.append("cost: unknown without prices (USD per million input and output tokens)")
    lines.append(f"{'wall time':10}  {iv('wall_time_s', '{:,.1f}'):>30} s at concurrency "
                 f"{report['concurrency']}")
    batch = report.get("batch")
    if batch:
        cost = batch["cost_usd"]
        price = ("" if cost is None else
                 f"{cost['value']:,.4f} [{cost['low']:,.4f} .. {cost['high']:,.4f}] USD "
                 f"(at {batch['discount']:g} x the live price); ")
        lines.append(f"{'as batches':10}  {price}up to {batch['rounds_per_generation']} "
                     f"stage rounds per generation, each answered within "
                     f"{batch['window_hours']} h (at most {batch['worst_case_hours']:,} h)")
    return "\n".join(lines)


async def pilot(recipe: RunRecipe, seeds: Sequence[Any], *, k: int,
                seed: int = 0) -> tuple[list[PilotRow], int]:
    """Evolve a seeded sample of `k` seeds for one generation in a scratch store; the
    pilot's rows and the concurrency it ran at (what the projection's wall time uses)."""
    import asyncio
    import tempfile

    if k < 1:
        raise ConfigError("must be >= 1", field="pilot")
    chosen = sorted(random.Random(seed).sample(range(len(seeds)), min(k, len(seeds))))
    with tempfile.TemporaryDirectory(prefix="evolviz-pilot-") as tmp:
        loop = asyncio.get_running_loop()
        run = await loop.run_in_executor(None, recipe.start, f"{tmp}/pilot.db",
                                         [seeds[i] for i in chosen])
        try:
            try:
                await run.evolution.run(1)
            finally:
                await run.client.aclose()
            rows = [PilotRow.of(c) for c in run.store.candidates(generation=1)]
        finally:
            run.close()
    return rows, run.client.concurrency


def stored_rows(path: str | Path) -> list[PilotRow]:
    """A stored run's generation 1 as pilot rows (what `--from-store` projects from)."""
    from ..store import RunStore

    with RunStore(path, create=False, readonly=True) as store:
        rows = [PilotRow.of(c) for c in store.candidates(generation=1)]
    if not rows:
        raise InputError(f"{path}: no generation-1 candidates to project from",
                         field="from_store")
    return rows


def estimate(rows: Sequence[PilotRow], *, seeds: int, generations: int, concurrency: int,
             prices: tuple[float, float] | None = None, seed: int = 0,
             source: str = "pilot", batch_discount: float = 0.5) -> dict[str, Any]:
    """The projection as `evolviz estimate --json` prints it: `project` plus where the
    rows came from, what the pilot itself spent, and the same run in batch mode."""
    if generations < 1:
        raise ConfigError("must be >= 1", field="generations")
    report = project(rows, seeds=seeds, generations=generations, concurrency=concurrency,
                     prices=prices, seed=seed)
    report["source"] = source
    rounds = max(sum(r.calls.values()) for r in rows)
    cost = report["projection"].get("cost_usd")
    report["batch"] = {
        "discount": batch_discount,
        "cost_usd": None if cost is None else {k: v * batch_discount
                                               for k, v in cost.items()},
        "rounds_per_generation": rounds,
        "window_hours": 24,
        "worst_case_hours": generations * rounds * 24,
    }
    report["pilot_tokens"] = {"prompt": sum(sum(r.prompt.values()) for r in rows),
                              "completion": sum(sum(r.completion.values()) for r in rows)}
    return report
