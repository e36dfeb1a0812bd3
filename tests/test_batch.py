"""Batch mode, library level, against the scripted Files and Batches server on 127.0.0.1.

The yardstick is the live run: same seeds, same --seed, same scripted replies must give
the same candidates (status, verdicts, instruction, answer), whatever the batches went
through (failed lines, expiry, refused structured output, a run killed half-way).
"""

import asyncio
import json

import pytest

from evolviz.config import RunConfig
from evolviz.errors import BatchError, BudgetReached
from evolviz.run.batch import BatchRun, BatchSettings
from evolviz.run.batch_admin import batch_status, batch_table, cancel_batches
from evolviz.run.batch_api import OpenAIBatches
from evolviz.run.budget import Budget
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient, ResponseCache
from evolviz.seeds import Seed
from evolviz.store import RunStore, check_store
from evolviz.store.batches import BatchLedger
from evolviz.templates import TemplateSet
from evolviz.testing import FakeBatchServer, FakeOpenAIServer, LineFaults
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.synthetic import synthetic_instructions

FAST = dict(poll_interval=0.02, retries=2)


def seeds(n):
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


def snapshot(store):
    """What must not differ between a batch run and a live run."""
    return [(c.id, c.parent_id, c.operator, c.status, c.rejected_by, c.error_class,
             c.instruction, c.answer, [v.to_dict() for v in c.verdicts], c.difficulty)
            for c in store.candidates()]


def seed_ratings(store):
    return [(r["id"], r["difficulty"], r["difficulty_raw"]) for r in store.seed_rows()]


async def live_run(tmp_path, url, n, generations, config, name="live.db"):
    client = LLMClient(url, models="fake-model", concurrency=4, max_retries=2,
                       backoff_base=0.01, timeout=5)
    evo = Evolution(RunStore(tmp_path / name), client, TemplateSet.load(), config,
                    seeds=seeds(n))
    await evo.run(generations)
    await client.aclose()
    return evo.store


def batch_evolution(tmp_path, url, n, config, name="batch.db"):
    store = RunStore(tmp_path / name)
    client = LLMClient(url, models="fake-model", cache=ResponseCache(tmp_path / name))
    return Evolution(store, client, TemplateSet.load(), config, seeds=seeds(n)), client


async def batch_run(tmp_path, url, n, generations, config, name="batch.db", api=None,
                    **settings):
    evo, client = batch_evolution(tmp_path, url, n, config, name)
    api = api or OpenAIBatches(url)
    runner = BatchRun(evo, client, api, BatchSettings(**{**FAST, **settings}))
    try:
        report = await runner.run(generations)
    finally:
        await api.aclose()
    return evo.store, report


async def test_a_batch_run_equals_the_live_run_through_failed_and_expired_lines(tmp_path):
    config = RunConfig(seed=5, judge_difficulty=True)
    faults = LineFaults(fail_rate=0.2, kinds=("500", "429", "malformed"), expire_rate=0.15)
    with FakeBatchServer(EvolResponder(), batch_delay=0.1, line_faults=faults) as server:
        live = await live_run(tmp_path, server.base_url, 16, 2, config)
        store, report = await batch_run(tmp_path, server.base_url, 16, 2, config)
        assert report.state == "finished" and report.open == 0
        assert snapshot(store) == snapshot(live) and len(snapshot(store)) == 32
        assert seed_ratings(store) == seed_ratings(live)
        assert server.overlaps == []  # no line was ever out twice at once
        statuses = {b.status for b in server.batches.values()}
        assert {"completed", "expired"} <= statuses
        again = [cid for cid, n in server.submissions.items() if n > 1]
        assert again, "some lines failed or expired and were sent again"
    assert check_store(store) == []
    calls = [c for cand in store.candidates() for c in cand.calls.values()]
    assert all(c.batch_id in server.batches for c in calls)  # the record says which batch
    retried = [c for c in calls if c.retries]
    assert retried and all(c.attempts == len(c.retries) + 1 for c in retried)
    table = batch_table(store, prices=(1.0, 2.0))
    assert {b["stage"] for b in table["batches"]} >= {"rewrite", "equality", "answer",
                                                      "difficulty", "retry"}
    assert table["open"] == 0 and table["cost_usd"] > 0
    assert batch_status(store).startswith("batch run:")


async def test_batch_lines_carry_the_live_request_bodies(tmp_path):
    config = RunConfig(seed=2)
    with FakeOpenAIServer(EvolResponder()) as live_server:
        await live_run(tmp_path, live_server.base_url, 6, 1, config)
        live_bodies = sorted(json.dumps(b, sort_keys=True) for b in live_server.stats.bodies)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05) as server:
        await batch_run(tmp_path, server.base_url, 6, 1, config)
        lines = [json.loads(raw) for f in server.files.values() if f.purpose == "batch"
                 for raw in f.data.splitlines()]
    assert {(ln["method"], ln["url"]) for ln in lines} == {("POST", "/v1/chat/completions")}
    assert sorted(json.dumps(ln["body"], sort_keys=True) for ln in lines) == live_bodies
    assert any("response_format" in ln["body"] for ln in lines)  # structured judges too


async def test_a_line_that_keeps_failing_is_recorded_as_a_live_failure(tmp_path):
    faults = LineFaults(fail_rate=0.3, kinds=("500",), fail_times=99)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05, line_faults=faults) as server:
        store, _ = await batch_run(tmp_path, server.base_url, 12, 1, RunConfig(seed=1),
                                   retries=1)
        failed = [c for c in store.candidates() if c.status == "failed"]
        assert failed and all(c.error_class == "ServerError" for c in failed)
        for c in failed:
            call = next(x for x in c.calls.values() if x.error_class)
            assert call.retries == ["ServerError", "ServerError"]  # 1 + --retries sends
            assert call.batch_id is not None and "Injected 500" in call.error
            cid = f"{c.id}/{next(n for n, x in c.calls.items() if x.error_class)}"
            assert server.submissions[cid] == 2
    assert check_store(store) == []


async def test_a_refused_file_is_named_and_smaller_files_go_through(tmp_path):
    config = RunConfig(seed=4)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05, max_file_bytes=4000) as server:
        with pytest.raises(BatchError, match=r"evolviz-g1-rewrite-\d+\.jsonl.*HTTP 413") as e:
            await batch_run(tmp_path, server.base_url, 10, 1, config)
        assert e.value.status == 413 and e.value.field == "batch_max_mb"
        assert "lower batch_max_mb" in str(e.value)
        with RunStore(tmp_path / "batch.db", create=False) as s:
            assert BatchLedger(s).batches(open_only=True) == []  # nothing left half-sent
        store, report = await batch_run(tmp_path, server.base_url, 10, 1, config,
                                        max_mb=0.004, max_requests=3)
        assert report.state == "finished"
        sizes = [len(f.data) for f in server.files.values() if f.purpose == "batch"]
        assert sizes and max(sizes) <= 4000
        assert max(len(b.lines) for b in server.batches.values()) <= 3
        live = await live_run(tmp_path, server.base_url, 10, 1, config)
    assert snapshot(store) == snapshot(live)


async def test_a_batch_that_fails_validation_says_which_file_and_why(tmp_path):
    with FakeBatchServer(EvolResponder(), batch_delay=0.05, max_file_lines=3) as server:
        with pytest.raises(BatchError, match=r"request file evolviz-g1-rewrite-\d+\.jsonl "
                                             r"\(8 requests.*at most 3 per batch"):
            await batch_run(tmp_path, server.base_url, 8, 1, RunConfig())
        # The requests were not answered: they go out again, in files the endpoint takes.
        store, report = await batch_run(tmp_path, server.base_url, 8, 1, RunConfig(),
                                        max_requests=3)
        assert report.state == "finished" and store.candidate_count() == 8


async def test_a_full_provider_queue_holds_lines_back_until_batches_finish(tmp_path):
    config = RunConfig(seed=13)
    with FakeBatchServer(EvolResponder(), batch_delay=0.1, max_enqueued_lines=8) as server:
        store, report = await batch_run(tmp_path, server.base_url, 16, 1, config,
                                        max_requests=4)
        assert report.state == "finished" and server.overlaps == []
        refused = [b for b in server.batches.values() if b.status == "failed"]
        assert refused and all(b.errors[0]["code"] == "token_limit_exceeded"
                               for b in refused)
        live = await live_run(tmp_path, server.base_url, 16, 1, config)
        assert snapshot(store) == snapshot(live)
        # A file too big for the queue on its own is named, once retrying cannot help.
        server.max_enqueued_lines = 3
        with pytest.raises(BatchError, match=r"refused 3 times by the provider's queue.*"
                                             r"lower batch_max_requests"):
            await batch_run(tmp_path, server.base_url, 8, 1, config, name="alone.db",
                            max_requests=4)


async def test_refused_structured_output_is_asked_again_without_as_live(tmp_path):
    config = RunConfig(seed=9)
    with FakeOpenAIServer(EvolResponder(), structured_output=False) as plain:
        live = await live_run(tmp_path, plain.base_url, 10, 1, config)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05, structured_output=False) as srv:
        store, _ = await batch_run(tmp_path, srv.base_url, 10, 1, config)
    assert snapshot(store) == snapshot(live)
    judged = [c.calls["equality"] for c in store.candidates() if "equality" in c.calls]
    assert judged and all(c.response_format is None for c in judged)
    assert any("StructuredOutputRefused" in c.retries for c in judged)
    assert store.get_meta("batch_structured_refused") is True


async def test_detach_submits_and_returns_and_the_next_call_continues(tmp_path):
    config = RunConfig(seed=6)
    with FakeBatchServer(EvolResponder(), batch_delay=0.2) as server:
        calls, states = 0, []
        while True:
            store, report = await batch_run(tmp_path, server.base_url, 8, 2, config,
                                            detach=True)
            calls += 1
            states.append(report.state)
            if report.state == "finished":
                break
            assert report.open > 0
            store.close()
            await asyncio.sleep(0.25)
        live = await live_run(tmp_path, server.base_url, 8, 2, config)
        assert server.overlaps == []
    assert calls >= 4 and states[0] == "detached"
    assert snapshot(store) == snapshot(live)


async def test_cancelling_stops_the_run_cleanly_and_the_next_run_finishes(tmp_path):
    config = RunConfig(seed=8)
    with FakeBatchServer(EvolResponder(), batch_delay=1.0) as server:
        evo, client = batch_evolution(tmp_path, server.base_url, 12, config)
        api = OpenAIBatches(server.base_url)
        runner = BatchRun(evo, client, api, BatchSettings(poll_interval=0.05))
        task = asyncio.create_task(runner.run(1))
        while not server.created:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # about half of the rewrite lines are done by now
        with RunStore(tmp_path / "batch.db", create=False) as other:
            cancelled = await cancel_batches(other, OpenAIBatches(server.base_url))
        assert [c["state"] for c in cancelled] == ["cancelling"]
        report = await asyncio.wait_for(task, 10)
        await api.aclose()
        assert report.state == "cancelled"
        rows = BatchLedger(evo.store).batches()
        assert rows[0].state == "cancelled" and 0 < rows[0].completed < 12
        assert evo.store.finished_generations() == []
        evo.store.close()
        store, report = await batch_run(tmp_path, server.base_url, 12, 1, config)
        assert report.state == "finished"
        live = await live_run(tmp_path, server.base_url, 12, 1, config)
        assert server.overlaps == []
    assert snapshot(store) == snapshot(live)


async def test_the_budget_stops_lines_from_going_out_and_counts_the_batch_price(tmp_path):
    config = RunConfig(seed=3)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05) as server:
        full, _ = await batch_run(tmp_path, server.base_url, 20, 1, config, name="full.db")
        paid = BatchLedger(full).paid_tokens()
        prices = (1.0, 4.0)
        full_cost = 0.5 * (paid[0] * prices[0] + paid[1] * prices[1]) / 1e6
        evo, client = batch_evolution(tmp_path, server.base_url, 20, config, "budget.db")
        client.budget = Budget(max_cost=full_cost / 2, prices=prices, batch=True)
        api = OpenAIBatches(server.base_url)
        with pytest.raises(BudgetReached, match="max_cost"):
            await BatchRun(evo, client, api, BatchSettings(**FAST)).run(1)
        spent = client.budget
        assert spent.batch_prompt == spent.spent_prompt > 0  # every token at batch price
        assert spent.spent_cost() <= full_cost / 2
        assert spent.spent_cost() == pytest.approx(
            0.5 * spent.cost(spent.spent_prompt, spent.spent_completion))
        # A generation goes out stage by stage, so the stop may come before any candidate
        # is finished; what was paid for is kept, and not paid for again on resuming.
        assert evo.store.candidate_count() < 20
        assert 0 < sum(BatchLedger(evo.store).paid_tokens()) < sum(paid)
        assert BatchLedger(evo.store).batches(open_only=True) == []
        evo.store.close()
        store, report = await batch_run(tmp_path, server.base_url, 20, 1, config,
                                        name="budget.db")
        assert report.state == "finished" and server.overlaps == []
    assert snapshot(store) == snapshot(full)
    assert BatchLedger(store).paid_tokens() == paid


class CrashAfterCreate(OpenAIBatches):
    """Creates the batch at the provider, then dies before the run can record it."""

    async def create(self, file_id, metadata):
        await super().create(file_id, metadata)
        raise KeyboardInterrupt


async def test_a_batch_created_but_not_recorded_is_adopted_not_sent_again(tmp_path):
    config = RunConfig(seed=12)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05) as server:
        with pytest.raises(KeyboardInterrupt):
            await batch_run(tmp_path, server.base_url, 6, 1, config,
                            api=CrashAfterCreate(server.base_url))
        with RunStore(tmp_path / "batch.db", create=False) as s:
            (row,) = BatchLedger(s).batches()
            assert row.state == "uploaded" and row.batch_id is None
        assert len(server.created) == 1
        store, report = await batch_run(tmp_path, server.base_url, 6, 1, config)
        assert report.state == "finished"
        assert BatchLedger(store).batches()[0].batch_id == server.created[0]
        assert server.overlaps == [] and max(server.submissions.values()) == 1


def test_an_old_store_has_no_batches_and_gets_the_tables_when_written(tmp_path):
    path = tmp_path / "old.db"
    with RunStore(path) as s:
        s.add_seeds(seeds(2))
        s.conn.execute("DROP TABLE batches")
        s.conn.execute("DROP TABLE batch_requests")
    with RunStore(path, create=False, readonly=True) as s:
        assert batch_table(s)["batches"] == [] and batch_status(s) == ""
        assert BatchLedger(s).paid_tokens() == (0, 0)
    with RunStore(path, create=False) as s:
        assert BatchLedger(s).exists()


async def test_check_finds_a_ledger_that_disagrees_with_itself(tmp_path):
    with FakeBatchServer(EvolResponder(), batch_delay=0.05) as server:
        store, _ = await batch_run(tmp_path, server.base_url, 4, 1, RunConfig())
    assert check_store(store) == []
    store.conn.execute("UPDATE batch_requests SET state='submitted' WHERE rowid=1")
    store.conn.execute("UPDATE batches SET collected=0 WHERE key=2")
    assert check_store(store) == [
        "1 batch request(s) marked as out there in no open batch",
        "1 batch(es) of finished generations never collected"]
    # Results are dropped once their candidate is committed; tokens and states stay.
    assert store.conn.execute("SELECT count(*) FROM batch_requests WHERE result IS NOT "
                              "NULL").fetchone()[0] == 0
    assert BatchLedger(store).paid_tokens()[0] > 0


async def test_the_panel_shows_a_batch_runs_batches_and_refuses_step(tmp_path):
    from evolviz.errors import EvolvizError
    from evolviz.panel import Explorer

    with FakeBatchServer(EvolResponder(), batch_delay=30) as server:
        store, report = await batch_run(tmp_path, server.base_url, 6, 1, RunConfig(),
                                        detach=True)
        assert report.state == "detached"
        store.close()
        ex = Explorer.open(tmp_path / "batch.db", base_url=server.base_url,
                           model="fake-model", maps=False)
        try:
            assert ex.widget.status["batches"] == "batch run: 1 open of 1: rewrite " \
                                                  "validating 0/6"
            ex._on_msg(None, {"action": "step"}, None)
            assert "batch mode" in ex.widget.status["message"]
            assert ex.widget.status["error"] and not ex.widget.status["running"]
            with pytest.raises(EvolvizError, match="Step is off"):
                await ex.step()
            assert ex.store.candidate_count() == 0 and server.submissions.total() == 6
        finally:
            ex.close()
