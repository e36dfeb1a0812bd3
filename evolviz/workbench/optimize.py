"""Let the evolver LLM revise an operator's template from its failures, and keep a revision
only when a paired test on a dev slice says it fails less.

Why this loop and not "ask once and trust it": the Evol-Instruct authors' follow-up (Auto
Evol-Instruct) found that LLM-revised evolving prompts beat hand-written ones, but only
because each revision was checked against a dev set; an unchecked revision is as likely to
be worse. Here a proposal must (1) pass the template placeholder contract, as any
hand-edited template must, and (2) lower the failure rate on the same dev seeds with an
exact McNemar p < 0.05. Every evaluation is stored as candidates (generation k = step k)
and every step (proposal, its revision call, numbers, kept or not) in the store's meta
under "optimize", so a person can see each diff and why it was kept.
"""

from __future__ import annotations

import asyncio
import difflib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TemplateError
from ..records import Candidate, PoolMember
from ..run.engine import evolve_candidate
from ..templates import Template, TemplateSet, parse_template
from .stats import mcnemar_exact, wilson

if TYPE_CHECKING:
    from ..run.session import RunRecipe

__all__ = ["ALPHA", "REVISE_MARKER", "dev_slice", "kept", "optimize", "optimize_new_store",
           "parse_proposal", "render_steps", "revision_messages"]

ALPHA = 0.05
REVISE_MARKER = "#Template to revise#"
_BLOCK = re.compile(r"<template>\s*\n?(.*?)\n?\s*</template>", re.DOTALL)
# A Markdown fence the evolver wrapped around the text inside the block ("```text" ...
# "```"): models trained on chat write one by habit; its lines are not part of a prompt.
_FENCE = re.compile(r"\A```[\w+-]*[ \t]*\n(.*?)\n?```[ \t]*\Z", re.DOTALL)

_SYSTEM = ("You improve prompt templates for a pipeline that rewrites instructions. You "
           "reply with the complete revised template between <template> and </template>, "
           "and nothing else.")
_USER = """The template below is sent to a model to rewrite an instruction; \
{{instruction}} is replaced by the instruction. Too many of its rewrites are rejected. \
Study the rejected rewrites and their verdicts, then write a revised template that avoids \
those failures while asking for the same kind of rewrite. Keep {{instruction}} exactly \
where the instruction belongs, and keep the template's section markers.

""" + REVISE_MARKER + """
<template>
TEMPLATE
</template>

#Rejected rewrites#
FAILURES
"""


def revision_messages(template: Template, failures: Sequence[Candidate]) -> list[dict[str, str]]:
    """The revision request: the template and a sample of its failures with verdicts."""
    shown = []
    for c in failures:
        rewrite = c.calls.get("rewrite")
        text = (rewrite.content if rewrite is not None and rewrite.content else "")[:400]
        bad = c.rejection
        why = f"{bad.rule}: {bad.reason}" if bad else (c.error_class or c.status)
        shown.append(f"- instruction: {c.parent_instruction[:300]}\n  rewrite: {text}\n"
                     f"  verdict: {why}")
    user = _USER.replace("TEMPLATE", template.user).replace(
        "FAILURES", "\n".join(shown) or "(none recorded)")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_proposal(content: str | None, current: Template, where: str) -> Template:
    """The proposed template, held to the same contract as a hand-written file."""
    match = _BLOCK.search(content or "")
    if match is None:
        raise TemplateError(f"{where}: the reply has no <template>...</template> block")
    data: dict[str, Any] = {"name": current.name, "role": current.role, "kind": current.kind,
                            "description": current.description, "system": current.system,
                            "placeholders": list(current.placeholders),
                            "markers": list(current.markers), "user": _unfenced(match.group(1))}
    return parse_template(data, path=where)


def _unfenced(text: str) -> str:
    fenced = _FENCE.match(text.strip())
    return fenced.group(1).strip("\n") if fenced else text


async def _evaluate(template: Template, dev: Sequence[PoolMember], step: int, ctx: dict
                    ) -> list[Candidate]:
    templates: TemplateSet = ctx["templates"].replace(template)
    cands = await asyncio.gather(*[
        evolve_candidate(m, template.name, generation=step + 1, slot=i, client=ctx["client"],
                         templates=templates, config=ctx["config"])
        for i, m in enumerate(dev)])
    for c in cands:
        ctx["store"].add_candidate(c)
    return list(cands)


def _failed(cands: Sequence[Candidate]) -> list[bool]:
    return [c.status != "accepted" for c in cands]


Progress = Callable[[list[dict[str, Any]], str], None]


async def optimize(store: Any, client: Any, templates: TemplateSet, config: Any,
                   dev: Sequence[PoolMember], operator: str, steps: int,
                   *, sample_failures: int = 5, progress: Progress | None = None
                   ) -> list[dict[str, Any]]:
    """Run up to `steps` revision steps; returns (and stores) one record per step.

    `progress(history, doing)` hears each step as it is recorded and what comes next, so a
    panel or a terminal can show a loop that takes minutes on a small model."""
    ctx = {"store": store, "client": client, "templates": templates, "config": config}
    history: list[dict[str, Any]] = []

    def record(entry: dict[str, Any] | None, doing: str) -> None:
        if entry is not None:
            history.append(entry)
            store.set_meta("optimize", {"operator": operator, "steps": history})
        if progress is not None:
            progress(history, doing)

    current = templates.operators[operator]
    record(None, f"baseline: evolving {len(dev)} dev seeds with the current template")
    cands = await _evaluate(current, dev, 0, ctx)
    failed = _failed(cands)
    iv = wilson(sum(failed), len(failed))
    record({"step": 0, "status": "baseline", "template": current.user,
            "failure_rate": iv.to_dict(), "n": len(failed)}, "")
    for step in range(1, steps + 1):
        failures = [c for c in cands if c.status != "accepted"][:sample_failures]
        if not failures:
            record(None, "")
            break  # nothing left to learn from
        record(None, f"step {step} of {steps}: asking the evolver for a revision")
        messages = revision_messages(current, failures)
        call = await client.chat("evolver", messages, config.sampling["evolver"],
                                 sample=f"optimize/{operator}/{step}")
        entry: dict[str, Any] = {"step": step, "revision_call": call.to_dict()}
        try:
            proposal = parse_proposal(call.content, current,
                                      f"{store.path}: optimize step {step}")
        except TemplateError as e:
            entry.update(status="invalid", error=str(e))
            record(entry, "")
            continue
        proposal = replace(proposal, path=f"optimize step {step}")
        if proposal.user.strip() == current.user.strip():
            entry.update(status="unchanged")  # nothing to evaluate; ask again next step
            record(entry, "")
            continue
        record(None, f"step {step} of {steps}: evolving the {len(dev)} dev seeds with the "
                     f"proposal")
        new = await _evaluate(proposal, dev, step, ctx)
        new_failed = _failed(new)
        fixed = sum(a and not b for a, b in zip(failed, new_failed, strict=True))
        broke = sum(b and not a for a, b in zip(failed, new_failed, strict=True))
        p = mcnemar_exact(fixed, broke)
        keep = fixed > broke and p < ALPHA
        entry.update(status="kept" if keep else "not kept", template=proposal.user,
                     diff="".join(difflib.unified_diff(
                         current.user.splitlines(keepends=True),
                         proposal.user.splitlines(keepends=True), "current", "proposal")),
                     failure_rate=wilson(sum(new_failed), len(new_failed)).to_dict(),
                     n=len(new_failed), fixed=fixed, broke=broke, p=p)
        record(entry, "")
        if keep:
            current, cands, failed = proposal, new, new_failed
    return history


def kept(history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The step whose template the loop ended with: the last kept one, else the baseline."""
    return next(h for h in reversed(history) if h["status"] in ("kept", "baseline"))


def dev_slice(seeds: Sequence[Any], n: int, seed: int) -> list[Any]:
    """`n` of the seeds, drawn with the run's random seed and kept in file order, so the
    same command (or the panel on the same run) tests on the same slice."""
    chosen = random.Random(seed).sample(range(len(seeds)), min(n, len(seeds)))
    return [seeds[i] for i in sorted(chosen)]


def render_steps(history: Sequence[dict[str, Any]]) -> str:
    """Each step's numbers and diff for a terminal; proposals are LLM text, made inert."""
    from ..textsafe import inert

    lines = []
    for h in history:
        head = f"step {h['step']}: {h['status']}"
        if "failure_rate" in h:
            fr = h["failure_rate"]
            head += (f", failure rate {100 * fr['value']:.0f}% [{100 * fr['low']:.0f}%, "
                     f"{100 * fr['high']:.0f}%] of {h['n']}")
        if "p" in h:
            head += f"; fixed {h['fixed']}, broke {h['broke']}, McNemar p = {h['p']:.3g}"
        lines.append(head)
        if h.get("error"):
            lines.append("  " + inert(h["error"]))
        if h.get("diff"):
            lines += ["  " + inert(x) for x in h["diff"].splitlines()]
    return "\n".join(lines)


async def optimize_new_store(recipe: RunRecipe, seeds: Sequence[Any], store: str | Path, *,
                             operator: str, steps: int = 3, dev: int = 30, seed: int = 0,
                             progress: Progress | None = None
                             ) -> tuple[list[dict[str, Any]], Template]:
    """The loop `evolviz optimize` runs: a dev slice of `seeds` in a new store, the
    baseline, up to `steps` revisions. Returns the steps and the template it ended with."""
    from ..errors import ConfigError

    if steps < 1:
        raise ConfigError("must be >= 1", field="steps")
    if dev < 2:
        raise ConfigError("must be >= 2", field="dev")
    if Path(store).exists():
        raise ConfigError(f"{store}: already exists; an optimize run needs a new store",
                          field="store")
    if operator not in recipe.templates.operators:
        raise ConfigError(f"{operator!r}: operators are {list(recipe.templates.operators)}",
                          field="operator")
    loop = asyncio.get_running_loop()
    run = await loop.run_in_executor(None, recipe.start, store, dev_slice(seeds, dev, seed))
    try:
        try:
            history = await optimize(run.store, run.client, run.evolution.templates,
                                     run.evolution.config, run.store.pool(1) or [], operator,
                                     steps, progress=progress)
        finally:
            await run.client.aclose()
    finally:
        run.close()
    final = kept(history)
    return history, replace(recipe.templates.operators[operator], user=final["template"])
