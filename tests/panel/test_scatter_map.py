"""The population map without a browser: every point of the `Population` (maps/) goes into
the one buffer the `ScatterMap` (jupyter-scatter) sends (no sample), and colour, replay,
click and lasso act on it. The map is `StubMap` (synthetic coordinates: these tests are
about the view, not t-SNE); the browser half is tests/browser/test_maps_browser.py."""

from __future__ import annotations

import numpy as np
import pytest

from evolviz.maps import Placed
from evolviz.panel.scatter_map import COLOUR_BY, ScatterMap
from evolviz.testing.stub_map import StubMap

PAYLOAD = '<img src=x onerror="window.__pwned=1"> & <b>bold</b>'


def placed(refmap: StubMap, generation: int, n: int, texts: list[str] | None = None) -> Placed:
    ids = [f"g{generation}-{i:06d}" for i in range(n)]
    coords, clusters = refmap.place(ids)
    return Placed(generation, ids, texts or [f"instruction {i}" for i in range(n)], coords,
                  clusters, np.zeros((n, refmap.dim), np.float32))


@pytest.fixture
def view():
    clicked, lassoed = [], []
    mv = ScatterMap(on_select=clicked.append, on_lasso=lassoed.append)
    mv.clicked, mv.lassoed = clicked, lassoed
    refmap = StubMap(2000)
    mv.set_map(refmap, [f"seed {i}" for i in range(8)], [f"seed-{i}" for i in range(8)])
    mv.add(placed(refmap, 1, 30), operators=["mutation"] * 15 + ["deepening"] * 15)
    mv.add(placed(refmap, 2, 20, texts=[PAYLOAD] * 20), operators=["mutation"] * 20)
    return mv


def test_a_250k_map_sends_every_point():
    mv = ScatterMap()
    refmap = StubMap(250_000)
    mv.set_map(refmap, ["a seed"], ["seed-0"])
    mv.add(placed(refmap, 1, 5000))
    assert mv.plot.widget.points.shape[0] == 250_000 + 1 + 5000
    assert mv.population.point_counts() == {"reference": 250_000, "seeds": 1, "gen": 5000,
                                 "rejected": 0}


def test_colour_by_each_dimension_with_its_own_legend(view):
    for by in COLOUR_BY:
        view.colour(by)
        cats = list(view.population.frame()[by].cat.categories)
        assert len(view.plot.widget.color) == len(cats), by
    assert list(view.population.frame()["generation"].cat.categories) == [
        "reference", "seeds", "gen 1", "gen 2"]
    assert set(view.population.frame()["operator"].cat.categories) >= {"mutation", "deepening"}
    with pytest.raises(ValueError, match="colour by one of"):
        view.colour("mood")


def test_rejected_points_are_shown_only_by_status_and_rule(view):
    """The population map shows the accepted; colouring by status or rule brings the
    rejected in, each rule its own colour, and diversity never counts them."""
    before = view.population.diversity_rows()
    rules = ["sorry_short_answer", "copied_prompt_wording", None, "sorry_short_answer"]
    view.add(placed(view.population.refmap, 3, 4, texts=["r0", "r1", "ok", "r3"]),
             operators=["mutation"] * 4, rules=rules)
    counts = view.population.point_counts()
    assert counts["rejected"] == 3 and counts["gen"] == 51
    frame = view.population.frame()
    hidden = set(np.flatnonzero((frame["status"] == "rejected").to_numpy()))
    assert len(view.plot.widget.filter) == len(frame) - 3
    assert hidden.isdisjoint(view.plot.widget.filter)
    view.colour("rule")
    assert view.plot.widget.filter is None
    cats = list(view.population.frame()["rule"].cat.categories)
    assert cats == ["reference", "seed", "accepted", "copied_prompt_wording",
                    "sorry_short_answer"]
    colours = dict(zip(cats, view.plot.widget.color, strict=True))
    assert len({str(colours[c]) for c in cats[2:]}) == 3  # accepted and each rule apart
    view.colour("status")
    assert list(view.population.frame()["status"].cat.categories)[2:] == [
        "accepted", "rejected"]
    view.show_up_to(1)  # the replay still applies
    assert len(view.plot.widget.filter) == 2000 + 8 + 30
    view.colour("generation")
    view.show_up_to(None)
    assert len(view.plot.widget.filter) == len(frame) - 3
    # Diversity is over the accepted: gen 3's one accepted point, the earlier ones as they
    # were before the rejected came in.
    after = {r["generation"]: r for r in view.population.diversity_rows()}
    assert {g: after[g] for g in (1, 2)} == {r["generation"]: r for r in before}
    assert view.population.layers[3].accepted().tolist() == [False, False, True, False]


def test_slider_filters_to_a_generation_and_back(view):
    view.show_up_to(1)
    assert len(view.plot.widget.filter) == 2000 + 8 + 30
    view.show_up_to(0)
    assert len(view.plot.widget.filter) == 2000 + 8
    view.show_up_to(None)
    assert view.plot.widget.filter is None
    view.show_up_to(1)
    view.add(placed(view.population.refmap, 3, 5))  # a redraw keeps the replay filter
    assert len(view.plot.widget.filter) == 2000 + 8 + 30


def test_click_opens_one_card_and_a_lasso_filters_by_the_candidates_in_it(view):
    frame = view.population.frame()
    new = list(frame.loc[frame["kind"] == "evolved", "id"])
    view.select_points(new[3:4])
    assert view.clicked == [new[3]]
    # A lasso over references, seeds and candidates: the list shows the candidates only.
    view._selected({"new": np.array([0, 1, 2000, *range(2008, 2018)])})
    assert view.lassoed[-1] == new[:10]
    view._selected({"new": np.array([], dtype=np.int64)})
    assert view.lassoed[-1] is None  # an empty selection clears the filter


def test_tooltip_text_is_the_text_itself_cut_to_a_line(view):
    frame = view.population.frame()
    texts = list(frame.loc[frame["generation"] == "gen 2", "text"])
    assert texts[0] == PAYLOAD  # shown with textContent: escaping would show &lt; instead
    long = "word " * 200
    view.add(placed(view.population.refmap, 4, 1, texts=[long]))
    assert len(view.population.frame()["text"].iat[-1]) <= 301
