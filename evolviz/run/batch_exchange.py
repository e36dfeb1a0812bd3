"""Batch mode's side of the conversation with the provider: send lines as request files
and batches, poll them, and collect their results into the ledger.

Kept apart from the driver (`evolviz.run.batch`), which decides *what* to send from the
pipeline; this decides *how*, in the order that keeps money safe: the ledger row before
the upload, the file id before the batch, the batch id before any wait, and a batch's
results with its "collected" mark in one transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BatchError, EndpointError
from ..store.batches import TERMINAL, BatchLedger, BatchRow, LineOutcome, LinePlan, LineRow
from .batch_api import BatchAPI, Refused, RemoteBatch, Unavailable
from .batch_lines import STAGES, Line, iter_jsonl, outcome_of, role_of, split_files
from .budget import BudgetReached
from .llm import LLMClient

__all__ = ["BatchExchange", "BatchReport"]

Notify = Callable[[str], None]


@dataclass
class BatchReport:
    """How a call of `BatchRun.run` ended: finished (every generation asked for is done),
    detached (batches are out; call again later) or cancelled (someone cancelled them)."""

    state: str = "finished"
    submitted: int = 0  # batches this call submitted
    collected: int = 0
    lines: int = 0  # request lines this call sent
    open: int = 0  # batches still out there when it returned


class BatchExchange:
    """Sends, polls and collects for one run; remembers whether its batches were
    cancelled and whether the budget stopped new lines."""

    def __init__(self, ledger: BatchLedger, client: LLMClient, api: BatchAPI, *,
                 max_requests: int, max_bytes: int, poll_interval: float, retries: int,
                 notify: Notify):
        self.ledger, self.store, self.client, self.api = ledger, ledger.store, client, api
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.poll_interval, self.retries = poll_interval, retries
        self.notify = notify
        self.report = BatchReport()
        self.cancelled = False
        self.budget_stop: BudgetReached | None = None
        # The provider's queue is full (OpenAI's enqueued-token limit): new lines wait
        # until a batch of this run finishes. Failures with nothing else queued are counted.
        self.saturated = False
        self._lone_refusals = 0
        self._holds: dict[str, tuple[str, int, int]] = {}  # budget holds of lines out there

    # -- sending -------------------------------------------------------------------------

    async def submit(self, g: int, requests: list[Line]) -> list[Line]:
        """Send the lines the budget allows, one batch per stage (split at the limits);
        the lines held back because the provider's queue is full (to send later)."""
        if self.saturated and self.ledger.batches(open_only=True):
            return requests
        budget, admitted = self.client.budget, []
        for line in requests:
            if budget is not None:
                try:
                    self._holds[line.custom_id] = budget.reserve(line.role, line.messages,
                                                                 line.sampling)
                except BudgetReached as e:
                    self.budget_stop = e
                    break
            admitted.append(line)
        for stage in STAGES:
            mine = [line for line in admitted if line.stage == stage]
            for part, data in split_files(mine, self.max_requests, self.max_bytes):
                await self._send(g, stage, part, data)
        return []

    async def _send(self, g: int, stage: str, part: list[Line], data: bytes) -> None:
        plans = [LinePlan(x.custom_id, x.owner, x.name, x.key, x.sent_format) for x in part]
        key, name = self.ledger.prepare(g, stage, plans, len(data))
        what = (f"request file {name} (generation {g}, {stage}: {len(part):,} requests, "
                f"{len(data) / 1e6:.1f} MB)")
        try:
            file_id = await self._patiently(lambda: self.api.upload(name, data), what)
        except Refused as e:
            self.ledger.abandon(key)
            raise _refused(e, what, name) from None
        except BaseException:
            self.ledger.abandon(key)
            raise
        self.ledger.uploaded(key, file_id)
        remote = await self._create(key, file_id, what, name, time.time())
        self.report.submitted += 1
        self.report.lines += len(part)
        self.notify(f"submitted {what} as batch {remote.id}")

    async def _create(self, key: int, file_id: str, what: str, name: str,
                      since: float) -> RemoteBatch:
        """Create the batch of an uploaded file. A failed attempt may have created it
        anyway (the answer lost on the way): look for it by its file before trying again."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                remote = await self.api.create(file_id, {"evolviz_file": name})
                break
            except Unavailable as e:
                last = e
                found = await self._quietly(self.api.find(file_id, since))
                if found is not None:
                    remote = found
                    break
                await asyncio.sleep(min(self.poll_interval, 2.0 ** attempt))
            except Refused as e:
                self.ledger.abandon(key)
                raise _refused(e, what, name) from None
        else:
            raise BatchError(f"{what}: uploaded as {file_id}, but its batch could not be "
                             f"created ({last}); run the same command again, which looks "
                             f"for the batch before creating it", file=name)
        self.ledger.submitted(key, remote.id, remote.status)
        return remote

    async def _patiently(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        """A call that is safe to repeat, tried again while the endpoint is unavailable."""
        for attempt in range(self.retries + 1):
            try:
                return await call()
            except Unavailable as e:
                if attempt == self.retries:
                    raise BatchError(f"{what}: the endpoint did not answer ({e}); run the "
                                     f"same command again to resume") from None
                self.notify(f"{what}: no answer ({e}); trying again")
                await asyncio.sleep(min(self.poll_interval, 2.0 ** attempt))

    async def _quietly(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except Unavailable:
            return None

    async def recover(self, g: int) -> None:
        """Batches a killed run left half-made: never sent (its lines go again), or
        uploaded but not recorded as created (adopted if the provider has it)."""
        for row in self.ledger.batches(generation=g, open_only=True):
            if row.state == "preparing":
                self.ledger.abandon(row.key)
            elif row.batch_id is None and row.input_file_id is not None:
                found = await self._quietly(self.api.find(row.input_file_id, row.created))
                if found is not None:
                    self.ledger.submitted(row.key, found.id, found.status)
                    self.notify(f"adopted batch {found.id} of {row.file_name}")
                else:
                    await self._create(row.key, row.input_file_id, row.file_name,
                                       row.file_name, row.created)

    # -- collecting ----------------------------------------------------------------------

    async def poll(self, g: int) -> set[str]:
        """Ask after every open batch; collect the finished ones. The owners they answered
        (to judge again)."""
        dirty: set[str] = set()
        for row in self.ledger.batches(generation=g, open_only=True):
            if row.batch_id is None:
                continue
            try:
                remote = await self.api.retrieve(row.batch_id)
            except Unavailable as e:
                self.notify(f"batch {row.batch_id}: no answer ({e}); asking again later")
                continue
            if remote.status in ("cancelling", "cancelled"):
                self.cancelled = True
            if remote.status in TERMINAL:
                dirty |= await self._collect(row, remote)
            elif (remote.status, remote.completed, remote.failed) != (
                    row.state, row.completed, row.failed):
                self.ledger.update(row.key, remote.status, remote.completed, remote.failed)
        return dirty

    async def _collect(self, row: BatchRow, remote: RemoteBatch) -> set[str]:
        try:
            out = await self.api.content(remote.output_file_id) if remote.output_file_id \
                else b""
            err = await self.api.content(remote.error_file_id) if remote.error_file_id \
                else b""
        except Unavailable as e:
            self.notify(f"batch {remote.id}: results not downloaded ({e}); again later")
            return set()
        waiting = self.ledger.lines_in(row.key)
        latency = max(0.0, time.time() - row.created)
        outcomes, stop = {}, None
        for obj in iter_jsonl(out + b"\n" + err):
            prev = waiting.get(obj["custom_id"])
            if prev is None or prev.custom_id in outcomes:
                continue  # not ours, or answered twice: the first answer stands
            outcomes[prev.custom_id], status = outcome_of(obj, prev, remote.id, latency)
            stop = stop or status
        owners = self.ledger.owners_in(row.key)
        error = "; ".join(remote.errors) or None
        self.ledger.collect(row.key, state=remote.status, output_file_id=remote.output_file_id,
                            error_file_id=remote.error_file_id, outcomes=outcomes.values(),
                            error=error)
        self._account(waiting, outcomes)
        self.report.collected += 1
        if remote.status in ("completed", "expired"):
            self.saturated, self._lone_refusals = False, 0
        counts = {s: sum(o.state == s for o in outcomes.values()) for s in ("done", "failed")}
        self.notify(f"collected batch {remote.id} ({row.stage}, generation {row.generation},"
                    f" {remote.status}): {counts['done']} answered, {counts['failed']} failed,"
                    f" {len(waiting) - counts['done'] - counts['failed']} to send again")
        if remote.status == "failed" and remote.error_codes and all(
                c == "token_limit_exceeded" for c in remote.error_codes):
            self._queue_full(row, error)
        elif remote.status == "failed":
            raise BatchError(f"batch {remote.id}, made of request file {row.file_name} "
                             f"({row.requests:,} requests, {row.bytes / 1e6:.1f} MB), failed "
                             f"the endpoint's validation: {error or 'no reason given'}; its "
                             f"requests go out again when the same command runs again",
                             file=row.file_name)
        if stop is not None:
            raise EndpointError(getattr(self.api, "base_url", "the batch endpoint"), stop,
                                f"requests of batch {remote.id} were refused")
        return owners

    def _queue_full(self, row: BatchRow, error: str | None) -> None:
        """The provider's queue (OpenAI's enqueued-token limit) refused a batch: its lines
        go out again once this run's other batches are done. Refused with nothing else of
        this run queued `retries` + 1 times, the file is too big for the queue alone."""
        self.saturated = True
        if self.ledger.batches(open_only=True):
            return  # the queue holds other batches of ours: it frees up as they finish
        self._lone_refusals += 1  # back to 0 only when a batch of ours completes
        if self._lone_refusals > self.retries:
            raise BatchError(f"request file {row.file_name} ({row.requests:,} requests) was "
                             f"refused {self._lone_refusals} times by the provider's queue "
                             f"with nothing else of this run in it ({error}); lower "
                             f"batch_max_requests", file=row.file_name,
                             field="batch_max_requests")

    def _account(self, waiting: dict[str, LineRow], outcomes: dict[str, LineOutcome]) -> None:
        """Budget, token counts, the response cache and the structured-output switch."""
        budget = self.client.budget
        for cid, prev in waiting.items():
            o = outcomes.get(cid)
            role = role_of(prev.name)
            hold = self._holds.pop(cid, None)
            p, c = (o.prompt_tokens, o.completion_tokens) if o is not None else (0, 0)
            if budget is not None and (hold is not None or p or c):
                budget.settle(hold or (role, 0, 0), p, c)
            if o is None:
                continue
            if o.state == "done":
                tokens = self.client.tokens
                tokens.prompt[role] += p
                tokens.completion[role] += c
                tokens.calls[role] += 1
                if self.client.cache is not None and o.result is not None:
                    self.client.cache.put(prev.key, self.client.models[role], {
                        k: o.result.get(k) for k in ("content", "finish_reason",
                                                     "prompt_tokens", "completion_tokens")})
            elif o.state == "refused" and self.client.structured_output:
                self.client.structured_output = False
                self.store.set_meta("batch_structured_refused", True)
            elif o.state == "failed":
                self.client.tokens.failed_calls += 1


def _refused(e: Refused, what: str, name: str) -> BatchError:
    hint = ("; the endpoint takes smaller files: lower batch_max_mb (or batch_max_requests)"
            if e.status == 413 else "")
    return BatchError(f"{what} was refused by the endpoint: HTTP {e.status}: "
                      f"{e.message[:500]}{hint}", file=name, status=e.status,
                      field="batch_max_mb" if e.status == 413 else None)
