"""The population map and the charts in a real JupyterLab in chromium: drawn after a
Step, drawn again after the page is reloaded (the kernel keeps running; in JupyterLab and
in Notebook 7), and a 250K-point map drawn whole. Point counts come from the page's own
WebGL draw calls (webgl.py) and plotly's graph divs, never from Python."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .assertions import painted_pixels
from .browser import screenshot
from .notebook import open_and_run_notebook, open_in_notebook7_and_run_all
from .server import ARTIFACTS
from .webgl import charts, page_now, wait_points, watch_points

HOSTILE_NB = Path(__file__).with_name("hostile.ipynb")
REFERENCES = 300 + 300  # the hostile notebook's Alpaca and ShareGPT samples
SEEDS = 8
CHART_TITLES = ("acceptance by operator", "rejections by rule", "mean difficulty",
                "diversity of the accepted")


def drawn_charts(page) -> dict[str, list]:
    out = {}
    for c in charts(page):
        key = next((t for t in CHART_TITLES if c["title"].startswith(t)), None)
        if key:
            out[key] = c
    return out


def wait_charts(page, timeout_s: float = 60) -> dict[str, dict]:
    """Until the acceptance, rejection and diversity charts hold points (the scripted judge
    rates no difficulty, so that chart's one series is empty)."""
    need = ("acceptance by operator", "rejections by rule", "diversity of the accepted")
    deadline = time.monotonic() + timeout_s
    while True:
        got = drawn_charts(page)
        if all(any(n for _, n in got.get(t, {}).get("traces", [])) for t in need):
            return got
        assert time.monotonic() < deadline, f"charts not drawn: {got}"
        page.wait_for_timeout(250)


def map_canvas(page):
    """The map's visible canvas: the largest canvas in an output area."""
    canvases = page.locator(".jp-OutputArea-output canvas")
    boxes = [c.bounding_box() or {"width": 0, "height": 0} for c in canvases.all()]
    areas = [b["width"] * b["height"] for b in boxes]
    return canvases.nth(areas.index(max(areas)))


def save_and_reload(page, path: Path) -> None:
    """Save, then reload: a reload restores widget views from the saved notebook. The save
    is checked on disk (the saved outputs must hold the widget views) because JupyterLab
    and Notebook 7 mark an unsaved document differently."""
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while "application/vnd.jupyter.widget-view+json" not in path.read_text():
        assert time.monotonic() < deadline, f"{path.name} was not saved with its widget views"
        page.wait_for_timeout(250)
    page.wait_for_timeout(1000)
    page.reload(wait_until="domcontentloaded")


def step_and_wait_drawn(page) -> tuple[int, dict[str, dict]]:
    """Step once, then wait until the map holds the references, the seeds and the accepted
    candidates, and the charts hold points. Returns that point count and the charts."""
    t_step = page_now(page)
    page.locator(".evz-step").click()
    expect(page.locator(".evz-pill")).to_have_text("next: generation 2", timeout=120_000)
    expect(page.locator(".evz-root .evz-row")).to_have_count(8, timeout=15_000)
    accepted = page.locator(".evz-row[data-status='accepted']").count()
    assert accepted >= 1
    want = REFERENCES + SEEDS + accepted
    wait_points(page, want, since=t_step)
    return want, wait_charts(page)


def assert_redrawn_after_reload(page, want: int, before: dict[str, dict]) -> None:
    """Called just after a reload: the panel comes back at the same generation and draws
    the same points and chart traces as before it."""
    t_reload = page_now(page)
    expect(page.locator(".evz-root")).to_be_visible(timeout=60_000)
    expect(page.locator(".evz-pill")).to_have_text("next: generation 2", timeout=60_000)
    wait_points(page, want, since=t_reload, timeout_ms=90_000)
    after = wait_charts(page)
    assert {k: c["traces"] for k, c in after.items()} == {
        k: c["traces"] for k, c in before.items()}, (before, after)
    assert painted_pixels(page, map_canvas(page))["coloured"] > 500


@pytest.fixture
def hostile_copy():
    """The hostile notebook beside itself (it finds the repo from its folder), as a copy:
    the test saves it, and the saved outputs must not land in the tracked file."""
    path = HOSTILE_NB.with_name("hostile-reload.ipynb")
    shutil.copy(HOSTILE_NB, path)
    yield path
    path.unlink(missing_ok=True)


def test_maps_and_charts_are_drawn_after_a_step_and_after_a_reload(page, jupyter_server,
                                                                   hostile_copy):
    watch_points(page)
    run = open_and_run_notebook(page, jupyter_server, hostile_copy, timeout=300)
    run.assert_clean()
    wait_points(page, REFERENCES + SEEDS)  # the map before the first Step

    want, before = step_and_wait_drawn(page)
    for title in CHART_TITLES:
        c = before[title]
        assert c["xTitle"] == "generation" and c["yTitle"], c  # both axes named
        assert c["legends"] <= 1, c  # one legend per chart, its own
    assert painted_pixels(page, map_canvas(page))["coloured"] > 500
    map_canvas(page).scroll_into_view_if_needed()
    screenshot(page, "panel-map")

    save_and_reload(page, hostile_copy)
    assert_redrawn_after_reload(page, want, before)
    screenshot(page, "panel-map-after-reload")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"


def test_maps_and_charts_survive_a_reload_in_notebook_7(page, jupyter_server, hostile_copy):
    """The same reload in the Notebook 7 interface: it restores widget views through its own
    document code, so JupyterLab's passing says nothing about it."""
    watch_points(page)
    open_in_notebook7_and_run_all(page, jupyter_server, hostile_copy)
    expect(page.locator(".evz-pill")).to_have_text("next: generation 1", timeout=180_000)
    wait_points(page, REFERENCES + SEEDS, timeout_ms=180_000)

    want, before = step_and_wait_drawn(page)
    save_and_reload(page, hostile_copy)
    assert_redrawn_after_reload(page, want, before)
    screenshot(page, "panel-notebook7-after-reload")


BIG = 250_000
BIG_NB = """
import time
from IPython.display import display
from evolviz.panel.scatter_map import ScatterMap
from evolviz.testing.stub_map import StubMap

refmap = StubMap({n})
mv = ScatterMap()
t0 = time.time()
mv.set_map(refmap, [f"seed {{i}}" for i in range(8)], [f"s{{i}}" for i in range(8)])
print("T0", t0 * 1000, "kernel_s", time.time() - t0)
display(mv.box)
"""


def test_a_250k_point_map_is_drawn_whole(page, jupyter_server):
    import nbformat

    path = ARTIFACTS / "map_250k.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(BIG_NB.format(n=BIG))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    watch_points(page)
    t_start = time.monotonic()
    run = open_and_run_notebook(page, jupyter_server, path, timeout=300)
    run.assert_clean()
    t_drawn = wait_points(page, BIG + SEEDS, timeout_ms=120_000)
    out = " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    t0 = float(out.split("T0 ", 1)[1].split()[0])
    px = painted_pixels(page, map_canvas(page))
    print(f"\n250K map: drawn {(t_drawn - t0) / 1000:.1f}s after set_map began "
          f"({time.monotonic() - t_start:.0f}s with the notebook); {json.dumps(px)}")
    assert px["coloured"] > 5000, px
    screenshot(page, "map-250k")
