"""What-if re-judging: how a stored run would have been judged under other rule settings.

It calls the same verdict code as the live run, on the stored calls, with no LLM call; it
rewrites nothing (the pool of later generations was decided by the rules in force then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import RunConfig
from ..store import RunStore
from ..templates import TemplateSet
from .engine import reapply_rules

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
    """Rules 2-4 re-applied under `config`, then the dataset gates (`config.gates`) over
    the result: a candidate another rule now rejects leaves the dataset, so whether a later
    one is its duplicate changes too."""
    from ..gates import gates_what_if

    d = gates_what_if(store, config.gates,
                      rejudge=lambda c: reapply_rules(c, config, templates))
    return WhatIf(per_generation=d["per_generation"], changed=d["changed"],
                  total_changed=d["total_changed"])
