"""What if the run had been gated otherwise ("what if I had decontaminated against this
file?"): the dataset stage re-applied to a stored run, in Python, with no LLM call.

Nothing is rewritten. The pools of later generations were decided by the gates in force at
the time, so a what-if answers which candidates the dataset would hold, not what the run
would have evolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby
from typing import Any

from ..records import Candidate
from .config import GATE_RULES, GateConfig
from .dataset_stage import DatasetStage, _seed_texts, pre_gate

__all__ = ["gates_what_if", "rejudged_candidates"]

Rejudge = Callable[[Candidate], Candidate]


def rejudged_candidates(store: Any, config: GateConfig, *, rejudge: Rejudge | None = None,
                        encoder: Any = None) -> Iterator[tuple[Candidate, Candidate]]:
    """(as stored, as re-judged) for every candidate, in (generation, slot) order.

    `rejudge` re-applies rules 1-4 first (e.g. `lambda c: reapply_rules(c, cfg, tpl)`), so
    one what-if can change both; without it their stored verdicts stand.
    """
    stage = DatasetStage(config, _seed_texts(store), encoder=encoder)
    for _, group in groupby(store.candidates(), key=lambda c: c.generation):
        stored = list(group)
        before = [pre_gate(rejudge(c) if rejudge else c) for c in stored]
        judged = {c.id: c for c in stage.judge(before)} if config.active else {}
        for old, new in zip(stored, before, strict=True):
            yield old, judged.get(new.id, new)


def gates_what_if(store: Any, gate_config: GateConfig, *, rejudge: Rejudge | None = None,
                  encoder: Any = None, keep_changed: int = 200) -> dict[str, Any]:
    """Per-generation counts and the candidates whose outcome would change.

    Returns ``{"per_generation": [{generation, accepted_before, accepted_after,
    rejected_after: {rule: n}}], "changed": [{id, before, after, rule, reason}],
    "total_changed": n}``, the shape of the rules what-if, so one panel view shows both.
    """
    gens: dict[int, dict[str, Any]] = {}
    changed: list[dict[str, Any]] = []
    total = 0
    for old, new in rejudged_candidates(store, gate_config, rejudge=rejudge,
                                        encoder=encoder):
        g = gens.setdefault(old.generation, {
            "generation": old.generation, "accepted_before": 0, "accepted_after": 0,
            "rejected_after": {}, **{f"{r}_before": 0 for r in GATE_RULES},
            **{f"{r}_after": 0 for r in GATE_RULES}})
        g["accepted_before"] += old.status == "accepted"
        g["accepted_after"] += new.status == "accepted"
        if old.rejected_by in GATE_RULES:
            g[f"{old.rejected_by}_before"] += 1
        if new.status == "rejected":
            rule = new.rejected_by or "unknown"
            g["rejected_after"][rule] = g["rejected_after"].get(rule, 0) + 1
            if rule in GATE_RULES:
                g[f"{rule}_after"] += 1
        if (new.status, new.rejected_by) != (old.status, old.rejected_by):
            total += 1
            if len(changed) < keep_changed:
                bad = new.rejection
                changed.append({"id": old.id, "before": old.status, "after": new.status,
                                "rule": new.rejected_by,
                                "reason": bad.reason if bad else ""})
    return {"per_generation": [gens[g] for g in sorted(gens)], "changed": changed,
            "total_changed": total}
