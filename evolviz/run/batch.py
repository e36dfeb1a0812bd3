"""Batch mode: a generation's calls go out as batches, at the batch price.

The same pipeline as the live run judges every candidate (`finish_candidate`), fed by a
source that looks each call up among collected batch results. A call with no result yet
makes the source raise `Pending` with the request line; the candidate is dropped
unfinished, and the driver sends every such line of the generation as stage batches
(rewrites, then judges, then answers, then re-asks and retries, as candidates reach
them). When a batch comes back, the candidates it answered are judged again from the
start: their earlier calls answer from stored results at no cost. Finished candidates are
committed with `RunStore.add_candidate` and the generation is closed by
`Evolution.close_generation`, exactly as the live run does, so a batch run's candidates
are the live run's (their calls carry the batch id).

Everything that commits money is written in the ledger (`evolviz.store.batches`) before
anything waits on it, so the same call after an exit, a crash or kill -9 resumes polling:
no batch is submitted twice and no collected result is paid for twice. Expired and
cancelled lines go out again; a failed line is retried in a later batch at most `retries`
times, then recorded on its candidate as a live failure is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..calls import CallResult, Role, call_seed
from ..errors import ConfigError, LLMCallError
from ..records import Candidate, GenerationStats
from ..store.batches import BatchLedger
from .batch_api import BatchAPI
from .batch_exchange import BatchExchange, BatchReport
from .batch_lines import Line, call_result, custom_id, stage_of
from .difficulty import rate
from .engine import Evolution, candidate_id, finish_candidate
from .llm import LLMClient, cache_key
from .pipeline import Pending, Source, run_to_end

__all__ = ["BatchReport", "BatchRun", "BatchSettings"]

Notify = Callable[[str], None]


@dataclass(frozen=True)
class BatchSettings:
    """The provider's limits per request file, how often to poll, how often a failed line
    is sent again, and whether to wait at all (`detach`: submit, then return)."""

    max_requests: int = 50_000
    max_mb: float = 200.0
    poll_interval: float = 60.0
    retries: int = 5
    detach: bool = False

    def __post_init__(self) -> None:
        if self.max_requests < 1:
            raise ConfigError("must be >= 1", field="batch_max_requests")
        if not self.max_mb > 0:
            raise ConfigError("must be > 0", field="batch_max_mb")
        if not self.poll_interval > 0:
            raise ConfigError("must be > 0 seconds", field="poll_interval")
        if self.retries < 0:
            raise ConfigError("must be >= 0", field="retries")

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)


class BatchRun:
    """Evolve generations of `evolution` through `api`, one stage batch at a time."""

    def __init__(self, evolution: Evolution, client: LLMClient, api: BatchAPI,
                 settings: BatchSettings | None = None, *, notify: Notify | None = None,
                 on_candidate: Callable[[Candidate], Any] | None = None,
                 on_generation: Callable[[GenerationStats], None] | None = None):
        self.evo, self.store, self.client, self.api = evolution, evolution.store, client, api
        self.settings = settings = settings or BatchSettings()
        self.ledger = BatchLedger(self.store)
        self.notify = notify or (lambda _message: None)
        self.on_candidate, self.on_generation = on_candidate, on_generation
        self.io = BatchExchange(self.ledger, client, api, max_requests=settings.max_requests,
                                max_bytes=settings.max_bytes,
                                poll_interval=settings.poll_interval,
                                retries=settings.retries, notify=self.notify)
        self._t0 = time.monotonic()

    @property
    def report(self) -> BatchReport:
        return self.io.report

    async def run(self, generations: int) -> BatchReport:
        """Go on until `generations` are finished, the batches are left to run (detach),
        or they were cancelled; raises `BudgetReached` when the budget stops it."""
        if generations < 1:
            raise ConfigError("must be >= 1", field="generations")
        few_shot = [t.name for t in self.evo.templates.all() if t.completion]
        if few_shot:
            raise ConfigError(f"batch files hold chat completions, and templates {few_shot} "
                              f"are completion-style (few-shot, for small local models); use "
                              f"the chat templates", field="prompt_style")
        self.ledger.mark_batch_run()
        if self.store.get_meta("batch_structured_refused"):
            self.client.structured_output = False
        while (g := self.evo.next_generation()) <= generations:
            state = await self._generation(g)
            if state != "finished":
                self.report.state = state
                break
        self.report.open = len(self.ledger.batches(open_only=True))
        return self.report

    # -- one generation ------------------------------------------------------------------

    async def _generation(self, g: int) -> str:
        pool = self.store.pool(g)
        assert pool is not None, f"generation {g} has no pool"
        plan = self.evo.start_generation(g)
        config = self.evo.config
        await self.io.recover(g)
        done = self.store.done_slots(g)
        slots = {candidate_id(g, s): s for s in range(len(pool)) if s not in done}
        seeds = ({f"seed:{r['id']}": r for r in self.store.seed_rows() if r["difficulty"] is None}
                 if g == 1 and config.judge_difficulty else {})
        dirty = set(slots) | set(seeds)  # owners whose calls may have news
        held: list[Line] = []  # lines the provider's full queue made wait
        while True:
            dirty |= await self.io.poll(g)
            requests, held = held, []
            for owner in sorted(dirty):
                if owner in slots:
                    line, cand = self._advance(owner, slots[owner], g, pool, plan)
                    if cand is not None:
                        del slots[owner]
                        r = self.on_candidate(cand) if self.on_candidate else None
                        if asyncio.iscoroutine(r):
                            await r
                elif owner in seeds:
                    line = self._rate_seed(owner, seeds)
                else:
                    continue
                if line is not None:
                    requests.append(line)
            dirty.clear()
            out_there = self.ledger.batches(generation=g, open_only=True)
            if not slots and not seeds and not out_there:
                if not self.evo.close_generation(g, config, self._elapsed(g)):
                    raise RuntimeError(f"generation {g}: every slot was judged, but the "
                                       f"store does not hold a candidate for each")
                if self.on_generation is not None:
                    self.on_generation(self.store.count_generation(g))
                return "finished"
            if requests and not self.io.cancelled and self.io.budget_stop is None:
                held = await self.io.submit(g, requests)
                out_there = self.ledger.batches(generation=g, open_only=True)
            if not out_there:
                if self.io.cancelled:
                    return "cancelled"
                if self.io.budget_stop is not None:
                    raise self.io.budget_stop
                raise RuntimeError(f"batch mode stalled in generation {g}: "
                                   f"{len(slots) + len(seeds)} unfinished, nothing out there")
            if self.settings.detach:
                return "detached"
            await asyncio.sleep(self.settings.poll_interval)

    def _advance(self, owner: str, slot: int, g: int, pool: list, plan: list[str]
                 ) -> tuple[Line | None, Candidate | None]:
        """Judge one candidate as far as its answered calls go: committed when finished,
        else the line it waits for (None when that line is already out there)."""
        member, config = pool[slot], self.evo.config
        cand = Candidate(id=owner, generation=g, slot=slot, parent_id=member.id,
                         seed_id=member.seed_id, operator=plan[slot],
                         parent_instruction=member.text)
        try:
            run_to_end(finish_candidate(cand, self.evo.templates, config,
                                        self._source(owner, owner, cand.calls)))
        except Pending as p:
            return p.request, None
        cand.latency_s = sum(c.latency_s for c in cand.calls.values())
        self.store.add_candidate(cand, elapsed=self._elapsed(g))
        self.ledger.forget_results(owner)
        return None, cand

    def _rate_seed(self, owner: str, seeds: dict[str, Any]) -> Line | None:
        """The seed's difficulty (C0 of the paper's curve), as `rate_seeds` rates it."""
        row, config = seeds[owner], self.evo.config
        text = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
        source = self._source(owner, row["id"], {})

        async def chat(name: str, messages: list[dict[str, str]],
                       fmt: dict[str, Any] | None) -> CallResult:
            return await source(name, Role.JUDGE, messages, fmt)  # type: ignore[return-value]

        try:
            raw, value = run_to_end(rate(chat, self.evo.templates.difficulty.render(
                instruction=text), config.structured_judge))
        except Pending as p:
            return p.request
        except LLMCallError as e:
            raw, value = f"(not rated: {e.error_class})", None
        self.store.set_seed_difficulty(row["id"], value, raw or "")
        self.ledger.forget_results(owner)
        del seeds[owner]
        return None

    def _source(self, owner: str, sample_key: str, calls: dict[str, CallResult]) -> Source:
        """Answers a call from its collected result (or the response cache); otherwise
        suspends the caller with the line to send, built as a live call's request."""
        lines, client, config = self.ledger.lines_of(owner), self.client, self.evo.config
        retries = self.settings.retries

        async def source(name: str, role: str, messages: list[dict[str, str]],
                         fmt: dict[str, Any] | None, stop: tuple[str, ...] = ()) -> CallResult:
            model, sampling = client.models[role], config.sampling[role]
            if stop:  # the template's own stops, after the role's, as a live call sends
                sampling = replace(sampling, stop=tuple(dict.fromkeys((*sampling.stop,
                                                                        *stop))))
            key = cache_key(model, messages, sampling, f"{sample_key}/{name}", fmt)
            row = lines.get(name)
            if row is not None and row.state in ("submitted", "queued"):
                raise Pending(None)  # out there: never a second copy of a line
            mine = row is not None and row.key == key
            if mine and row.state == "done":
                calls[name] = call_result(row, role, model, messages, sampling, fmt)
                return calls[name]
            if mine and row.state == "failed" and (row.attempts > retries
                                                   or (row.result or {}).get("final")):
                res = calls[name] = call_result(row, role, model, messages, sampling, fmt)
                raise LLMCallError(res.error_class or "BatchLineError", res.error or "",
                                   attempts=res.attempts, result=res)
            if not mine and client.cache is not None:
                hit = client.cache.get(key)
                if hit is not None:
                    res = CallResult(role=role, model=model, messages=messages,
                                     sampling=sampling.to_dict(), cached=True,
                                     content=hit.get("content"),
                                     finish_reason=hit.get("finish_reason"),
                                     prompt_tokens=int(hit.get("prompt_tokens", 0)),
                                     completion_tokens=int(hit.get("completion_tokens", 0)))
                    res.response_format = (dict(fmt) if fmt is not None
                                           and client.structured_output else None)
                    client.tokens.cached_calls += 1
                    calls[name] = res
                    return res
            refused = mine and row.state == "refused"
            send = fmt if fmt is not None and client.structured_output and not refused else None
            body = client.request_body(model, messages, sampling,
                                       call_seed(config.seed, sample_key, name), send)
            raise Pending(Line(custom_id(owner, name), owner, name, key,
                               stage_of(name, row is not None), body, role, messages,
                               sampling))

        return source

    def _elapsed(self, g: int) -> float:
        first = self.ledger.first_created(g)
        return time.time() - first if first is not None else time.monotonic() - self._t0
