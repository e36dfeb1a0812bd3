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
from .gain import gain_verdicts
from .ids import RuleId
from .judge import equality_verdict, read_task
from .task_shape import task_verdict
from .verdict import RuleConfig, Verdict
from .wording import DEFAULT_MARKERS, copied_prompt_wording

__all__ = [
    "OperatorView",
    "answer_stage",
    "check_stage",
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
    kind: str = "depth"
    name: str = ""
    # A few-shot template whose examples are one paragraph: the reply is cut after it.
    single_block: bool = False
    # A few-shot (completion-style) template: the evolver continues a pattern, and appends
    # material no request points at (see self_contained.py).
    pattern: bool = False

    @classmethod
    def of(cls, template: object | None) -> OperatorView:
        if template is None:
            return cls()
        name = getattr(template, "name", "")
        completion = bool(getattr(template, "completion", False))
        return cls(tuple(getattr(template, "markers", ())), template.prose(),  # type: ignore[attr-defined]
                   getattr(template, "kind", "") or "depth", name,
                   completion and name != "complicate_input", completion)


def rewrite_stage(call: CallResult | None, parent: str, rules: RuleConfig,
                  operator: OperatorView) -> tuple[str | None, list[Verdict]]:
    """(the extracted instruction, its verdict). An identical rewrite with rule 1 off is
    let through: the judge stage would have been the one to reject it."""
    if call is None:
        return None, []
    v = check_rewrite(call.content, call.finish_reason, parent, operator.markers,
                      single_block=operator.single_block)
    if v.rule == RuleId.NO_INFORMATION_GAIN and not rules.is_on(RuleId.NO_INFORMATION_GAIN):
        v = Verdict(RuleId.REWRITE_INVALID, True, "identical to parent, but rule 1 is off",
                    dict(v.detail))
    text = (extract(call.content, operator.markers, single_block=operator.single_block,
                    parent=parent).text if call.content is not None else None)
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


def judge_stage(first: CallResult | None, reask: CallResult | None, rules: RuleConfig,
                instruction: str = "", parent: str = "", *,
                pattern: bool = False) -> list[Verdict]:
    """`not_a_task` and rule 1 from the judge's replies. A structured reply says both; where
    it does not say whether the rewrite is a task (prose, or JSON without the field), the
    check that needs no model decides that part, and the verdict says which did."""
    out: list[Verdict] = []
    if rules.is_on(RuleId.NOT_A_TASK):
        v = _task_from_judge(first, reask, instruction, parent, pattern)
        out.append(v)
        if not v.passed:
            return out
    if rules.is_on(RuleId.NO_INFORMATION_GAIN) and first is not None:
        out.append(equality_verdict(first, reask, rules))
    return out


def _task_from_judge(first: CallResult | None, reask: CallResult | None, instruction: str,
                     parent: str, pattern: bool) -> Verdict:
    for call in (reask, first):  # the re-ask, when made, is the reply that was read
        if call is None:
            continue
        is_task, reason = read_task(call.content)
        if is_task is not None:
            detail = {"decided_by": "judge", "judge_text": (call.content or "")[:300],
                      **({"reason": reason} if reason else {})}
            if is_task:
                return Verdict(RuleId.NOT_A_TASK, True, "judge: a task", detail)
            return Verdict(RuleId.NOT_A_TASK, False, "judge: not a task for an assistant"
                           + (f" ({reason})" if reason else ""), detail)
    return task_verdict(instruction, parent, pattern=pattern)


def check_stage(instruction: str, parent: str, rules: RuleConfig, operator: OperatorView,
                *, topic: bool = True) -> list[Verdict]:
    """What the judge call decides, decided with no model (`--judge check`): is it a task,
    did an in-depth rewrite keep its parent's topic (`topic`: only where the checks stand
    in for the judge), does it add anything (rule 1)."""
    out: list[Verdict] = []
    if rules.is_on(RuleId.NOT_A_TASK):
        out.append(task_verdict(instruction, parent, pattern=operator.pattern))
        if not out[-1].passed:
            return out
    return out + gain_verdicts(parent, instruction, operator.kind,
                               off_topic=topic and rules.is_on(RuleId.OFF_TOPIC),
                               needs_data=operator.name == "complicate_input",
                               gain=rules.is_on(RuleId.NO_INFORMATION_GAIN))


def answer_stage(call: CallResult | None, rules: RuleConfig,
                 answer: str | None = None, instruction: str = "") -> list[Verdict]:
    """The answer rules over the answer call (`answer` overrides its text: the stored
    answer of a candidate is what a person saw)."""
    if answer is None:
        answer = (call.content if call is not None else None) or ""
    return answer_verdicts(call, answer, rules, instruction)


def unusable(verdicts: Sequence[Verdict]) -> bool:
    """The rewrite cannot be answered at all: no further call makes sense."""
    return bool(verdicts) and not verdicts[0].passed and verdicts[0].rule in (
        RuleId.REWRITE_INVALID, RuleId.NO_INFORMATION_GAIN)
