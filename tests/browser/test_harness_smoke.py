"""Smoke test of the browser harness on tests/browser/smoke.ipynb.

Proves, in a real JupyterLab in a real chromium: restart-and-run-all, an inline anywidget
whose button updates synced state, a plotly FigureWidget whose 5,000-point Scattergl trace
is actually drawn (WebGL in software), untrusted text shown as text and never run, and
no page errors.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import expect

from .assertions import PLOTLY_BLUE, assert_text_not_injected, painted_pixels
from .browser import screenshot
from .notebook import open_and_run_notebook

SMOKE_NB = Path(__file__).with_name("smoke.ipynb")
UNTRUSTED = '<img src=x onerror="window.__pwned=1">'


def test_smoke_notebook(page, jupyter_server):
    t0 = time.monotonic()
    run = open_and_run_notebook(page, jupyter_server, SMOKE_NB, timeout=120)
    run.assert_clean()
    assert run.prompts == ["[1]:", "[2]:", "[3]:"], run.prompts

    # The kernel is this venv's python, not some other interpreter on PATH.
    out = page.locator(".jp-OutputArea-output", has_text="kernel prefix:").first.inner_text()
    kernel_prefix = out.split("kernel prefix:", 1)[1].strip()
    assert Path(kernel_prefix) == Path(sys.prefix), (kernel_prefix, sys.prefix)

    # anywidget: two clicks -> count 2 shown, and synced: Python saw it and answered.
    button = page.get_by_test_id("smoke-button")
    count = page.get_by_test_id("smoke-count")
    echo = page.get_by_test_id("smoke-echo")
    count.wait_for(state="visible")
    assert count.inner_text() == "count: 0"
    button.click()
    button.click()
    expect(count).to_have_text("count: 2", timeout=10_000)
    expect(echo).to_have_text("| python saw 2", timeout=10_000)

    # Untrusted text: shown literally, never parsed as HTML, its onerror never ran.
    assert_text_not_injected(page, page.get_by_test_id("smoke-label"), UNTRUSTED)

    # plotly Scattergl: the WebGL canvas exists and has markers painted on it.
    canvas = page.locator(".js-plotly-plot canvas.gl-canvas-context").first
    canvas.wait_for(state="attached", timeout=30_000)
    canvas.scroll_into_view_if_needed()
    has_webgl = canvas.evaluate("c => !!(c.getContext('webgl2') || c.getContext('webgl'))")
    assert has_webgl, "plotly's gl canvas has no WebGL context"
    assert not page.get_by_text("WebGL is not supported").count(), "plotly found no WebGL"
    pixels = painted_pixels(page, canvas, color=PLOTLY_BLUE)
    # 5,000 size-4 markers give ~23,500 pixels near plotly blue in the 700x450 plot (seen
    # here). Without WebGL, plotly's "not supported" text gives ~4,600 coloured pixels,
    # none of them near this blue.
    assert pixels["matching"] > 10_000, pixels

    screenshot(page, "smoke-notebook")
    # Nothing went wrong while we clicked around either.
    assert not run.log.page_errors, run.log.page_errors
    elapsed = time.monotonic() - t0
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in run.phases.items())
    print(f"\nsmoke: {phases}; whole test {elapsed:.1f}s; pixels {pixels}; retries {run.retries}")
