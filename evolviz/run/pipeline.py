"""One candidate's life, written once: rewrite, check, judge, answer, check, rate.

The same function serves every way a candidate's calls can arrive:

- live: each call goes to the endpoint as the pipeline reaches it (`Evolution`);
- stored: each call is read back from the candidate's record, with no LLM call (the
  what-if, `reapply_rules`), so changing a setting shows exactly which verdicts flip;
- batched: a call is looked up among a batch's results, and a call not yet answered
  suspends the candidate until its batch is back.

A source is an async function `(name, role, messages, response_format, stop) ->
CallResult | None`; `stop` holds the template's own stop strings (a few-shot prompt ends
where its next example would begin); None means "this call was never made" (a stored
candidate that stopped earlier), and the pipeline stops there, keeping what it has. A
source that cannot answer yet raises `Pending`: the candidate is dropped unfinished and
judged again from the start once the call is answered (its earlier calls answer from their
results, at no cost).
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..calls import CallName, CallResult, Role
from ..config import RunConfig
from ..records import Candidate, Status
from ..rules import (
    EQUALITY_FORMAT,
    EQUALITY_REASK,
    OperatorView,
    RuleId,
    Stage,
    Verdict,
    answer_stage,
    check_stage,
    instruction_stage,
    judge_stage,
    read_equality,
    rewrite_stage,
    unusable,
)
from ..templates import Template, TemplateSet
from .difficulty import rate, reask_messages

__all__ = ["Outcome", "Pending", "Source", "judge_candidate", "run_to_end", "stored_source"]



class Source(Protocol):
    """Makes (or looks up) one call of a candidate."""

    async def __call__(self, name: str, role: str, messages: list[dict[str, str]],
                       response_format: dict[str, Any] | None,
                       stop: tuple[str, ...] = ()) -> CallResult | None: ...


T = TypeVar("T")


class Pending(Exception):
    """Raised by a source whose call has no answer yet (batch mode): `request` is what it
    needs sent, or None when that call is already on its way.

    Not an `EvolvizError`: it is control flow between a source and its driver, and every
    layer between them lets it through unchanged.
    """

    def __init__(self, request: Any = None):
        super().__init__("the call has no answer yet")
        self.request = request


@dataclass
class Outcome:
    """What the pipeline decided, and where it stopped (None: it ran to the end)."""

    verdicts: list[Verdict] = field(default_factory=list)
    instruction: str | None = None
    answer: str | None = None
    stopped_at: Stage | None = None
    answered: bool = False
    difficulty: float | None = None
    difficulty_raw: str | None = None

    @property
    def rejection(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.passed), None)


async def judge_candidate(cand: Candidate, operator: Template | None, templates: TemplateSet,
                          config: RunConfig, source: Source, *,
                          judge_stored: Sequence[Verdict] = (),
                          stored_answer: str | None = None,
                          rate_difficulty: bool = True) -> Outcome:
    """Every stage of one candidate, cheapest first: a candidate that is already lost costs
    no further calls (with `stop_at_first_rejection`, the default).

    `judge_stored`: the candidate's stored verdicts, whose rule-1 verdict stands in for a
    judge call that was never made (rule 1 was off, or the run stopped earlier), since a
    reply that was never asked for cannot be invented. `stored_answer`: the answer a person
    saw in the record, judged in place of its call's text.
    """
    rules, view, out = config.rules, OperatorView.of(operator), Outcome()
    structured = config.structured_judge

    def lost(stage: Stage) -> bool:
        """True when the candidate stops at `stage`: rejected (and stopping at the first
        rejection) or its rewrite unusable, which leaves nothing to answer."""
        if out.rejection is None:
            return False
        if unusable(out.verdicts) or config.stop_at_first_rejection:
            out.stopped_at = stage
            return True
        return False

    messages = operator.render(instruction=cand.parent_instruction) if operator else []
    rewrite = await source(CallName.REWRITE, Role.EVOLVER, messages, None,
                           operator.stop if operator else ())
    if rewrite is None:
        out.stopped_at = Stage.REWRITE
        return out
    out.instruction, verdicts = rewrite_stage(rewrite, cand.parent_instruction, rules, view)
    out.verdicts += verdicts
    if not unusable(verdicts):
        out.verdicts += instruction_stage(out.instruction or "", cand.parent_instruction,
                                          rules, view, rewrite.content)
    if lost(Stage.INSTRUCTION if not unusable(verdicts) else Stage.REWRITE):
        return out

    if config.judge == "check" or not rules.is_on(RuleId.NO_INFORMATION_GAIN):
        # No judge call: the checks decide (for `not_a_task` also when rule 1 is off).
        out.verdicts += check_stage(out.instruction or "", cand.parent_instruction, rules,
                                    view, topic=config.judge == "check")
        if lost(Stage.JUDGE):
            return out
    else:
        judge = templates.equality
        asked = judge.render(first=cand.parent_instruction, second=out.instruction or "")
        # A completion-style judge continues a pattern: it gets no JSON schema, and asking
        # it again would only repeat the same text.
        fmt = EQUALITY_FORMAT if structured and not judge.completion else None
        judged = await source(CallName.EQUALITY, Role.JUDGE, asked, fmt, judge.stop)
        if judged is None:
            out.verdicts += [v for v in judge_stored if v.rule == RuleId.NO_INFORMATION_GAIN
                             and v.detail.get("cause") != "identical"]
        else:
            again = None
            if read_equality(judged.content)[0] == "unclear" and not judge.completion:
                again = await source(EQUALITY_REASK, Role.JUDGE,
                                     reask_messages(asked, judged.content, "equality"), fmt,
                                     judge.stop)
            out.verdicts += judge_stage(judged, again, rules, out.instruction or "",
                                        cand.parent_instruction, pattern=view.pattern)
        if lost(Stage.JUDGE):
            return out

    answerer = templates.answer
    answered = await source(CallName.ANSWER, Role.ANSWERER,
                            answerer.render(instruction=out.instruction or ""), None,
                            answerer.stop)
    if answered is None:
        out.stopped_at = Stage.ANSWER
        return out
    out.answered = True
    out.answer = stored_answer if stored_answer is not None else (answered.content or "")
    out.verdicts += answer_stage(answered, rules, out.answer, out.instruction or "")
    if out.rejection is not None:
        out.stopped_at = Stage.ANSWER
        return out

    if config.judge_difficulty and rate_difficulty:
        rater = templates.difficulty

        async def chat(name: str, msgs: list[dict[str, str]],
                       fmt: dict[str, Any] | None) -> CallResult:
            result = await source(name, Role.JUDGE, msgs, fmt, rater.stop)
            return result if result is not None else CallResult(Role.JUDGE, "", msgs, {})

        out.difficulty_raw, out.difficulty = await rate(
            chat, rater.render(instruction=out.instruction or ""),
            structured and not rater.completion, reask=not rater.completion)
    return out


def apply(cand: Candidate, outcome: Outcome) -> None:
    """File an outcome on the candidate: its text, verdicts and status."""
    cand.instruction, cand.verdicts = outcome.instruction, list(outcome.verdicts)
    if outcome.answered:
        cand.answer = outcome.answer
    bad = outcome.rejection
    if bad is not None:
        cand.status, cand.rejected_by = Status.REJECTED, bad.rule
    elif outcome.answered:
        cand.status, cand.rejected_by = Status.ACCEPTED, None
        cand.difficulty, cand.difficulty_raw = outcome.difficulty, outcome.difficulty_raw


def stored_source(calls: dict[str, CallResult]) -> Source:
    """A source that answers from a candidate's stored calls and makes none."""

    async def source(name: str, _role: str, _messages: list[dict[str, str]],
                     _fmt: dict[str, Any] | None,
                     _stop: tuple[str, ...] = ()) -> CallResult | None:
        return calls.get(name)

    return source


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (a pipeline over a stored source) to its result,
    with no event loop: the what-if re-judges thousands of candidates from sync code,
    inside a running notebook loop too. A coroutine that does wait is a bug here."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a stored source must not wait; use an event loop for live calls")
