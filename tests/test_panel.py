"""The panel's Python side: widget state and messages, against a real scripted endpoint.

The browser half (the same panel drawn and clicked in chromium) is tests/browser/.
"""

import json
from dataclasses import replace

import pytest

from evolviz.errors import EndpointUnreachable
from evolviz.panel import Explorer
from evolviz.store import RunView
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import REFDATA, ROOT

TINY = ROOT / "seeds" / "tiny.txt"


@pytest.fixture
def server():
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0.3)) as s:
        yield s


def explorer(server, tmp_path, **kw):
    kw.setdefault("maps", False)
    return Explorer(TINY, base_url=server.base_url, model="fake-model",
                    store=tmp_path / "run.db", **kw)


async def press(ex, action, **content):
    ex._on_msg(None, {"action": action, **content}, None)
    if ex._task is not None:
        await ex._task


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


async def test_template_check_preview_rerun_and_save(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "step")
    t = dict(ex.widget.templates["deepening"])
    bad = {**t, "user": t["user"].replace("{{instruction}}", "{{instrution}}")}
    await press(ex, "template_check", template=bad, instruction="Say hi.")
    assert "instrution" in ex.widget.template_result["errors"][0]
    edited = {**t, "user": t["user"] + "\nBe brief."}
    await press(ex, "template_check", template=edited, instruction="Say hi.")
    preview = ex.widget.template_result["preview"]
    assert preview[-1]["content"].endswith("Be brief.") and "Say hi." in preview[-1]["content"]
    first = ex.widget.page["rows"][0]["id"]
    ex.select(first)
    ex._on_msg(None, {"action": "template_rerun", "template": edited,
                      "candidate_id": first}, None)
    import asyncio

    for _ in range(100):
        await asyncio.sleep(0.05)
        if "rerun" in ex.widget.template_result:
            break
    rerun = ex.widget.template_result["rerun"]
    assert set(rerun) >= {"old", "new"} and rerun["messages"][-1]["content"].endswith("Be brief.")
    assert ex.store.candidate_count() == 8  # a re-run is a what-if, never stored
    out = tmp_path / "mine" / "deepening.toml"
    await press(ex, "template_save", template=edited, path=str(out))
    assert out.exists() and "Be brief." in out.read_text()


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
            await ex._task
    assert ex.store.candidate_count() == 0
    assert "unreachable" in ex.widget.status["message"] and ex.widget.status["error"]
    assert not ex.widget.status["running"] and ex.store.writer() is None


@pytest.mark.slow
@pytest.mark.skipif(not REFDATA.exists(), reason="shared reference data not found")
async def test_map_holds_reference_seed_and_new_points(server, tmp_path):
    ex = explorer(server, tmp_path, maps=True, references=REFDATA, reference_sample=100)
    await ex.wait_for_map()
    await press(ex, "step")
    view = ex.maps.view
    counts = view.point_counts()
    accepted = ex.store.count_generation(1).accepted
    rejected = sum(c.status == "rejected" and bool(c.instruction)
                   for c in ex.store.candidates())
    assert counts["reference"] == 200 and counts["seeds"] == 8 and counts["gen"] == accepted
    assert counts["rejected"] == rejected > 0
    # Every point is in the one binary buffer the browser draws (no sample); the rejected
    # are hidden until the map is coloured by status or rule.
    assert view.scatter.widget.points.shape[0] == 200 + 8 + accepted + rejected
    assert len(view.scatter.widget.filter) == 200 + 8 + accepted
    ex.maps.colour.value = "rule"
    assert view.scatter.widget.filter is None
    rules = set(view.frame()["rule"].cat.categories) - {"reference", "seed", "accepted"}
    assert rules == {c.rejected_by for c in ex.store.candidates()
                     if c.status == "rejected" and c.instruction}
    ex.maps.colour.value = "source"
    assert all(fig.data for fig in view.charts.values())  # each chart was drawn
    # Charts keep their current state for a reloaded page, not the empty first display.
    assert all(fig._widget_data == fig._data for fig in view.charts.values())
    frame = view.frame()
    # Clicking a new point selects its card; a lasso filters the list; the slider replays.
    new_ids = list(frame.loc[frame["kind"] == "evolved", "id"])
    view.select_points(new_ids[:1])
    assert ex.widget.selected_id == new_ids[0] and ex.widget.detail["id"] == new_ids[0]
    view.select_points(new_ids[:2])
    assert ex.widget.query["ids"] == new_ids[:2] and ex.widget.page["total"] == 2
    view.select_points([])
    assert "ids" not in ex.widget.query and ex.widget.page["total"] == 8
    ex.maps.slider.value = 0
    assert len(view.scatter.widget.filter) == 200 + 8
    ex.maps.slider.value = 1
    assert len(view.scatter.widget.filter) == 200 + 8 + accepted


async def test_a_map_selection_filters_the_list_by_id(server, tmp_path):
    from evolviz.store import Query, RunView

    ex = explorer(server, tmp_path)
    await press(ex, "step")
    view = RunView(ex.store)
    ids = [c.id for c in ex.store.candidates()][:3]
    page = view.page(Query(ids=tuple(ids)))
    assert page.total == 3 and sorted(r.id for r in page.rows) == sorted(ids)
    assert view.page(Query(ids=())).total == 0  # a lasso around no candidate: none
    # A lasso on a 250K map holds far more ids than SQLite takes host parameters.
    many = (*ids, *(f"cand-missing-{i}" for i in range(120_000)))
    assert view.page(Query(ids=many, status="accepted")).total == sum(
        c.status == "accepted" for c in ex.store.candidates() if c.id in ids)
    ex.show_ids(ids[:2])
    assert ex.widget.page["total"] == 2 and ex.widget.query["ids"] == ids[:2]
    ex.show_ids(None)
    assert ex.widget.page["total"] == 8 and "ids" not in ex.widget.query
    with pytest.raises(ValueError, match="'ids' must be a list"):
        Query.from_dict({"ids": "cand-1"})


@pytest.mark.slow
@pytest.mark.skipif(not REFDATA.exists(), reason="shared reference data not found")
async def test_a_stored_run_is_placed_whole_in_batches_with_progress(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "step")
    await press(ex, "step")
    accepted = sum(c.status == "accepted" for c in ex.store.candidates())
    ex.close()
    again = Explorer.open(tmp_path / "run.db", references=REFDATA, reference_sample=100,
                          base_url=server.base_url, model="fake-model")
    again.maps.batch = 3  # before the load task first runs: every 3 points, a batch
    notes: list[str] = []
    again.maps.note.observe(lambda ch: notes.append(ch["new"]), "value")
    await again.wait_for_map()
    counts = again.maps.view.point_counts()
    assert counts["gen"] == accepted  # every accepted, no sample
    placed = accepted + counts["rejected"]  # and every rejected with an instruction
    assert counts["rejected"] == sum(c.status == "rejected" and bool(c.instruction)
                                     for c in again.store.candidates())
    progress = [n for n in notes if n.startswith("placing the run's points")]
    assert progress and progress[-1].endswith(f"{placed}/{placed}"), notes
    assert again.maps.view.scatter.widget.points.shape[0] == 200 + 8 + placed


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


async def test_the_compare_tab_flags_the_broken_operator_and_lists_flipped_seeds(
        tmp_path, seeds_file, fake_llm):
    from conftest import broken_mutation, run_cli

    seeds = seeds_file(120)

    def cli_run(store, *extra):
        r = run_cli("run", str(seeds), "--store", str(store), "--base-url",
                    fake_llm.base_url, "--model", "fake-model", "--no-progress",
                    "--generations", "2", *extra)
        assert r.returncode == 0, r.stderr
        return store

    good = cli_run(tmp_path / "good.db")
    broken = cli_run(tmp_path / "broken.db", "--templates",
                     str(broken_mutation(tmp_path / "broken")))
    ex = Explorer.open(good, base_url=fake_llm.base_url, model="fake-model", maps=False)
    ex._on_msg(None, {"action": "compare", "path": str(broken)}, None)
    report = ex.widget.comparison
    assert report["paired"] and report["pairs"] == 240
    assert {s["name"] for s in report["significant"] if s["kind"] == "operator"} == {
        "mutation"}
    flipped = report["flipped"]
    assert flipped and report["flipped_total"] == len(flipped)
    assert sum(f["operator"] == "mutation" for f in flipped) > len(flipped) / 2
    seed_texts = {text for _, text in RunView(ex.store).seed_texts()}
    assert {f["seed_text"] for f in flipped} <= seed_texts and all(
        f["seed_text"] for f in flipped)
    json.dumps(report)  # widget state: plain JSON
    assert "compared with" in ex.widget.status["message"] and not ex.widget.status["error"]

    ex._on_msg(None, {"action": "compare", "path": str(tmp_path / "nope.db")}, None)
    assert ex.widget.status["error"] and "nope.db" in ex.widget.status["message"]
    assert ex.widget.comparison == report  # a bad path leaves the last comparison shown
    await press(ex, "compare_clear")
    assert ex.widget.comparison == {} and "comparison cleared" in ex.widget.status["message"]


async def test_suggest_a_revision_fixes_a_planted_flaw_beside_the_run(tmp_path, fake_llm):
    """The editor's "Suggest a revision" on the demo seeds: the evolver restores the line
    the broken mutation template lost, the paired test keeps it, each step reaches the
    widget with its diff and numbers, and the run itself is untouched."""
    from conftest import broken_mutation

    ex = Explorer(TINY, base_url=fake_llm.base_url, model="fake-model", maps=False,
                  store=tmp_path / "run.db", templates=broken_mutation(tmp_path / "broken"))
    seen = []
    ex.widget.observe(lambda ch: seen.append(ch["new"].get("doing")), names="revision")
    t = dict(ex.widget.templates["mutation"])
    await press(ex, "template_suggest", template=t, steps=2, dev=8)
    await ex.revisions.task
    r = ex.widget.revision
    assert not r["running"] and r["error"] is None and r["dev"] == 8
    steps = r["steps"]
    assert steps[0]["status"] == "baseline" and steps[0]["failure_rate"]["value"] > 0.9
    assert steps[1]["status"] == "kept" and steps[1]["p"] < 0.05
    assert steps[1]["failure_rate"]["value"] < steps[0]["failure_rate"]["value"]
    assert "+#New Task#" in steps[1]["diff"] and steps[1]["tokens"] > 0
    assert "revision_call" not in steps[1]  # its messages stay in the store, not the widget
    assert r["best"]["step"] == 1 and "#New Task#" in r["best"]["template"]
    assert any(d and d.startswith("step 1 of 2: evolving") for d in seen)  # live progress
    assert "kept step 1" in ex.widget.status["message"]

    # Every call is in a store of its own beside the run's; the run has none of them.
    from evolviz.store import RunStore

    assert r["store"] == str(tmp_path / "run.optimize-mutation-1.db")
    with RunStore(r["store"], create=False, readonly=True) as opt:
        assert opt.candidate_count() == 16 and opt.get_meta("optimize")["steps"][1][
            "revision_call"]["messages"]
    assert ex.store.candidate_count() == 0
    assert "#New Task#" not in ex.templates.operators["mutation"].user  # a suggestion only

    # A second one gets the next free store; a non-operator template is refused by name.
    assert ex.revisions.store_for("mutation").name == "run.optimize-mutation-2.db"
    await press(ex, "template_suggest", template=dict(ex.widget.templates["answer"]))
    assert ex.widget.status["error"] and "operators' rewrite prompts" in ex.widget.status[
        "message"]
    assert ex.widget.revision["best"]["step"] == 1  # the last suggestion stays shown


async def test_a_revision_loop_stops_and_waits_for_no_run(server, tmp_path):
    ex = explorer(server, tmp_path)
    t = dict(ex.widget.templates["deepening"])
    task = ex._suggest({"template": t, "steps": 3, "dev": 8})
    with pytest.raises(Exception, match="revision is being evaluated"):
        ex.start(1)
    import asyncio

    while not (ex.widget.revision.get("doing") or "").startswith("baseline"):
        await asyncio.sleep(0.01)
    await press(ex, "stop")  # mid-flight: the baseline's calls are out
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ex.revisions.running and "stopped" in ex.widget.revision["error"]
    await press(ex, "step")
    assert ex.store.candidate_count() == 8


async def test_the_charts_overlay_the_compared_run_and_clear_again(server, tmp_path):
    """After a comparison the charts show B dashed beside A, in the same colour per
    operator, and rejections as A's stack beside B's for each generation."""
    from evolviz.panel.compare_view import comparison
    from evolviz.panel.mapview import MapView

    from conftest import broken_mutation

    a = explorer(server, tmp_path)
    b = Explorer(TINY, base_url=server.base_url, model="fake-model", maps=False,
                 store=tmp_path / "b.db", templates=broken_mutation(tmp_path / "broken"))
    await a.run(2)
    await b.run(1)
    view = MapView()
    view.update_charts(a.store)
    alone = {t.name for t in view.charts["acceptance"].data}
    assert alone and not any(n.endswith(("(A)", "(B)")) for n in alone)

    view.overlay("b.db", comparison(a.store, b.store_path)[1])
    view.update_charts(a.store)
    acc = {t.name: t for t in view.charts["acceptance"].data}
    ops_a = {n[:-4] for n in acc if n.endswith(" (A)")}
    ops_b = {n[:-4] for n in acc if n.endswith(" (B)")}
    assert ops_a == alone and ops_b
    for op in ops_a & ops_b:
        assert acc[f"{op} (A)"].line.color == acc[f"{op} (B)"].line.color
        assert acc[f"{op} (A)"].line.dash == "solid" and acc[f"{op} (B)"].line.dash == "dash"
        assert list(acc[f"{op} (B)"].x) == [1]  # B ran one generation, A two
    bars = view.charts["rejections"].data
    assert bars and all(list(t.x[1]) == ["A", "B"] * (len(t.x[1]) // 2) for t in bars)
    by_rule = {t.name: dict(zip(zip(t.x[0], t.x[1], strict=True), t.y, strict=True))
               for t in bars}
    # The broken mutation template's echoes are rule 4's: B has more of them in gen 1.
    copied = by_rule["copied_prompt_wording"]
    assert copied[("1", "B")] > copied[("1", "A")]
    assert "B: b.db" in view.charts["difficulty"].layout.title.text

    view.overlay(None)
    view.update_charts(a.store)
    assert {t.name for t in view.charts["acceptance"].data} == alone
    assert "B:" not in view.charts["acceptance"].layout.title.text
