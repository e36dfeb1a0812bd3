"""What-if re-judging: how a stored run would have been judged under other rule settings.

It calls the same verdict code as the live run, on the stored calls, with no LLM call; it
rewrites nothing (the pool of later generations was decided by the rules in force then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import RunConfig
from .engine import reapply_rules
from .store import RunStore
from .templates import TemplateSet

__all__ = ["WhatIf", "what_if"]


@dataclass
class WhatIf:
    """How a run would have been judged under other rule settings (nothing is rewritten:
    the pool of later generations was decided by the rules in force at the time)."""

    per_generation: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    total_changed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"per_generation": self.per_generation, "changed": self.changed[:200],
                "total_changed": self.total_changed}


def what_if(store: RunStore, config: RunConfig, templates: TemplateSet) -> WhatIf:
    out = WhatIf()
    gens: dict[int, dict[str, Any]] = {}
    for c in store.candidates():
        new = reapply_rules(c, config, templates)
        g = gens.setdefault(c.generation, {"generation": c.generation, "accepted_before": 0,
                                           "accepted_after": 0, "rejected_after": {}})
        g["accepted_before"] += c.status == "accepted"
        g["accepted_after"] += new.status == "accepted"
        if new.status == "rejected":
            rule = new.rejected_by or "unknown"
            g["rejected_after"][rule] = g["rejected_after"].get(rule, 0) + 1
        if (new.status, new.rejected_by) != (c.status, c.rejected_by):
            out.total_changed += 1
            if len(out.changed) < 200:
                out.changed.append({"id": c.id, "before": c.status, "after": new.status,
                                    "rule": new.rejected_by})
    out.per_generation = [gens[g] for g in sorted(gens)]
    return out
