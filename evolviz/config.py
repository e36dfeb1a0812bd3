"""A run's settings: what decides its outcome is stored with it, secrets never are."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .calls import ROLES, Sampling
from .errors import ConfigError, StoreMismatchError
from .gates.config import GateConfig
from .rules import RuleConfig, RuleId

__all__ = ["DEFAULT_SAMPLING", "JUDGES", "RunConfig", "operator_plan"]

#: Who decides rule 1 and `not_a_task`: the judge model, or the checks that need none.
JUDGES = ("model", "check")

DEFAULT_SAMPLING: dict[str, Sampling] = {
    "evolver": Sampling(temperature=0.7, max_tokens=384),
    "answerer": Sampling(temperature=0.7, max_tokens=512),
    # Enough for {"verdict": "not_equal"} or {"rating": 7} with the spaces a model adds.
    "judge": Sampling(temperature=0.0, max_tokens=32),
}


@dataclass(frozen=True)
class RunConfig:
    """Settings that decide which candidates a run makes.

    `seed` drives operator choice per (generation, slot) and the per-call seed sent to the
    endpoint, so the same seed and the same responses give the same run, and a resumed
    run picks the same operators it would have picked without the interruption.
    """

    seed: int = 0
    operator_weights: Mapping[str, float] = field(default_factory=dict)
    rules: RuleConfig = field(default_factory=RuleConfig)
    sampling: Mapping[str, Sampling] = field(default_factory=lambda: dict(DEFAULT_SAMPLING))
    judge_difficulty: bool = False
    stop_at_first_rejection: bool = True
    gates: GateConfig = field(default_factory=GateConfig)
    # Ask the judges for JSON through `response_format` (skipped by an endpoint that
    # refuses it; the reply is read as prose then).
    structured_judge: bool = True
    # Who decides rule 1 and whether a rewrite is a task: the judge model ("model", one
    # call per candidate) or the checks that need no model ("check": what measures better
    # on the small local model, docs/local_model.md).
    judge: str = "model"

    def __post_init__(self) -> None:
        for name, w in self.operator_weights.items():
            if not isinstance(w, int | float) or w < 0:
                raise ConfigError(f"operator weight for {name!r} must be a number >= 0")
        missing = [r for r in ROLES if r not in self.sampling]
        if missing:
            raise ConfigError(f"no sampling parameters for role(s) {missing}")
        for role, s in self.sampling.items():
            if s.max_tokens < 1:
                raise ConfigError(f"max tokens for role {role!r} must be >= 1, "
                                  f"not {s.max_tokens}")
        if self.judge not in JUDGES:
            raise ConfigError(f"{self.judge!r} is not one of {list(JUDGES)}", field="judge")
        if RuleId.REWRITE_INVALID not in self.rules.enabled:
            raise ConfigError(
                "rule 'rewrite_invalid' cannot be switched off: an empty or truncated "
                "rewrite has no instruction to answer"
            )

    def weights_for(self, operators: Sequence[str]) -> list[float]:
        unknown = [o for o in self.operator_weights if o not in operators]
        if unknown:
            raise ConfigError(f"weights given for unknown operator(s) {unknown}; "
                              f"operators are {list(operators)}")
        weights = [float(self.operator_weights.get(o, 1.0)) for o in operators]
        if not any(weights):
            raise ConfigError("every operator weight is 0: no operator can be chosen")
        return weights

    def with_(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    def with_max_tokens(self, **per_role: int | None) -> RunConfig:
        """The same settings with other max tokens for some roles (None: unchanged).
        An answer cut at max tokens is rejected (`answer_truncated`), so this is the knob
        to turn when that rule fires often."""
        unknown = [r for r in per_role if r not in ROLES]
        if unknown:
            raise ConfigError(f"unknown role(s) {unknown}; roles are {list(ROLES)}")
        sampling = dict(self.sampling)
        for role, n in per_role.items():
            if n is not None:
                sampling[role] = replace(sampling[role], max_tokens=int(n))
        return replace(self, sampling=sampling)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "operator_weights": dict(self.operator_weights),
            "rules": self.rules.to_dict(),
            "sampling": {r: s.to_dict() for r, s in self.sampling.items()},
            "judge_difficulty": self.judge_difficulty,
            "stop_at_first_rejection": self.stop_at_first_rejection,
            "gates": self.gates.to_dict(),
            "structured_judge": self.structured_judge,
            "judge": self.judge,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        return cls(
            seed=int(d.get("seed", 0)),
            operator_weights=dict(d.get("operator_weights") or {}),
            rules=RuleConfig.from_dict(d.get("rules") or {}),
            sampling={r: Sampling.from_dict(s) for r, s in
                      (d.get("sampling") or {}).items()} or dict(DEFAULT_SAMPLING),
            judge_difficulty=bool(d.get("judge_difficulty", False)),
            stop_at_first_rejection=bool(d.get("stop_at_first_rejection", True)),
            gates=GateConfig.from_dict(d.get("gates")),
            structured_judge=bool(d.get("structured_judge", True)),
            judge=str(d.get("judge", "model")),
        )

    def check_resumable(self, stored: RunConfig, path: str) -> None:
        """Refuse to continue a run under a seed that would change its earlier choices.

        Weights, rules and sampling may change between generations (the panel's controls
        do exactly that); each candidate records what it was made with.
        """
        if stored.seed != self.seed:
            raise StoreMismatchError(
                f"{path}: this run was started with seed {stored.seed}, not {self.seed}; "
                f"use the same seed to resume, or another store for a new run"
            )


def operator_plan(seed: int, generation: int, operators: Sequence[str],
                  weights: Sequence[float], pool_size: int) -> list[str]:
    """The operator for every slot of a generation, drawn in one go from a seeded RNG.

    Drawing the whole plan up front (rather than as candidates start) keeps it independent
    of completion order and of interruptions.
    """
    rng = random.Random(f"evolviz/{seed}/{generation}")
    return rng.choices(list(operators), weights=list(weights), k=pool_size)
