"""Evol-Instruct, one generation at a time.

Each generation every pool member gets one operator (drawn from a seeded RNG), the LLM
rewrites it, the rewrite is checked, judged and answered, and the elimination rules decide.
A passing candidate replaces its parent in the pool; otherwise the parent stays and is
evolved again next generation. Seeds are generation 0 (rated by the difficulty judge before
generation 1, when it is on). The verdicts come from the stages in `evolviz.rules`.

The engine streams: `Evolution.step()` is an async iterator that yields each candidate the
moment it is committed to the store, which is what lets the panel show candidates live and
what makes an interrupted run lose only the calls in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .calls import CallName, Role, call_seed
from .config import RunConfig, operator_plan
from .difficulty import rate, rate_seeds, reask_messages
from .errors import LLMCallError, StoreMismatchError
from .llm import CallResult, LLMClient
from .records import Candidate, GenerationStats, PoolMember
from .rules import (
    EQUALITY_FORMAT,
    EQUALITY_REASK,
    OperatorView,
    RuleId,
    Verdict,
    answer_stage,
    instruction_stage,
    judge_stage,
    read_equality,
    rejudge,
    rewrite_stage,
    unusable,
)
from .store import RunStore, seeds_fingerprint
from .templates import Template, TemplateSet

__all__ = ["Evolution", "call_seed", "candidate_id", "evolve_candidate", "judge_answer",
           "reapply_rules"]

CandidateCallback = Callable[[Candidate], Awaitable[None] | None]


def candidate_id(generation: int, slot: int) -> str:
    return f"g{generation}-{slot:06d}"


@dataclass
class _Ctx:
    client: LLMClient
    templates: TemplateSet
    config: RunConfig


async def _call(ctx: _Ctx, cand: Candidate, name: str, role: str,
                messages: list[dict[str, str]],
                response_format: dict[str, Any] | None = None) -> CallResult:
    """Make one call and file its record on the candidate, failed or not."""
    try:
        result = await ctx.client.chat(
            role, messages, ctx.config.sampling[role],
            sample=f"{cand.id}/{name}",
            seed=call_seed(ctx.config.seed, cand.id, name),
            response_format=response_format,
        )
    except LLMCallError as e:
        cand.calls[name] = e.result  # type: ignore[attr-defined]
        raise
    cand.calls[name] = result
    return result


def judge_answer(cand: Candidate, config: RunConfig, templates: TemplateSet,
                 operator: Template | None) -> list[Verdict]:
    """The rewrite and instruction stages over stored text (no LLM call needed)."""
    view = OperatorView.of(operator)
    _, out = rewrite_stage(cand.calls.get(CallName.REWRITE), cand.parent_instruction,
                           config.rules, view)
    if unusable(out):
        return out
    return out + instruction_stage(cand.instruction or "", cand.parent_instruction,
                                   config.rules, view)


async def evolve_candidate(
    member: PoolMember,
    operator_name: str,
    *,
    generation: int,
    slot: int,
    client: LLMClient,
    templates: TemplateSet,
    config: RunConfig,
) -> Candidate:
    """Evolve one pool member with one operator and judge the result; never raises on
    LLM trouble (the candidate comes back failed with the error class instead)."""
    ctx = _Ctx(client, templates, config)
    cid = candidate_id(generation, slot)
    cand = Candidate(id=cid, generation=generation, slot=slot, parent_id=member.id,
                     seed_id=member.seed_id, operator=operator_name,
                     parent_instruction=member.text)
    started = time.perf_counter()
    try:
        await _evolve(ctx, cand, templates.operators[operator_name])
    except LLMCallError as e:
        cand.status, cand.error_class, cand.error = "failed", e.error_class, e.message[:2000]
    except Exception as e:  # a bug must not take the generation down; it is recorded
        cand.status, cand.error_class = "failed", f"InternalError.{type(e).__name__}"
        cand.error = "".join(traceback.format_exception(e))[-4000:]
    cand.latency_s = time.perf_counter() - started
    cand.finished_at = time.time()
    return cand


async def _evolve(ctx: _Ctx, cand: Candidate, operator: Template) -> None:
    """Rewrite, check, judge, answer, check: cheapest checks first, so a candidate that is
    already lost costs no further calls (with `stop_at_first_rejection`, the default).
    Every verdict comes from the stage functions in `evolviz.rules`, the same ones
    `reapply_rules` runs over stored calls."""
    config, rules = ctx.config, ctx.config.rules
    view = OperatorView.of(operator)
    structured = config.structured_judge

    def rejected() -> bool:
        """Mark the candidate rejected by its first failing rule; True to stop here."""
        bad = cand.rejection
        if bad is None:
            return False
        cand.status, cand.rejected_by = "rejected", bad.rule
        # Nothing to answer if the rewrite is unusable, whatever the setting.
        return unusable(cand.verdicts) or config.stop_at_first_rejection

    rewrite = await _call(ctx, cand, CallName.REWRITE, Role.EVOLVER,
                          operator.render(instruction=cand.parent_instruction))
    cand.instruction, verdicts = rewrite_stage(rewrite, cand.parent_instruction, rules, view)
    cand.verdicts.extend(verdicts)
    if not unusable(verdicts):
        cand.verdicts.extend(instruction_stage(cand.instruction or "",
                                               cand.parent_instruction, rules, view))
    if rejected():
        return

    if rules.is_on(RuleId.NO_INFORMATION_GAIN):
        asked = ctx.templates.equality.render(first=cand.parent_instruction,
                                              second=cand.instruction or "")
        fmt = EQUALITY_FORMAT if structured else None
        judged = await _call(ctx, cand, CallName.EQUALITY, Role.JUDGE, asked, fmt)
        again = None
        if read_equality(judged.content)[0] == "unclear":
            again = await _call(ctx, cand, EQUALITY_REASK, Role.JUDGE,
                                reask_messages(asked, judged.content, "equality"), fmt)
        cand.verdicts.extend(judge_stage(judged, again, rules))
        if rejected():
            return

    answered = await _call(ctx, cand, CallName.ANSWER, Role.ANSWERER,
                           ctx.templates.answer.render(instruction=cand.instruction or ""))
    cand.answer = answered.content or ""
    cand.verdicts.extend(answer_stage(answered, rules))
    if rejected():
        return
    cand.status = "accepted"

    if config.judge_difficulty:
        async def chat(name: str, messages: list[dict[str, str]],
                       fmt: dict[str, Any] | None) -> CallResult:
            return await _call(ctx, cand, name, Role.JUDGE, messages, fmt)

        cand.difficulty_raw, cand.difficulty = await rate(
            chat, ctx.templates.difficulty.render(instruction=cand.instruction or ""),
            structured)


def reapply_rules(cand: Candidate, config: RunConfig, templates: TemplateSet) -> Candidate:
    """Re-judge a stored candidate under `config`, with no LLM call.

    The same stage functions as the live run, over the stored replies (the judge's too,
    so its unclear-reply treatment can be tried). A judge call that was never made cannot
    be invented: a stored rule-1 verdict without its call is kept as it was. A candidate
    that failed on an LLM error keeps its status: there is nothing to re-judge.
    """
    if cand.status == "failed":
        return cand
    judged = rejudge(cand.calls, cand.parent_instruction, cand.instruction, config.rules,
                     OperatorView.of(templates.operators.get(cand.operator)),
                     judge_stored=cand.verdicts, answer=cand.answer,
                     stop_at_first=config.stop_at_first_rejection)
    new = Candidate(**{**cand.__dict__, "verdicts": judged.verdicts})
    bad = judged.rejection
    if bad is not None:
        new.status, new.rejected_by = "rejected", bad.rule
    elif judged.answered:
        new.status, new.rejected_by = "accepted", None
    else:
        new.status, new.rejected_by = cand.status, cand.rejected_by
    return new


class Evolution:
    """A run: a store, a client, templates and settings, stepped one generation at a time."""

    def __init__(self, store: RunStore, client: LLMClient, templates: TemplateSet,
                 config: RunConfig, seeds: Sequence | None = None):
        self.store = store
        self.client = client
        self.templates = templates
        self.config = config
        self.config.weights_for(list(templates.operators))  # validate early
        stored = store.get_meta("config")
        if stored is not None:
            config.check_resumable(RunConfig.from_dict(stored), str(store.path))
        if seeds is not None:
            if store.has_seeds():
                if store.get_meta("seeds_fingerprint") != seeds_fingerprint(seeds):
                    raise StoreMismatchError(
                        f"{store.path}: this store holds a run over other seeds; use the "
                        f"same seed file to resume it, or another --store for a new run"
                    )
            else:
                if not seeds:
                    raise StoreMismatchError(f"{store.path}: no seeds to start a run with")
                store.add_seeds(seeds)
        elif not store.has_seeds():
            raise StoreMismatchError(f"{store.path}: the store holds no seeds yet")
        store.set_meta("config", config.to_dict())
        store.set_meta("operators", list(templates.operators))
        self._tasks: set[asyncio.Task] = set()

    @property
    def pool_size(self) -> int:
        return self.store.seed_count()

    def next_generation(self) -> int:
        finished = self.store.finished_generations()
        return (finished[-1] + 1) if finished else 1

    def plan(self, generation: int) -> list[str]:
        ops = list(self.templates.operators)
        return operator_plan(self.config.seed, generation, ops,
                             self.config.weights_for(ops), self.pool_size)

    async def step(self) -> AsyncIterator[Candidate]:
        """Evolve (or finish) the next generation, yielding candidates as they commit.

        Stopping the iteration early (or cancelling the task that drives it) cancels the
        calls in flight; what was committed stays, and the next `step()` resumes there.
        """
        g = self.next_generation()
        if g == 1 and self.config.judge_difficulty:
            await rate_seeds(self.store, self.client, self.templates, self.config)
        pool = self.store.pool(g)
        assert pool is not None, f"generation {g} has no pool"
        plan = self.plan(g)
        done = self.store.done_slots(g)
        todo: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(len(pool)):
            if slot not in done:
                todo.put_nowait(slot)
        results: asyncio.Queue[Candidate | None] = asyncio.Queue()
        base, t0 = self.store.elapsed(g), time.monotonic()

        async def worker() -> None:
            while True:
                try:
                    slot = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                cand = await evolve_candidate(
                    pool[slot], plan[slot], generation=g, slot=slot, client=self.client,
                    templates=self.templates, config=self.config)
                self.store.add_candidate(cand, elapsed=base + time.monotonic() - t0)
                results.put_nowait(cand)

        n_workers = max(1, min(self.client.concurrency, todo.qsize()))
        workers = [asyncio.create_task(worker()) for _ in range(n_workers)]
        remaining = todo.qsize()

        async def closer() -> None:
            try:
                await asyncio.gather(*workers)
            finally:
                results.put_nowait(None)

        closing = asyncio.create_task(closer())
        try:
            while True:
                cand = await results.get()
                if cand is None:
                    break
                remaining -= 1
                yield cand
            await closing  # re-raises a store error from a worker
            stats = self.store.count_generation(g)
            stats.wall_time = base + time.monotonic() - t0
            if stats.done == stats.pool_size:
                self.store.write_next_pool(g, stats)
        finally:
            for w in workers:
                w.cancel()
            closing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(*workers, closing, return_exceptions=True)

    async def run(
        self,
        generations: int,
        *,
        on_candidate: CandidateCallback | None = None,
        on_generation: Callable[[GenerationStats], None] | None = None,
    ) -> list[GenerationStats]:
        """Evolve until `generations` generations are finished (resuming if some are)."""
        while self.next_generation() <= generations:
            g = self.next_generation()
            async for cand in self.step():
                if on_candidate is not None:
                    r = on_candidate(cand)
                    if asyncio.iscoroutine(r):
                        await r
            if on_generation is not None:
                on_generation(self.store.count_generation(g))
        return [s for s in self.store.generation_stats() if s.generation <= generations]
