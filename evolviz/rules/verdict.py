"""A rule's judgement (`Verdict`) and the settings that decide which rules run (`RuleConfig`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from .ids import DEFAULT_ENABLED, PAPER_RULES, RuleId

__all__ = ["RuleConfig", "Verdict"]

_KNOWN = tuple(r.value for r in RuleId)


@dataclass(frozen=True)
class Verdict:
    """One rule's judgement of one candidate. `passed=False` means the rule rejects it.

    `detail` is the evidence a person needs to agree or disagree without re-running
    anything: the words matched, the judge text read, the finish reason.
    """

    rule: str
    passed: bool
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A plain string, so a fresh verdict and one read back from the store are alike.
        object.__setattr__(self, "rule", str(self.rule))

    def to_dict(self) -> dict[str, Any]:
        return {"rule": str(self.rule), "passed": self.passed, "reason": self.reason,
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(rule=d["rule"], passed=bool(d["passed"]), reason=d["reason"],
                   detail=dict(d.get("detail") or {}))


def _check_names(rules: Iterable[str]) -> None:
    unknown = [r for r in rules if r not in _KNOWN]
    if unknown:
        raise ConfigError(f"unknown rule(s) {unknown}; known rules: {list(_KNOWN)}")


@dataclass(frozen=True)
class RuleConfig:
    """Which rules run and with what thresholds. Stored with the run so a replay matches.

    `enabled` may name any `RuleId`, the dataset stage's too; the candidate stages act on
    theirs. `judge_unclear` in `enabled` means an unclear judge (after one re-ask) rejects.
    """

    enabled: tuple[str, ...] = DEFAULT_ENABLED
    sorry_max_words: int = 80
    copied_ngram: int = 8
    extra_markers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_names(self.enabled)
        object.__setattr__(self, "enabled", tuple(str(r) for r in self.enabled))
        if self.sorry_max_words < 0:
            raise ConfigError("sorry_max_words must be >= 0")
        if self.copied_ngram < 3:
            raise ConfigError("copied_ngram must be >= 3 (shorter runs match by chance)")

    @classmethod
    def paper(cls, **kw: Any) -> RuleConfig:
        """The paper's four rules (and the unusable-rewrite gate), nothing beyond."""
        return cls(enabled=PAPER_RULES, **kw)

    def is_on(self, rule: str) -> bool:
        return rule in self.enabled

    def without(self, rules: Iterable[str]) -> RuleConfig:
        rules = list(rules)
        _check_names(rules)
        return replace(self, enabled=tuple(r for r in self.enabled if r not in rules))

    def with_(self, rules: Iterable[str]) -> RuleConfig:
        rules = list(rules)
        _check_names(rules)
        return replace(self, enabled=(*self.enabled, *(r for r in rules
                                                       if r not in self.enabled)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": list(self.enabled),
            "sorry_max_words": self.sorry_max_words,
            "copied_ngram": self.copied_ngram,
            "extra_markers": list(self.extra_markers),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleConfig:
        return cls(
            enabled=tuple(d.get("enabled", DEFAULT_ENABLED)),
            sorry_max_words=int(d.get("sorry_max_words", 80)),
            copied_ngram=int(d.get("copied_ngram", 8)),
            extra_markers=tuple(d.get("extra_markers", ())),
        )


