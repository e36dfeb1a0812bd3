"""The dataset stage's settings, stored with the run so a resume judges the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigError

__all__ = ["CONTAMINATED", "DUPLICATE", "GATE_RULES", "GateConfig"]

DUPLICATE = "duplicate"
CONTAMINATED = "contaminated"
#: Rule ids of the dataset stage, in the order they judge a candidate.
GATE_RULES = (CONTAMINATED, DUPLICATE)


@dataclass(frozen=True)
class GateConfig:
    """What the dataset stage checks once a generation's candidates are all in.

    `near_dup`: None for exact duplicates only, else a cosine similarity in (0, 1] at or
    above which a candidate is a near duplicate of the dataset so far. `decontaminate`:
    benchmark files (any format the seed loaders read, `decontaminate_field` naming the
    text column where one is needed); a candidate sharing `decontaminate_ngram` normalised
    words in a row with one of their items is contaminated.
    """

    dedup: bool = True
    near_dup: float | None = None
    decontaminate: tuple[str, ...] = ()
    decontaminate_field: str | None = None
    decontaminate_ngram: int = 13

    def __post_init__(self) -> None:
        near = self.near_dup
        if near is not None and (not isinstance(near, int | float) or isinstance(near, bool)
                                 or not 0.0 < float(near) <= 1.0):
            raise ConfigError(f"{near!r}: the threshold is a cosine similarity in (0, 1], "
                              f"e.g. 0.95", field="near_dup")
        if not isinstance(self.decontaminate_ngram, int) or self.decontaminate_ngram < 5:
            raise ConfigError(f"{self.decontaminate_ngram!r}: must be a whole number >= 5 "
                              f"(shorter runs match by chance)", field="decontaminate_ngram")
        object.__setattr__(self, "decontaminate", tuple(str(f) for f in self.decontaminate))

    @property
    def active(self) -> bool:
        return self.dedup or self.near_dup is not None or bool(self.decontaminate)

    def with_(self, **changes: Any) -> GateConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dedup": self.dedup,
            "near_dup": self.near_dup,
            "decontaminate": list(self.decontaminate),
            "decontaminate_field": self.decontaminate_field,
            "decontaminate_ngram": self.decontaminate_ngram,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GateConfig:
        d = d or {}
        near = d.get("near_dup")
        return cls(
            dedup=bool(d.get("dedup", True)),
            near_dup=None if near is None else float(near),
            decontaminate=tuple(d.get("decontaminate") or ()),
            decontaminate_field=d.get("decontaminate_field"),
            decontaminate_ngram=int(d.get("decontaminate_ngram", 13)),
        )
