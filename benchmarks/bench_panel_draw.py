"""How long the panel's map takes to draw in a real browser, and how smoothly it pans.

    python benchmarks/bench_panel_draw.py [--quick] [--repeats N] [--sizes 2000,20000]

Starts its own JupyterLab (the ``tests/browser`` harness), opens a generated notebook in
Debian's chromium (headless, software WebGL) and drives
`evolviz.panel.scatter_map.ScatterMap` there:
the notebook shows the map (one jupyter-scatter plot) as the panel does, and a tiny
anywidget "probe" through which the page asks the kernel to act. The map is a stub
(`evolviz.testing.stub_map.StubMap`: synthetic blobs, labels and texts; the benchmark is
about drawing, not t-SNE). Per map size and repeat:

- first draw: the kernel stamps t0 (``time.time()``) and calls ``ScatterMap.set_map``;
- redraw after a generation: t0, then ``ScatterMap.add`` of 64 new candidates (a new
  generation each time, as a Step does), which sends every point again.

"Drawn" is the first WebGL ``gl.POINTS`` draw call, after t0, whose count is exactly the
number of points the kernel now holds (the hook in ``tests/browser/webgl.py``), plus two
animation frames. Kernel and browser share the machine's clock, so "ms" is page time
minus t0. Frames per second while panning: at 250K points (or the largest size run), the
mouse drags the map for 3 s; fps = full POINTS draws per second (the page's own
requestAnimationFrame rate is printed beside it as the ceiling).

``--quick`` (CI) does 2K and 20K with 2 repeats and no panning; the full run 2K, 20K,
250K and 1M with 3 repeats. Exit status is non-zero if anything fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser.browser import attach_log, launch_chromium, screenshot  # noqa: E402  (tests/)
from browser.notebook import open_and_run_notebook  # noqa: E402
from browser.server import ARTIFACTS, start_jupyter  # noqa: E402
from browser.webgl import wait_points, watch_points  # noqa: E402
from machine import cpu_model  # noqa: E402  (this script's own folder)

ADD_N = 64  # candidates per redraw
VIEWPORT = {"width": 1500, "height": 1100}
PAN_SECONDS = 3.0

SETUP_CELL = r'''
import time

import anywidget
import jscatter
import numpy as np
from IPython.display import display

from evolviz.maps.population import Placed
from evolviz.panel.scatter_map import ScatterMap
from evolviz.testing.stub_map import StubMap, synthetic_texts

mv = ScatterMap()
rng = np.random.default_rng(1)


class Probe(anywidget.AnyWidget):
    _esm = PROBE_JS


probe = Probe()


def handle(cmd):
    if cmd["cmd"] == "map":
        # A new map each time: the same points again would not even be sent.
        refmap = StubMap(cmd["n"], seed=cmd["seed"])
        mv.population.clear()
        t0 = time.time() * 1000
        mv.set_map(refmap, [f"seed {i}" for i in range(8)], [f"s{i}" for i in range(8)])
    else:
        g = max(mv.population.layers, default=0) + 1
        ids = [f"g{g}-{i}" for i in range(cmd["n"])]
        coords, clusters = mv.population.refmap.place(ids)
        placed = Placed(g, ids, synthetic_texts(rng, len(ids)), coords, clusters,
                        np.zeros((len(ids), 8), np.float32))
        t0 = time.time() * 1000
        mv.add(placed)
    probe.send({"nonce": cmd["nonce"], "t0": t0, "t1": time.time() * 1000,
                "points": int(len(mv.drawn))})


def on_msg(_widget, content, _buffers):
    try:
        handle(content)
    except Exception as e:  # reported to the page, which fails the benchmark
        probe.send({"nonce": content.get("nonce"), "error": repr(e)})


probe.on_msg(on_msg)
print("jupyter-scatter", jscatter.__version__, "anywidget", anywidget.__version__)
'''

DISPLAY_CELL = "display(mv.box, probe)"

PROBE_JS = r"""
function render({ model, el }) {
  el.textContent = "benchmark probe";
  const pending = new Map();
  model.on("msg:custom", (msg) => {
    const p = pending.get(msg.nonce);
    if (!p) return;
    pending.delete(msg.nonce);
    msg.error ? p.reject(new Error("kernel: " + msg.error)) : p.resolve(msg);
  });
  window.__evzBench = {
    run(cmd) {
      return new Promise((resolve, reject) => {
        pending.set(cmd.nonce, { resolve, reject });
        model.send(cmd);
      });
    },
    fps(ms) {  // animation frames the page produces in `ms` (the ceiling for panning)
      return new Promise((resolve) => {
        let n = 0; const t0 = performance.now();
        const tick = () => { n++; performance.now() - t0 < ms ? requestAnimationFrame(tick)
          : resolve(n / ((performance.now() - t0) / 1000)); };
        requestAnimationFrame(tick);
      });
    },
  };
}
export default { render };
"""


def write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Generated by benchmarks/bench_panel_draw.py."),
                nbformat.v4.new_code_cell(f"PROBE_JS = {PROBE_JS!r}"),
                nbformat.v4.new_code_cell(SETUP_CELL), nbformat.v4.new_code_cell(DISPLAY_CELL)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nbformat.write(nb, path)


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(os.cpu_count())


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_cmd(page: Any, cmd: dict[str, Any], timeout_ms: float) -> dict[str, Any]:
    """Ask the kernel to act; wait for the page to draw what it now holds."""
    cmd = {**cmd, "nonce": uuid.uuid4().hex[:10]}
    res = page.evaluate("(cmd) => window.__evzBench.run(cmd)", cmd)
    t_draw = wait_points(page, res["points"], since=res["t0"], timeout_ms=timeout_ms)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                  "requestAnimationFrame(() => r())))")
    res["ms"] = t_draw - res["t0"]
    res["kernel_ms"] = res["t1"] - res["t0"]
    return res


def pan_fps(page: Any, points: int) -> dict[str, float]:
    """Drag the map for PAN_SECONDS; full POINTS draws per second while it moves."""
    canvas = page.locator(".jp-OutputArea-output canvas")
    boxes = [c.bounding_box() or {"width": 0, "height": 0} for c in canvas.all()]
    box = max(boxes, key=lambda b: b["width"] * b["height"])
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    ceiling = page.evaluate("() => window.__evzBench.fps(1000)")
    page.mouse.move(cx, cy)
    page.mouse.down()
    t0 = page.evaluate("() => performance.timeOrigin + performance.now()")
    steps, start = 0, time.monotonic()
    while time.monotonic() - start < PAN_SECONDS:
        steps += 1
        dx = 120 * ((steps // 30) % 2 * 2 - 1)
        page.mouse.move(cx + dx * (steps % 30) / 30, cy + 40 * ((steps % 20) / 20 - 0.5))
    page.mouse.up()
    t1 = page.evaluate("() => performance.timeOrigin + performance.now()")
    draws = page.evaluate("([t0, t1, n]) => (window.__evzPoints || []).filter("
                          "([at, k]) => at >= t0 && at <= t1 && k === n).length",
                          [t0, t1, points])
    return {"fps": draws / ((t1 - t0) / 1000), "raf_fps": ceiling, "moves": steps}


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI: 2K and 20K, 2 repeats")
    ap.add_argument("--repeats", type=int, help="repeats per size (default 3, quick 2)")
    ap.add_argument("--sizes", help="comma-separated map sizes (default 2K,20K,250K,1M)")
    args = ap.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [2000, 20000] if args.quick else [2000, 20000, 250_000, 1_000_000])
    repeats = args.repeats or (2 if args.quick else 3)

    t_start = time.monotonic()
    print(f"machine: nproc {nproc()}, {cpu_model()}, Python {platform.python_version()}, "
          f"load average {load()} (at start)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="evolviz-bench-draw-"))
    nb_path = work / "bench_panel_draw.ipynb"
    write_notebook(nb_path)
    server = None
    rows, pan = [], None
    try:
        from playwright.sync_api import sync_playwright

        server = start_jupyter(work, ARTIFACTS / "bench-panel-draw-server.log")
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                print(f"chromium {browser.version}, headless, software WebGL (SwiftShader)",
                      flush=True)
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(120_000)
                page = context.new_page()
                watch_points(page)
                log = attach_log(page)
                run = open_and_run_notebook(page, server, nb_path, timeout=300)
                run.assert_clean()
                page.wait_for_function("() => window.__evzBench", timeout=60_000)
                # The map's output in view: JupyterLab may not attach off-screen outputs.
                page.get_by_text("benchmark probe", exact=True).scroll_into_view_if_needed()
                run_cmd(page, {"cmd": "map", "n": 2000, "seed": 99}, 60_000)  # warm-up
                for n in sizes:
                    timeout = 60_000 + n / 1000 * 300
                    firsts, adds = [], []
                    for r in range(repeats):
                        m = run_cmd(page, {"cmd": "map", "n": n, "seed": r}, timeout)
                        firsts.append(m)
                        a = run_cmd(page, {"cmd": "add", "n": ADD_N}, timeout)
                        adds.append(a)
                        print(f"  {n:>9,} points, repeat {r + 1}/{repeats}: first draw "
                              f"{m['ms']:,.0f} ms (kernel {m['kernel_ms']:,.0f}), redraw "
                              f"after +{ADD_N} {a['ms']:,.0f} ms (kernel {a['kernel_ms']:,.0f})"
                              f"; drawn {a['points']:,}", flush=True)
                    rows.append({"n": n, "first": firsts, "adds": adds})
                    if not args.quick and (n == 250_000 or (pan is None and n == sizes[-1])):
                        pan = {"n": a["points"], **pan_fps(page, a["points"])}
                        print(f"  panning at {pan['n']:,} points: {pan['fps']:.1f} fps "
                              f"(page frame rate {pan['raf_fps']:.0f})", flush=True)
                        if n == 250_000:
                            screenshot(page, "bench-panel-draw-250k")
                problems = list(log.page_errors) + server.log_errors()
                if problems:
                    raise RuntimeError("errors during the benchmark:\n" + "\n".join(problems))
            finally:
                browser.close()
    except Exception as e:
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"Medians of {repeats} repeats; ms from the kernel's call to the frame with every "
          "point drawn:")
    print()
    print("| map size (points) | points drawn | first draw, ms | of which kernel set_map, ms "
          f"| redraw after a generation (+{ADD_N}), ms | of which kernel add, ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['adds'][-1]['points']:,} "
              f"| **{med([x['ms'] for x in r['first']]):,.0f}** "
              f"| {med([x['kernel_ms'] for x in r['first']]):,.0f} "
              f"| **{med([x['ms'] for x in r['adds']]):,.0f}** "
              f"| {med([x['kernel_ms'] for x in r['adds']]):,.0f} |")
    if pan is not None:
        print()
        print(f"Panning at {pan['n']:,} points: **{pan['fps']:.1f} fps** (full redraws per "
              f"second while dragging for {PAN_SECONDS:.0f} s; the page's own frame rate "
              f"{pan['raf_fps']:.0f} fps).")
    print()
    print(json.dumps({"rows": [{"n": r["n"], "first_ms": med([x["ms"] for x in r["first"]]),
                                "redraw_ms": med([x["ms"] for x in r["adds"]])} for r in rows],
                      "pan": pan}))
    print(f"load average {load()} (at end); total {time.monotonic() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
