"""The records a run leaves behind: one per candidate, one per generation.

A candidate record holds everything a person needs to see why it lived or died without
re-running anything: the operator, the exact messages sent for each call, the raw
responses, the extracted instruction and answer, every verdict and any error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .calls import CallResult
from .rules import Verdict

__all__ = ["STATUSES", "Candidate", "GenerationStats", "PoolMember", "Status", "seed_text"]


class Status(StrEnum):
    """A finished candidate's outcome: in the dataset, eliminated by a rule, or an LLM error."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"


STATUSES = tuple(s.value for s in Status)


def seed_text(instruction: str, input_: str = "") -> str:
    """A seed as the text the evolver sees: its instruction, then its input if it has one.

    The one place that joins the two, so the pool, the lineage and the map agree.
    """
    return f"{instruction}\n\n{input_}" if input_ else instruction


@dataclass(frozen=True)
class PoolMember:
    """An instruction in the pool: a seed (generation 0) or an accepted candidate."""

    id: str
    seed_id: str
    generation: int
    text: str


@dataclass
class Candidate:
    id: str
    generation: int
    slot: int
    parent_id: str
    seed_id: str
    operator: str
    parent_instruction: str
    status: str = "failed"
    rejected_by: str | None = None
    error_class: str | None = None
    error: str | None = None
    instruction: str | None = None
    answer: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    calls: dict[str, CallResult] = field(default_factory=dict)
    difficulty: float | None = None
    difficulty_raw: str | None = None
    latency_s: float = 0.0
    finished_at: float = 0.0

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.calls.values() if not c.cached)

    @property
    def rejection(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.passed), None)

    @property
    def models(self) -> dict[str, str]:
        return {name: c.model for name, c in self.calls.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "generation": self.generation,
            "slot": self.slot,
            "parent_id": self.parent_id,
            "seed_id": self.seed_id,
            "operator": self.operator,
            "parent_instruction": self.parent_instruction,
            "status": self.status,
            "rejected_by": self.rejected_by,
            "error_class": self.error_class,
            "error": self.error,
            "instruction": self.instruction,
            "answer": self.answer,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "calls": {k: c.to_dict() for k, c in self.calls.items()},
            "difficulty": self.difficulty,
            "difficulty_raw": self.difficulty_raw,
            "tokens": self.tokens,
            "latency_s": self.latency_s,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(
            id=d["id"],
            generation=int(d["generation"]),
            slot=int(d["slot"]),
            parent_id=d["parent_id"],
            seed_id=d["seed_id"],
            operator=d["operator"],
            parent_instruction=d.get("parent_instruction", ""),
            status=d["status"],
            rejected_by=d.get("rejected_by"),
            error_class=d.get("error_class"),
            error=d.get("error"),
            instruction=d.get("instruction"),
            answer=d.get("answer"),
            verdicts=[Verdict.from_dict(v) for v in d.get("verdicts", [])],
            calls={k: CallResult.from_dict(v) for k, v in (d.get("calls") or {}).items()},
            difficulty=d.get("difficulty"),
            difficulty_raw=d.get("difficulty_raw"),
            latency_s=float(d.get("latency_s", 0.0)),
            finished_at=float(d.get("finished_at", 0.0)),
        )


@dataclass
class GenerationStats:
    """Counts for one generation; accepted + sum(rejected) + failed == pool_size when done."""

    generation: int
    pool_size: int
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    failed_by: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    wall_time: float = 0.0
    finished: bool = False

    @property
    def done(self) -> int:
        return self.accepted + sum(self.rejected.values()) + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "pool_size": self.pool_size,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "failed": self.failed,
            "failed_by": dict(self.failed_by),
            "tokens": self.tokens,
            "wall_time": self.wall_time,
            "finished": self.finished,
        }
