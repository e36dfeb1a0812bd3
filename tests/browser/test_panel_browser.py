"""The explorer panel in a real JupyterLab in a real chromium.

Two notebooks: notebooks/explore.ipynb on the embedded local model (the main job, as a
newcomer runs it), and tests/browser/hostile.ipynb against a scripted endpoint whose
responses carry HTML/script payloads and refusals, so that rejection and inertness are
checked deterministically.
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import expect

from .assertions import assert_text_not_injected
from .browser import screenshot
from .notebook import open_and_run_notebook, open_in_notebook7_and_run_all
from .server import REPO_ROOT
from .webgl import page_now, points_drawn, wait_points, watch_points

HOSTILE_NB = Path(__file__).with_name("hostile.ipynb")
EXPLORE_NB = REPO_ROOT / "notebooks" / "explore.ipynb"
PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

MAP_CANVAS = ".jp-OutputArea-output canvas"


def rows(page):
    return page.locator(".evz-root .evz-row")


def click_step_and_wait(page, generation_after: int, timeout_s: float) -> None:
    page.locator(".evz-step").click()
    expect(page.locator(".evz-pill")).to_have_text(
        f"next: generation {generation_after}", timeout=timeout_s * 1000)


def test_hostile_endpoint_rejections_shown_and_payloads_inert(page, jupyter_server):
    watch_points(page)
    run = open_and_run_notebook(page, jupyter_server, HOSTILE_NB, timeout=300)
    run.assert_clean()
    root = page.locator(".evz-root")
    expect(root).to_be_visible()
    expect(page.locator(".evz-pill")).to_have_text("next: generation 1")

    t_step = page_now(page)
    click_step_and_wait(page, 2, 120)
    expect(rows(page)).to_have_count(8, timeout=15_000)

    # A rejected candidate says which rule rejected it, in the list and on its card.
    rejected = page.locator(".evz-row[data-status='rejected']")
    assert rejected.count() >= 1
    assert "sorry_short_answer" in rejected.first.inner_text()
    rejected.first.click()
    banner = page.locator(".evz-banner-rejected")
    expect(banner).to_contain_text("Rejected by sorry_short_answer")
    # The card lists every failing verdict with its rule (here rule 2, and answer_refusal
    # reading the same refusal); the banner names the first.
    expect(page.locator(".evz-verdicts .evz-fail[data-rule='sorry_short_answer']")
           ).to_contain_text("sorry_short_answer")

    # The payload in the response is shown as text and never runs.
    answer = page.locator(".evz-card .evz-answer")
    assert_text_not_injected(page, answer, PAYLOAD)
    raw = page.locator(".evz-call[data-call='rewrite'] .evz-raw")
    assert_text_not_injected(page, raw, PAYLOAD)
    # The row text holds it too (list rows are untrusted text as well).
    assert_text_not_injected(page, rows(page).first.locator(".evz-row-text"), "<img src=x")

    # The map draws every reference point (300 Alpaca + 300 ShareGPT), the 8 seeds and
    # each accepted candidate of generation 1: counted from the page's WebGL draw calls.
    accepted = page.locator(".evz-row[data-status='accepted']").count()
    wait_points(page, 600 + 8 + accepted, since=t_step)

    # Filters narrow the list; the accepted filter shows no rejected rows.
    page.locator("select[data-filter='status']").select_option("accepted")
    expect(page.locator(".evz-row[data-status='rejected']")).to_have_count(0)
    screenshot(page, "panel-hostile")
    page.locator(MAP_CANVAS).last.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, "panel-hostile-map")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"

    # A budget typed into the settings form stops the next Step before it spends past it:
    # nothing new is recorded, the status says why and shows what the run has spent.
    page.locator(".evz-settings-box summary").click()
    limit = page.locator("input[data-budget='max_tokens']")
    limit.fill("1")
    limit.dispatch_event("change")
    page.locator(".evz-step").click()
    expect(page.locator(".evz-message-line")).to_contain_text("stopped: the budget",
                                                               timeout=60_000)
    expect(page.locator(".evz-budget")).to_contain_text("tokens spent of 1")
    expect(page.locator(".evz-pill")).to_have_text("next: generation 2")

    # The Compare tab: this run against a stored run (itself here, so paired and equal).
    page.locator(".evz-tab[data-tab='Compare']").click()
    here = page.locator(".evz-compare-a")
    expect(here).to_contain_text("A: this run, ")
    page.locator(".evz-compare-path").fill(here.get_attribute("data-store"))
    page.locator(".evz-compare-go").click()
    expect(page.locator(".evz-compare-significant")).to_have_text(
        "no significant difference", timeout=30_000)
    expect(page.locator(".evz-compare-report")).to_contain_text("paired: ")
    assert page.locator(".evz-compare-table tbody tr").count() >= 3
    # The charts overlay B (dashed) with a legend entry per run.
    expect(page.locator(".js-plotly-plot .legendtext", has_text="(B)").first).to_be_attached(
        timeout=15_000)
    screenshot(page, "panel-compare")

    # "Suggest a revision" on a template broken by hand in the editor (the line that marks
    # where the new task goes, deleted): the evolver's fix comes back as a diff with its
    # paired numbers; on 8 dev seeds, with 40% refusals left, it is not significant, so
    # not kept, and a person can still load it into the editor.
    page.locator(".evz-tab[data-tab='Templates']").click()
    page.locator(".evz-templates select[aria-label='template']").select_option("mutation")
    user = page.locator(".evz-templates .evz-user")
    user.fill(user.input_value().replace("#New Task#\n", ""))
    expect(page.locator(".evz-templates .evz-problems").first).to_have_text("placeholders OK")
    page.locator(".evz-rev-steps").fill("1")
    page.locator(".evz-suggest").click()
    expect(page.locator(".evz-rev-step[data-step='0'] .evz-rev-head")).to_contain_text(
        "step 0: baseline · failure rate 100%", timeout=60_000)
    step1 = page.locator(".evz-rev-step[data-step='1']")
    expect(step1.locator(".evz-rev-head")).to_contain_text("McNemar p = ", timeout=60_000)
    expect(step1.locator(".evz-rev-head")).to_contain_text("step 1: not kept · failure rate")
    expect(step1.locator(".evz-diffline-add")).to_have_text(["+#New Task#"])
    expect(page.locator(".evz-rev-result")).to_contain_text("no revision was kept")
    assert "#New Task#" not in user.input_value()
    step1.locator(".evz-rev-load").click()
    assert "#New Task#" in user.input_value()
    screenshot(page, "panel-suggest-revision")
    assert not run.log.page_errors, run.log.page_errors


def test_explore_notebook_steps_on_the_local_model(page, jupyter_server):
    watch_points(page)
    t0 = time.monotonic()
    run = open_and_run_notebook(page, jupyter_server, EXPLORE_NB, timeout=900)
    run.assert_clean()
    # The notebook evolved generations 1-3; their candidates are listed.
    expect(page.locator(".evz-pill")).to_have_text("next: generation 4", timeout=30_000)
    # (The list draws the rows in view; its count line says how many there are.)
    expect(page.locator(".evz-root .evz-count")).to_have_text("24 candidates", timeout=30_000)

    click_step_and_wait(page, 5, 600)
    expect(page.locator(".evz-root .evz-count")).to_have_text("32 candidates", timeout=30_000)

    # A card shows the real prompt and response of the local model.
    rows(page).first.click()
    card = page.locator(".evz-card")
    expect(card.locator(".evz-call[data-call='rewrite']")).to_be_visible()
    assert card.locator(".evz-verdicts li").count() >= 1
    rejected = page.locator(".evz-row[data-status='rejected']")
    if rejected.count():
        rule = rejected.first.get_attribute("data-status")
        rejected.first.click()
        expect(page.locator(".evz-banner-rejected")).to_contain_text("Rejected by")
        assert rule == "rejected"

    # References, the 8 seeds and every accepted candidate are drawn (WebGL draw calls).
    accepted = page.locator(".evz-row[data-status='accepted']").count()
    page.wait_for_timeout(3000)  # the map redraws after the generation's last flush
    points = points_drawn(page)
    assert points > 8 + accepted, points
    # The README's screenshot (docs/images/panel-explore.png) is this one, with an
    # accepted candidate's card open when there is one.
    kept = page.locator(".evz-row[data-status='accepted']")
    if kept.count():
        kept.first.click()
        expect(page.locator(".evz-card .evz-call[data-call='rewrite']")).to_be_visible()
    screenshot(page, "panel-explore")
    page.locator(MAP_CANVAS).last.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, "panel-explore-map")
    print(f"\nexplore on the local model: {time.monotonic() - t0:.0f}s; map {points}")
    assert not run.log.page_errors, run.log.page_errors


def test_panel_works_in_notebook_7(page, jupyter_server):
    """The same panel in the Notebook 7 interface (served by the same Jupyter server)."""
    open_in_notebook7_and_run_all(page, jupyter_server, HOSTILE_NB)
    expect(page.locator(".evz-root")).to_be_visible(timeout=120_000)
    expect(page.locator(".evz-pill")).to_have_text("next: generation 1", timeout=60_000)
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some(o => o.textContent.includes('map ready'))", timeout=180_000)
    click_step_and_wait(page, 2, 120)
    expect(rows(page)).to_have_count(8, timeout=15_000)
    page.locator(".evz-row[data-status='rejected']").first.click()
    expect(page.locator(".evz-banner-rejected")).to_contain_text("Rejected by")
    assert_text_not_injected(page, page.locator(".evz-card .evz-answer"), PAYLOAD)
    screenshot(page, "panel-notebook7")
