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
import json
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from ..calls import call_seed
from ..config import RunConfig, operator_plan
from ..errors import ConfigError, EndpointError, LLMCallError, StoreMismatchError
from ..gates.dataset_stage import gate_generation
from ..records import Candidate, GenerationStats, PoolMember
from ..store import RunStore, seeds_fingerprint
from ..templates import TemplateSet
from .budget import BudgetReached
from .difficulty import rate_seeds
from .llm import CallResult, LLMClient
from .pipeline import Pending, Source, apply, judge_candidate, run_to_end, stored_source

__all__ = ["Evolution", "call_seed", "candidate_id", "evolve_candidate", "finish_candidate",
           "reapply_rules"]

CandidateCallback = Callable[[Candidate], Awaitable[None] | None]


def candidate_id(generation: int, slot: int) -> str:
    return f"g{generation}-{slot:06d}"


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
    cid = candidate_id(generation, slot)
    cand = Candidate(id=cid, generation=generation, slot=slot, parent_id=member.id,
                     seed_id=member.seed_id, operator=operator_name,
                     parent_instruction=member.text)

    async def live(name: str, role: str, messages: list[dict[str, str]],
                   response_format: dict[str, Any] | None,
                   stop: tuple[str, ...] = ()) -> CallResult:
        """Make one call and file its record on the candidate, failed or not."""
        sampling = config.sampling[role]
        if stop:  # the template's own stops, after the role's (a record shows them all)
            sampling = replace(sampling, stop=tuple(dict.fromkeys((*sampling.stop, *stop))))
        try:
            result = await client.chat(role, messages, sampling,
                                       sample=f"{cid}/{name}",
                                       seed=call_seed(config.seed, cid, name),
                                       response_format=response_format)
        except LLMCallError as e:
            if e.result is not None:
                cand.calls[name] = e.result
            raise
        cand.calls[name] = result
        return result

    return await finish_candidate(cand, templates, config, live)


async def finish_candidate(cand: Candidate, templates: TemplateSet, config: RunConfig,
                           source: Source) -> Candidate:
    """Judge a fresh candidate with calls from `source` and file the outcome; an LLM call
    that failed for good makes it failed with the error class, as the live run and batch
    mode both record it. A source's `Pending` passes through (the candidate is unfinished).
    """
    started = time.perf_counter()
    try:
        outcome = await judge_candidate(cand, templates.operators[cand.operator], templates,
                                        config, source)
        apply(cand, outcome)
    except LLMCallError as e:
        cand.status, cand.error_class, cand.error = "failed", e.error_class, e.message[:2000]
    except EndpointError:
        raise  # every candidate would fail alike: the run stops, nothing is recorded
    except BudgetReached:
        raise  # not a failure: the candidate is left unstarted, to be resumed
    except Pending:
        raise  # not finished: its driver judges it again once the call is answered
    except Exception as e:  # a bug must not take the generation down; it is recorded
        cand.status, cand.error_class = "failed", f"InternalError.{type(e).__name__}"
        cand.error = "".join(traceback.format_exception(e))[-4000:]
    cand.latency_s = time.perf_counter() - started
    cand.finished_at = time.time()
    return cand


def reapply_rules(cand: Candidate, config: RunConfig, templates: TemplateSet) -> Candidate:
    """Re-judge a stored candidate under `config`, with no LLM call.

    The same pipeline as the live run, fed by the stored replies (the judge's too, so its
    unclear-reply treatment can be tried). A judge call that was never made cannot be
    invented: a stored rule-1 verdict without its call is kept as it was. A candidate that
    failed on an LLM error keeps its status: there is nothing to re-judge.
    """
    if cand.status == "failed":
        return cand
    outcome = run_to_end(judge_candidate(
        cand, templates.operators.get(cand.operator), templates, config,
        stored_source(cand.calls), judge_stored=cand.verdicts, stored_answer=cand.answer,
        rate_difficulty=False))
    new = Candidate(**cand.__dict__)
    apply(new, outcome)
    return new


async def _cancel_and_wait(tasks: Sequence[asyncio.Task]) -> None:
    """Cancel `tasks` and wait until they have stopped, so none commits afterwards.

    A task of another event loop (a step driven from another thread) cannot be awaited
    here; it is told to cancel on its own loop.
    """
    loop = asyncio.get_running_loop()
    here = [t for t in tasks if t.get_loop() is loop]
    for task in tasks:
        if task.get_loop() is loop:
            task.cancel()
        elif not task.done():
            task.get_loop().call_soon_threadsafe(task.cancel)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.gather(*here, return_exceptions=True)


class Evolution:
    """A run: a store, a client, templates and settings, stepped one generation at a time.

    Settings are given explicitly (`configure`) and read once when a generation starts: a
    generation runs under one immutable config, template set and client, and its operator
    plan is stored before its first candidate, so changing weights or templates in the
    middle of a generation (or before a resume) changes only later generations.
    """

    def __init__(self, store: RunStore, client: LLMClient | None, templates: TemplateSet,
                 config: RunConfig, seeds: Sequence | None = None):
        self.store = store
        config.weights_for(list(templates.operators))  # validate early
        stored = store.get_meta("config")
        if stored is not None:
            config.check_resumable(RunConfig.from_dict(stored), str(store.path))
        if seeds is not None:
            if store.has_seeds():
                if store.get_meta("seeds_fingerprint") != seeds_fingerprint(seeds):
                    raise StoreMismatchError(
                        f"{store.path}: this store holds a run over other seeds; use the "
                        f"same seed file to resume it, or another store for a new run"
                    )
            else:
                if not seeds:
                    raise StoreMismatchError(f"{store.path}: no seeds to start a run with")
                store.add_seeds(seeds)
        elif not store.has_seeds():
            raise StoreMismatchError(f"{store.path}: the store holds no seeds yet")
        self._client = client
        self._templates = templates
        self._config = config
        # The tasks of the step now running, or of one broken off but not yet closed.
        self._step_tasks: list[asyncio.Task] = []
        self._save_settings()

    # -- settings ------------------------------------------------------------------------

    @property
    def config(self) -> RunConfig:
        return self._config

    @property
    def templates(self) -> TemplateSet:
        return self._templates

    @property
    def client(self) -> LLMClient | None:
        return self._client

    def configure(self, *, config: RunConfig | None = None,
                  templates: TemplateSet | None = None,
                  client: LLMClient | None = None) -> None:
        """New settings for the generations that start from now on (validated first)."""
        new_config = config or self._config
        new_templates = templates or self._templates
        new_config.weights_for(list(new_templates.operators))
        if new_config.seed != self._config.seed and self.store.candidate_count():
            raise StoreMismatchError(
                f"{self.store.path}: the seed cannot change once a run has candidates "
                f"(it decides every operator choice); start a new store for another seed")
        self._config, self._templates = new_config, new_templates
        if client is not None:
            self._client = client
        self._save_settings()

    def _save_settings(self) -> None:
        """What reopening the run from the store alone needs (never a key or endpoint).

        Only what changed is written: opening a run to look at it (the panel on a store
        that `evolviz run` is writing) must not write to it."""
        for key, value in (("config", self._config.to_dict()),
                           ("operators", list(self._templates.operators)),
                           ("templates", self._templates.to_fields())):
            if self.store.get_meta(key) != json.loads(json.dumps(value)):
                self.store.set_meta(key, value)

    @property
    def pool_size(self) -> int:
        return self.store.seed_count()

    def next_generation(self) -> int:
        finished = self.store.finished_generations()
        return (finished[-1] + 1) if finished else 1

    def plan(self, generation: int) -> list[str]:
        """The operators of `generation`: as stored when it started, else drawn now."""
        stored = self.store.plan(generation)
        return stored if stored is not None else self._draw_plan(generation)

    def _draw_plan(self, generation: int) -> list[str]:
        ops = list(self._templates.operators)
        return operator_plan(self._config.seed, generation, ops,
                             self._config.weights_for(ops), self.pool_size)

    def start_generation(self, generation: int) -> list[str]:
        """The plan of `generation`, stored now if it was not yet (before any candidate),
        checked against the current templates."""
        plan = self.store.plan(generation)
        if plan is None:
            plan = self._draw_plan(generation)
            self.store.set_plan(generation, plan)
        missing = sorted(set(plan) - set(self._templates.operators))
        if missing:
            raise StoreMismatchError(
                f"{self.store.path}: generation {generation} was planned with operator(s) "
                f"{missing}, which the current templates lack; load the templates it was "
                f"started with to finish it")
        return plan

    async def step(self) -> AsyncIterator[Candidate]:
        """Evolve (or finish) the next generation, yielding candidates as they commit.

        Stopping the iteration early (or cancelling the task that drives it) cancels the
        calls in flight; what was committed stays, and the next `step()` resumes there.
        When the client's budget refuses a call, the candidates in flight finish their
        current call, unfinished ones are left unrecorded and `BudgetReached` is raised.
        """
        await self._stop_previous_step()
        g = self.next_generation()
        pool = self.store.pool(g)
        assert pool is not None, f"generation {g} has no pool"
        client, templates, config = self._client, self._templates, self._config
        if client is None:
            raise ConfigError("no LLM client configured: give one to Evolution.configure()")
        # A mistyped or dead endpoint stops here, before the plan or any candidate is stored.
        await client.check_endpoint()
        plan = self.start_generation(g)
        done = self.store.done_slots(g)
        todo: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(len(pool)):
            if slot not in done:
                todo.put_nowait(slot)
        results: asyncio.Queue[Candidate | None] = asyncio.Queue()
        stopped: list[BudgetReached] = []
        base, t0 = self.store.elapsed(g), time.monotonic()

        async def worker() -> None:
            while True:
                try:
                    slot = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    cand = await evolve_candidate(
                        pool[slot], plan[slot], generation=g, slot=slot, client=client,
                        templates=templates, config=config)
                except BudgetReached as e:  # others finish what they started, then stop
                    stopped.append(e)
                    return
                self.store.add_candidate(cand, elapsed=base + time.monotonic() - t0)
                results.put_nowait(cand)

        n_workers = max(1, min(client.concurrency, todo.qsize()))
        workers = [asyncio.create_task(worker()) for _ in range(n_workers)]
        rating: asyncio.Task[int] | None = None
        if g == 1 and config.judge_difficulty:
            # C0 of the paper's difficulty curve: the seeds, rated once (a resume skips
            # them), beside the candidates rather than before them, so that a server that
            # batches calls (llama-server) fills its batches instead of waiting.
            rating = asyncio.create_task(rate_seeds(self.store, client, templates, config))

        async def closer() -> None:
            try:
                await asyncio.gather(*workers)
            finally:
                results.put_nowait(None)

        closing = asyncio.create_task(closer())
        tasks = [*workers, closing, *([rating] if rating is not None else [])]
        self._step_tasks = tasks
        try:
            while True:
                cand = await results.get()
                if cand is None:
                    break
                yield cand
            await closing  # re-raises a store error from a worker
            if stopped:
                raise stopped[0]
            if rating is not None:
                await rating
            self.close_generation(g, config, base + time.monotonic() - t0)
        finally:
            await _cancel_and_wait(tasks)

    def close_generation(self, generation: int, config: RunConfig,
                         wall_time: float) -> bool:
        """Close `generation` if every slot has its candidate; whether it closed.

        The dataset stage (duplicates, contamination) judges the whole generation in slot
        order, in the transaction that decides the next pool. The live step and batch mode
        both end a generation here.
        """
        stats = self.store.count_generation(generation)
        stats.wall_time = wall_time
        if stats.done != stats.pool_size:
            return False
        judged = gate_generation(self.store, generation, config.gates)
        self.store.close_generation(generation, stats, judged)
        return True

    async def _stop_previous_step(self) -> None:
        """Cancel the workers of a step that was broken off but not closed.

        `break` out of `async for evo.step()` leaves the generator open until Python
        finalizes it, later or never; its workers would go on evolving the slots that
        this step is about to take, and two commits of one slot fail on the store's key.
        """
        leftover, self._step_tasks = self._step_tasks, []
        if leftover:
            await _cancel_and_wait(leftover)

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
