"""The panel's maps, charts and Compare tab: every point in the one buffer the browser
draws, click, lasso and replay, a stored run placed whole, and another run compared and
overlaid on the charts."""

import json

import pytest

from evolviz.panel import Explorer
from evolviz.store import RunView

from .conftest import TINY, explorer, press
from conftest import REFDATA


@pytest.mark.slow
@pytest.mark.skipif(not REFDATA.exists(), reason="shared reference data not found")
async def test_map_holds_reference_seed_and_new_points(server, tmp_path):
    ex = explorer(server, tmp_path, maps=True, references=REFDATA, reference_sample=100)
    await ex.wait_for_map()
    await press(ex, "step")
    view = ex.maps.scatter
    counts = ex.maps.population.point_counts()
    accepted = ex.store.count_generation(1).accepted
    rejected = sum(c.status == "rejected" and bool(c.instruction)
                   for c in ex.store.candidates())
    assert counts["reference"] == 200 and counts["seeds"] == 8 and counts["gen"] == accepted
    assert counts["rejected"] == rejected > 0
    # Every point is in the one binary buffer the browser draws (no sample); the rejected
    # are hidden until the map is coloured by status or rule.
    assert view.plot.widget.points.shape[0] == 200 + 8 + accepted + rejected
    assert len(view.plot.widget.filter) == 200 + 8 + accepted
    ex.maps.colour.value = "rule"
    assert view.plot.widget.filter is None
    rules = set(ex.maps.population.frame()["rule"].cat.categories) - {
        "reference", "seed", "accepted"}
    assert rules == {c.rejected_by for c in ex.store.candidates()
                     if c.status == "rejected" and c.instruction}
    ex.maps.colour.value = "source"
    assert all(fig.data for fig in ex.maps.charts.figures.values())  # each chart was drawn
    # Charts keep their current state for a reloaded page, not the empty first display.
    assert all(fig._widget_data == fig._data for fig in ex.maps.charts.figures.values())
    frame = ex.maps.population.frame()
    # Clicking a new point selects its card; a lasso filters the list; the slider replays.
    new_ids = list(frame.loc[frame["kind"] == "evolved", "id"])
    view.select_points(new_ids[:1])
    assert ex.widget.selected_id == new_ids[0] and ex.widget.detail["id"] == new_ids[0]
    view.select_points(new_ids[:2])
    assert ex.widget.query["ids"] == new_ids[:2] and ex.widget.page["total"] == 2
    view.select_points([])
    assert "ids" not in ex.widget.query and ex.widget.page["total"] == 8
    ex.maps.slider.value = 0
    assert len(view.plot.widget.filter) == 200 + 8
    ex.maps.slider.value = 1
    assert len(view.plot.widget.filter) == 200 + 8 + accepted


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
    counts = again.maps.population.point_counts()
    assert counts["gen"] == accepted  # every accepted, no sample
    placed = accepted + counts["rejected"]  # and every rejected with an instruction
    assert counts["rejected"] == sum(c.status == "rejected" and bool(c.instruction)
                                     for c in again.store.candidates())
    progress = [n for n in notes if n.startswith("placing the run's points")]
    assert progress and progress[-1].endswith(f"{placed}/{placed}"), notes
    assert again.maps.scatter.plot.widget.points.shape[0] == 200 + 8 + placed


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
    ex.act("compare", path=str(broken))
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

    ex.act("compare", path=str(tmp_path / "nope.db"))
    assert ex.widget.status["error"] and "nope.db" in ex.widget.status["message"]
    assert ex.widget.comparison == report  # a bad path leaves the last comparison shown
    await press(ex, "compare_clear")
    assert ex.widget.comparison == {} and "comparison cleared" in ex.widget.status["message"]


async def test_the_charts_overlay_the_compared_run_and_clear_again(server, tmp_path):
    """After a comparison the charts show B dashed beside A, in the same colour per
    operator, and rejections as A's stack beside B's for each generation."""
    from evolviz.maps import Population
    from evolviz.panel.charts import Charts
    from evolviz.panel.compare_view import comparison

    from conftest import broken_mutation

    a = explorer(server, tmp_path)
    b = Explorer(TINY, base_url=server.base_url, model="fake-model", maps=False,
                 store=tmp_path / "b.db", templates=broken_mutation(tmp_path / "broken"))
    await a.run(2)
    await b.run(1)
    view = Charts()
    view.update(a.store, Population())
    alone = {t.name for t in view.figures["acceptance"].data}
    assert alone and not any(n.endswith(("(A)", "(B)")) for n in alone)

    view.overlay("b.db", comparison(a.store, b.store_path)[1])
    view.update(a.store, Population())
    acc = {t.name: t for t in view.figures["acceptance"].data}
    ops_a = {n[:-4] for n in acc if n.endswith(" (A)")}
    ops_b = {n[:-4] for n in acc if n.endswith(" (B)")}
    assert ops_a == alone and ops_b
    for op in ops_a & ops_b:
        assert acc[f"{op} (A)"].line.color == acc[f"{op} (B)"].line.color
        assert acc[f"{op} (A)"].line.dash == "solid" and acc[f"{op} (B)"].line.dash == "dash"
        assert list(acc[f"{op} (B)"].x) == [1]  # B ran one generation, A two
    bars = view.figures["rejections"].data
    assert bars and all(list(t.x[1]) == ["A", "B"] * (len(t.x[1]) // 2) for t in bars)
    by_rule = {t.name: dict(zip(zip(t.x[0], t.x[1], strict=True), t.y, strict=True))
               for t in bars}
    # The broken mutation template's echoes are rule 4's: B has more of them in gen 1.
    copied = by_rule["copied_prompt_wording"]
    assert copied[("1", "B")] > copied[("1", "A")]
    assert "B: b.db" in view.figures["difficulty"].layout.title.text

    view.overlay(None)
    view.update(a.store, Population())
    assert {t.name for t in view.figures["acceptance"].data} == alone
    assert "B:" not in view.figures["acceptance"].layout.title.text
