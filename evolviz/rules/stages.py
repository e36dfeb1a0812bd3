"""The staged verdict pipeline: rewrite, instruction, judge, answer.

Each stage is a pure function of stored call records and settings. The engine calls them
as the calls come back; `rejudge` calls the same functions over a stored candidate, which
is what the what-if uses, so a what-if under the live run's settings cannot disagree with
the live run. The order the stages run in is written once, in `evolviz.run.pipeline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..calls import CallName, CallResult
from .answer import answer_verdicts
from .extract import check_rewrite, extract
from .ids import RuleId
from .judge import equality_verdict
from .verdict import RuleConfig, Verdict
from .wording import DEFAULT_MARKERS, copied_prompt_wording

__all__ = [
    "OperatorView",
    "answer_stage",
    "instruction_stage",
    "judge_stage",
    "rewrite_stage",
    "unusable",
]

#: The re-ask calls, filed beside the first ones on the candidate.
EQUALITY_REASK = CallName.EQUALITY_REASK.value
DIFFICULTY_REASK = CallName.DIFFICULTY_REASK.value


@dataclass(frozen=True)
class OperatorView:
    """What the rules need of the operator template that made a candidate."""

    markers: tuple[str, ...] = ()
    prose: str = ""

    @classmethod
    def of(cls, template: object | None) -> OperatorView:
        if template is None:
            return cls()
        return cls(tuple(getattr(template, "markers", ())), template.prose())  # type: ignore[attr-defined]


def rewrite_stage(call: CallResult | None, parent: str, rules: RuleConfig,
                  operator: OperatorView) -> tuple[str | None, list[Verdict]]:
    """(the extracted instruction, its verdict). An identical rewrite with rule 1 off is
    let through: the judge stage would have been the one to reject it."""
    if call is None:
        return None, []
    v = check_rewrite(call.content, call.finish_reason, parent, operator.markers)
    if v.rule == RuleId.NO_INFORMATION_GAIN and not rules.is_on(RuleId.NO_INFORMATION_GAIN):
        v = Verdict(RuleId.REWRITE_INVALID, True, "identical to parent, but rule 1 is off",
                    dict(v.detail))
    text = extract(call.content, operator.markers).text if call.content is not None else None
    return text, [v]


def instruction_stage(instruction: str, parent: str, rules: RuleConfig,
                      operator: OperatorView, raw: str | None = None) -> list[Verdict]:
    """Rule 4, with the generic markers, the run's own and the operator's.

    The template's wording is looked for in the whole reply (`raw`) as well as in the
    extracted instruction: a model that echoes the evolving prompt and then writes
    something task-like has not done the evolving step, and extraction must not hide that
    by cutting the echo off as a "preamble". Markers are looked for in the instruction
    only: "Here is the rewritten prompt:" before a good rewrite is a label, not a leak.
    """
    if not rules.is_on(RuleId.COPIED_PROMPT_WORDING):
        return []
    generic = [*DEFAULT_MARKERS, *(m for m in rules.extra_markers if m not in DEFAULT_MARKERS)]
    verdict = copied_prompt_wording(instruction, markers=operator.markers, generic=generic,
                                    prompt_prose=operator.prose, parent=parent,
                                    ngram=rules.copied_ngram)
    if verdict.passed and raw and operator.prose and raw.strip() != instruction.strip():
        echoed = copied_prompt_wording(raw, markers=(), generic=(),
                                       prompt_prose=operator.prose, parent=parent,
                                       ngram=rules.copied_ngram)
        if not echoed.passed:
            sample = echoed.detail.get("copied", "")
            return [Verdict(RuleId.COPIED_PROMPT_WORDING, False,
                            f"the reply echoes {rules.copied_ngram}+ words of the prompt "
                            f"around the instruction: '{sample}'",
                            {"copied": sample, "where": "reply"})]
    return [verdict]


def judge_stage(first: CallResult | None, reask: CallResult | None,
                rules: RuleConfig) -> list[Verdict]:
    if not rules.is_on(RuleId.NO_INFORMATION_GAIN) or first is None:
        return []
    return [equality_verdict(first, reask, rules)]


def answer_stage(call: CallResult | None, rules: RuleConfig,
                 answer: str | None = None) -> list[Verdict]:
    """The answer rules over the answer call (`answer` overrides its text: the stored
    answer of a candidate is what a person saw)."""
    if answer is None:
        answer = (call.content if call is not None else None) or ""
    return answer_verdicts(call, answer, rules)


def unusable(verdicts: Sequence[Verdict]) -> bool:
    """The rewrite cannot be answered at all: no further call makes sense."""
    return bool(verdicts) and not verdicts[0].passed and verdicts[0].rule in (
        RuleId.REWRITE_INVALID, RuleId.NO_INFORMATION_GAIN)
