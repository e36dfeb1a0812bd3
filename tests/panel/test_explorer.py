"""The panel's Python side: widget state and actions, against a real scripted endpoint.

Step and Run, the status, the list and its filters, cards and lineage, settings and the
budget. Templates and revisions are test_templates.py, maps, charts and the Compare tab
test_maps_and_compare.py; the browser half (the same panel drawn and clicked in
chromium) is tests/browser/."""

import asyncio
import json
from dataclasses import replace

import pytest

from evolviz.errors import EndpointUnreachable, StoreLockedError
from evolviz.panel import Explorer
from evolviz.seeds import Seed
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from .conftest import TINY, explorer, press


async def test_step_fills_status_page_and_cards(server, tmp_path):
    ex = explorer(server, tmp_path)
    assert ex.widget.status["generation"] == 1 and ex.widget.page["total"] == 0
    await press(ex, "step")
    s = ex.widget.status
    assert not s["running"] and s["generation"] == 2 and s["finished_generations"] == 1
    g1 = ex.store.count_generation(1)
    assert g1.accepted + sum(g1.rejected.values()) + g1.failed == 8
    assert ex.widget.page["total"] == 8 and len(ex.widget.page["rows"]) == 8
    rejected = [r for r in ex.widget.page["rows"] if r["status"] == "rejected"]
    assert rejected and all(r["rejected_by"] for r in rejected)
    ex.select(rejected[0]["id"])
    card = ex.widget.detail
    assert card["id"] == rejected[0]["id"] and card["calls"]["rewrite"]["messages"]
    assert any(not v["passed"] for v in card["verdicts"])


async def test_filters_and_search_page_from_the_store(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "run", n=2)
    ex.widget.query = {"status": "rejected", "offset": 0, "limit": 3}
    page = ex.widget.page
    assert page["total"] == ex.store.conn.execute(
        "SELECT count(*) FROM candidates WHERE status='rejected'").fetchone()[0]
    assert len(page["rows"]) == min(3, page["total"])
    ex.widget.query = {"text": "rain", "offset": 0, "limit": 50}
    expected = {c.id for c in ex.store.candidates()
                if "rain" in (c.instruction or "").lower() or "rain" in (c.answer or "").lower()}
    assert expected, "the tiny seeds hold a poem about rain: something must match"
    assert ex.widget.page["total"] == len(expected)
    assert {r["id"] for r in ex.widget.page["rows"]} == expected
    assert set(ex.widget.options["generation"]) == {1, 2}


async def test_lineage_shows_seed_and_every_attempt(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "run", n=2)
    await press(ex, "lineage", seed_id="seed-000002")
    steps = ex.widget.lineage
    assert steps[0]["status"] == "seed" and [s["generation"] for s in steps] == [0, 1, 2]


async def test_settings_apply_and_bad_ones_are_refused(server, tmp_path):
    ex = explorer(server, tmp_path)
    s = dict(ex.widget.settings)
    s["rules"] = {**s["rules"], "copied_prompt_wording": False}
    ex.widget.settings = s
    assert not ex.config.rules.is_on("copied_prompt_wording")
    await press(ex, "step")
    assert "copied_prompt_wording" not in ex.store.count_generation(1).rejected
    ex.widget.settings = {**ex.widget.settings, "judge_difficulty": True}
    await press(ex, "step")
    rated = [c for c in ex.store.candidates(generation=2) if c.status == "accepted"]
    assert rated and all(1 <= c.difficulty <= 10 for c in rated)
    ex.widget.settings = {**ex.widget.settings, "seed": 99}
    assert ex.widget.status["message"].split(" · ")[-1].startswith("error")
    assert ex.widget.settings["seed"] == 0 and ex.config.seed == 0


async def test_reapply_is_a_what_if(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "step")
    before = [(c.id, c.status) for c in ex.store.candidates()]
    ex.widget.settings = {**ex.widget.settings, "copied_ngram": 3}
    await press(ex, "reapply")
    result = ex.widget.reapply_result
    assert result["per_generation"][0]["generation"] == 1
    assert [(c.id, c.status) for c in ex.store.candidates()] == before


async def test_no_api_key_in_widget_state(server, tmp_path, monkeypatch):
    monkeypatch.setenv("EVZ_TEST_KEY", "sk-PLANTED-widget-0001")
    ex = explorer(server, tmp_path, api_key_env="EVZ_TEST_KEY")
    await press(ex, "step")
    state = json.dumps(ex.widget.get_state(), default=str)
    assert "sk-PLANTED" not in state
    assert ex.client is not None and "sk-PLANTED" not in repr(ex.client)


async def test_a_failing_endpoint_never_raises_into_the_panel(tmp_path):
    """Calls failing on an endpoint that works (its models list answers, calls got through
    before) are failures of their candidates: recorded, and the generation completes."""
    with FakeOpenAIServer(EvolResponder()) as s:
        ex = Explorer(TINY, base_url=s.base_url, model="fake-model", store=tmp_path / "r.db",
                      maps=False)
        ex.session.configure(endpoint=replace(ex.session.endpoint, retries=0))
        await press(ex, "step")
        s.force_next("500", n=10_000)
        await press(ex, "step")
    assert ex.store.count_generation(2).failed == 8
    assert ex.widget.status["generation"] == 3  # the generation completed all the same
    assert "8 failed" in ex.widget.status["message"]


async def test_an_endpoint_down_from_the_start_is_reported_and_nothing_recorded(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as s:
        s.force_next("500", n=10_000)
        ex = Explorer(TINY, base_url=s.base_url, model="fake-model", store=tmp_path / "r.db",
                      maps=False)
        ex._on_msg(None, {"action": "step"}, None)  # the widget's callback: never raises
        with pytest.raises(EndpointUnreachable):
            await ex.loop.task
    assert ex.store.candidate_count() == 0
    assert "unreachable" in ex.widget.status["message"] and ex.widget.status["error"]
    assert not ex.widget.status["running"] and ex.store.writer() is None


def _outcomes(store):
    return [(c.id, c.status, c.rejected_by, c.instruction, c.answer)
            for c in store.candidates()]


async def test_a_budget_set_in_the_form_stops_step_and_a_raised_one_resumes_it(server,
                                                                               tmp_path):
    reference = explorer(server, tmp_path / "ref")
    await press(reference, "step")
    await press(reference, "step")
    full = _outcomes(reference.store)
    full_tokens = sum(reference.store.token_totals())

    ex = explorer(server, tmp_path / "budget")
    budget = {"max_tokens": full_tokens // 2, "max_cost": None, "price_in": 1.0,
              "price_out": 4.0}
    ex.widget.settings = {**ex.widget.settings, "budget": budget}
    assert ex.budget is not None and ex.budget.max_tokens == full_tokens // 2
    await press(ex, "step")
    status = ex.widget.status
    assert "stopped: the budget" in status["message"] and not status["error"]
    assert status["budget_stopped"] and status["budget_set"] and not status["budget_reached"]
    assert "(reached)" not in status["budget"]  # a fresh copy: the limit, not the stop
    assert f"of {full_tokens // 2:,}" in status["budget"] and "USD" in status["budget"]
    spent = sum(ex.store.token_totals())
    assert 0 < spent <= full_tokens // 2
    assert 0 < ex.store.candidate_count() < 8 and ex.store.finished_generations() == []
    prompt, completion = ex.store.token_totals()
    assert status["cost"] == pytest.approx((prompt * 1.0 + completion * 4.0) / 1e6)

    ex.widget.settings = {**ex.widget.settings, "budget": {**budget, "max_tokens": None}}
    assert ex.budget is not None and ex.budget.max_tokens is None  # prices stay
    await press(ex, "step")
    await press(ex, "step")
    assert _outcomes(ex.store) == full  # resumed with no duplicate and nothing lost


async def test_a_bad_budget_is_refused_with_the_field_named(server, tmp_path):
    ex = explorer(server, tmp_path)
    ex.widget.settings = {**ex.widget.settings, "budget": {"max_cost": 0.5}}
    assert "budget" in ex.widget.status["message"] and ex.widget.status["error"]
    assert ex.budget is None and ex.widget.settings["budget"]["max_cost"] is None
    ex.set_budget(max_tokens=500)
    assert ex.widget.settings["budget"]["max_tokens"] == 500
    assert ex.widget.status["budget"] == "budget: 0 tokens spent of 500"


async def test_the_status_shows_calls_in_flight_and_an_outage_while_it_lasts(tmp_path):
    """A run that waits out an outage sends no candidates, so the panel's status ticks on
    its own: the outage is shown while it lasts, and the run finishes with none failed."""
    server = FakeOpenAIServer(EvolResponder(), latency=0.3).start()
    try:
        ex = Explorer(TINY, base_url=server.base_url, model="fake-model",
                      store=tmp_path / "r.db", maps=False)
        client = await ex.session.client_async()
        client.health.backoff_base = 0.25  # probe often: the test waits for the restart
        task = ex.act("step")

        async def until(predicate, seconds: float) -> bool:
            for _ in range(int(seconds / 0.05)):
                if predicate(ex.widget.status):
                    return True
                await asyncio.sleep(0.05)
            return False

        assert await until(lambda s: s["in_flight"] > 0, 10), ex.widget.status
        assert ex.widget.status["endpoint_health"] == ""
        server.stop()
        assert await until(lambda s: "unreachable since" in s["endpoint_health"], 15), (
            ex.widget.status)
        assert ex.widget.status["running"]
        server.start()  # the same port
        await asyncio.wait_for(task, 60)
    finally:
        server.stop()
    status = ex.widget.status
    assert ex.store.count_generation(1).failed == 0 and ex.store.count_generation(1).done == 8
    assert status["endpoint_health"] == "" and status["in_flight"] == 0 and not status["running"]


async def test_step_is_refused_while_a_cli_run_writes_the_store_and_browsing_goes_on(tmp_path):
    from evolviz.run.session import Endpoint, RunSession

    path = tmp_path / "r.db"
    with FakeOpenAIServer(EvolResponder()) as s:
        cli = RunSession(path, seeds=[Seed(id="s0", instruction="Explain what a list is.")],
                         endpoint=Endpoint(base_url=s.base_url, model="fake-model"),
                         writer="evolviz run")  # what `evolviz run` takes
        ex = Explorer.open(path, base_url=s.base_url, model="fake-model", maps=False)
        ex._on_msg(None, {"action": "step"}, None)  # the widget's callback: never raises
        with pytest.raises(StoreLockedError):
            await ex.loop.task
        status = ex.widget.status
        assert status["error"] and "evolviz run" in status["message"], status
        assert not status["running"] and ex.store.candidate_count() == 0
        ex.show_ids(None)  # browsing still works
        assert ex.widget.page["total"] == 0
        cli.close()  # the run ends: the panel may write now
        await press(ex, "step")
        assert ex.store.count_generation(1).done == 1
        ex.close()
