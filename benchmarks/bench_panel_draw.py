"""How long the panel's map takes to draw new points in a real browser (issue 7).

    python benchmarks/bench_panel_draw.py [--quick] [--repeats N] [--sizes 2000,20000]

Starts its own JupyterLab (``tests/browser/harness.py``), opens a generated notebook in
Debian's chromium (headless, software WebGL) and drives `evolviz.mapview.MapView` there:
the notebook shows the two map figures (plotly ``FigureWidget``s, Scattergl) exactly as
the panel does, and a tiny anywidget "probe" through which the page asks the kernel to
act. Per map size (reference points of a stub map with synthetic coordinates, labels and
texts: the benchmark is about drawing, not t-SNE) and per repeat:

- initial draw: the kernel stamps t0 (``time.time()``), sends it to the page over the
  probe's comm, then calls ``MapView.set_map``;
- update: the same with ``MapView.add(Placed(...))`` of 64 new candidates, three times
  (the first creates the generation's traces, the next two grow them).

In the page, the probe listens to ``plotly_afterplot`` (and restyle/update) on both map
figures and checks that they hold exactly what the kernel sent (trace names, lengths and
the last candidate id); then it forces the WebGL contexts to finish (a 1-pixel
``readPixels``) and waits two animation frames, so the frame with the points has been
produced. Kernel and browser share the machine's wall clock, so "ms" is page time minus
t0. Medians are printed as one markdown table; ``--quick`` (CI) does 2K and 20K with 2
repeats, the full run 2K/20K/100K with 5 repeats plus adds into a 250K-candidate
generation, and saves test-artifacts/bench-panel-draw-100k.png.

Exit status is non-zero if anything fails (server, notebook, a draw that never shows up,
errors in the page or the kernel).
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

from browser import harness  # noqa: E402  (the repo's tests dir, added just above)
from machine import cpu_model  # noqa: E402  (this script's own folder)

ADD_N = 64  # candidates per update, as the panel places them
ADDS_PER_REPEAT = 3
BIG_GEN = 250_000  # the "large run" row: adds into a generation already this big
VIEWPORT = {"width": 1500, "height": 1100}
DRAW_TIMEOUT_MS = 180_000

# --------------------------------------------------------------------------- notebook

SETUP_CELL = r'''
import time

import anywidget
import ipywidgets as ipw
import numpy as np
import plotly
from IPython.display import display

from evolviz.mapview import MapView, Placed

WORDS = ("write explain compare list describe summarise the a of to and for with story poem "
         "function python recipe history reason why how what data model user list table "
         "translate into French short long step by step example code review bug fix plan "
         "essay letter email tweet climate science music city travel health money").split()


class StubMap:
    """Just what MapView reads from a ReferenceMap: synthetic, no embedding, no t-SNE."""

    def __init__(self, n, k=20, seed=0):
        rng = np.random.default_rng(seed)
        self.k = k
        self.centres = rng.normal(scale=30, size=(k, 2))
        self.reference_clusters = rng.integers(0, k, n).astype(np.int32)
        self.reference_coords = (self.centres[self.reference_clusters]
                                 + rng.normal(scale=4, size=(n, 2))).astype(np.float32)
        self.reference_labels = np.where(rng.random(n) < 0.5, "alpaca", "sharegpt")
        self.reference_texts = synthetic_texts(rng, n)
        self.cluster_labels = [f"topic {c}" for c in range(k)]
        self.rng = rng

    def place(self, texts):
        c = self.rng.integers(0, self.k, len(texts)).astype(np.int32)
        xy = self.centres[c] + self.rng.normal(scale=4, size=(len(texts), 2))
        return xy.astype(np.float32), c


def synthetic_texts(rng, n, words=24):
    picks = np.asarray(WORDS)[rng.integers(0, len(WORDS), (n, words))]
    return [" ".join(row) for row in picks.tolist()]


mv = MapView()
maps = {}
rng = np.random.default_rng(1)


def placed(refmap, generation, ids):
    coords, clusters = refmap.place(ids)
    return Placed(generation, list(ids), synthetic_texts(rng, len(ids)), coords, clusters,
                  np.zeros((len(ids), 8), np.float32))


def fig_specs(fig):
    return [{"name": t.name, "len": len(t.x),
             "last": str(t.customdata[-1]) if t.customdata is not None and len(t.customdata)
             else None}
            for t in fig.data]


class Probe(anywidget.AnyWidget):
    _esm = PROBE_JS


probe = Probe()


def handle(cmd):
    nonce = cmd["nonce"]
    if cmd["cmd"] == "map":
        n = cmd["n"]
        refmap = maps.get(n) or maps.setdefault(n, StubMap(n))
        refmap.cluster_labels = [f"topic {c} {nonce}" for c in range(refmap.k)]
        seeds = [f"seed {i} {nonce}" for i in range(8)]
        seed_ids = [f"s{i}-{nonce}" for i in range(8)]
        mv.layers.clear()
        probe.send({"kind": "start", "nonce": nonce, "t0": time.time() * 1000})
        mv.set_map(refmap, seeds, seed_ids)
    elif cmd["cmd"] == "add":
        refmap, g = mv.refmap, cmd["generation"]
        p = placed(refmap, g, [f"c{i}-{nonce}" for i in range(cmd["n"])])
        probe.send({"kind": "start", "nonce": nonce, "t0": time.time() * 1000})
        mv.add(p)
    elif cmd["cmd"] == "fill":  # a big generation, not timed
        refmap, g = mv.refmap, cmd["generation"]
        mv.add(placed(refmap, g, [f"f{i}-{nonce}" for i in range(cmd["n"])]))
        probe.send({"kind": "start", "nonce": nonce, "t0": time.time() * 1000})
    else:
        raise ValueError(cmd)
    t1 = time.time() * 1000
    # What the page must show, from the figures' own state: every trace's name and
    # length, and for traces with ids the last one (the newest candidate: sampling keeps
    # the last index), so a stale picture never counts as drawn.
    probe.send({"kind": "end", "nonce": nonce, "t1": t1,
                "expect": {"source": fig_specs(mv.source_fig),
                           "cluster": fig_specs(mv.cluster_fig)},
                "gen_points": sum(len(layer.ids) for layer in mv.layers.values())})


def on_msg(_widget, content, _buffers):
    try:
        handle(content)
    except Exception as e:  # reported to the page, which fails the benchmark
        probe.send({"kind": "error", "nonce": content.get("nonce"), "error": repr(e)})


probe.on_msg(on_msg)
print("plotly", plotly.__version__, "anywidget", anywidget.__version__)
'''

DISPLAY_CELL = """
display(ipw.HBox([mv.source_fig, mv.cluster_fig]), probe)
"""

# The probe's front end. `window.__evzBench.run(cmd)` sends a command to the kernel and
# resolves with page timestamps once both map figures show what the kernel sent.
PROBE_JS = r"""
const EVENTS = ["plotly_afterplot", "plotly_restyle", "plotly_update", "plotly_redraw"];
const TITLES = {source: "population on the reference map", cluster: "k-means topics"};
const now = () => performance.timeOrigin + performance.now();
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));

function graph(key) {
  return [...document.querySelectorAll(".js-plotly-plot")].find(
    (gd) => String(gd.layout?.title?.text ?? "").startsWith(TITLES[key]));
}

function sig(gd) {  // what a figure shows: each trace's name, length and last id
  return JSON.stringify((gd?.data || []).map((t) => {
    const n = t.x ? t.x.length : 0;
    return [String(t.name), n, t.customdata && n ? String(t.customdata[n - 1]) : null];
  }));
}

const want = (specs) => JSON.stringify(specs.map((s) => [s.name, s.len, s.last]));

function glFinish(gd) {  // block until the GPU (SwiftShader here) has drawn
  let n = 0;
  for (const d of gd?._fullLayout?._glcanvas?.data() || []) {
    const gl = d.regl && d.regl._gl;
    if (gl) { gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)); n++; }
  }
  return n;
}

function render({ model, el }) {
  el.textContent = "benchmark probe";
  el.dataset.testid = "bench-probe";
  const pending = new Map();

  function watch(st) {
    // From the kernel's "start" (t0) on, note what each figure shows after every finished
    // plotly call (and, as a fallback, at every animation frame). Once the kernel's "end"
    // says what it sent, the first event showing exactly that is the draw.
    st.figs = {};
    for (const key of Object.keys(TITLES)) {
      const gd = graph(key);
      const f = (st.figs[key] = { gd, seen: [], polled: [], lastSig: null, handlers: [] });
      if (!gd) continue;
      f.handlers = EVENTS.map((name) => [name, () => {
        f.seen.push({ t: now(), sig: sig(gd), how: name });
        check(st);
      }]);
      for (const [name, h] of f.handlers) gd.on(name, h);
    }
    const poll = () => {
      if (st.finished) return;
      for (const f of Object.values(st.figs)) {
        const s = sig(f.gd);
        if (s !== f.lastSig) { f.lastSig = s; f.polled.push({ t: now(), sig: s }); }
      }
      check(st);
      if (!st.finished) requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  }

  async function check(st) {
    if (st.finished || !st.expect) return;
    const figs = Object.entries(st.figs).map(([key, f]) => {
      const target = want(st.expect[key]);
      const ev = f.seen.find((x) => x.sig === target);
      const poll = f.polled.find((x) => x.sig === target);
      return { f, ev, poll };
    });
    const byEvent = figs.every((x) => x.ev);
    const byPoll = figs.every((x) => x.ev || x.poll)
      && now() - Math.max(...figs.map((x) => (x.poll ? x.poll.t : 0))) > 1000;
    if (!byEvent && !byPoll) return;
    st.finished = true;
    const tDone = Math.max(...figs.map((x) => (x.ev || x.poll).t));
    const tPoll = Math.max(...figs.map((x) => (x.poll ? x.poll.t : NaN)));
    const synced = figs.reduce((n, x) => n + glFinish(x.f.gd), 0);
    const tGl = now();
    await frame();
    await frame();
    const tFrame = now();
    for (const { f } of figs) for (const [name, h] of f.handlers) f.gd.removeListener(name, h);
    clearTimeout(st.timer);
    pending.delete(st.nonce);
    const keys = Object.keys(st.figs);
    st.resolve({
      t0: st.t0, t1: st.t1, tStartArrived: st.tStartArrived, tEndArrived: st.tEndArrived,
      tDone, tPoll, tGl, tFrame, synced, genPoints: st.genPoints,
      how: Object.fromEntries(figs.map((x, i) => [keys[i], x.ev ? x.ev.how : "poll"])),
      drawn: Object.fromEntries(figs.map((x, i) => [keys[i],
        (x.f.gd.data || []).reduce((n, t) => n + (t.x ? t.x.length : 0), 0)])),
    });
  }

  model.on("msg:custom", (msg) => {
    const st = pending.get(msg.nonce);
    if (!st) return;
    if (msg.kind === "error") {
      pending.delete(msg.nonce);
      clearTimeout(st.timer);
      st.reject(new Error("kernel: " + msg.error));
    } else if (msg.kind === "start") {
      st.t0 = msg.t0; st.tStartArrived = now();
      if (!st.figs) watch(st);
    } else if (msg.kind === "end") {
      st.t1 = msg.t1; st.tEndArrived = now(); st.expect = msg.expect;
      st.genPoints = msg.gen_points;
      if (!st.figs) watch(st);
      check(st);
    }
  });

  window.__evzBench = {
    run(cmd) {
      return new Promise((resolve, reject) => {
        const st = { nonce: cmd.nonce, resolve, reject, finished: false };
        st.timer = setTimeout(() => {
          pending.delete(cmd.nonce);
          const state = Object.fromEntries(Object.keys(TITLES).map((k) => [k,
            (graph(k)?.data || []).map((t) => [t.name, t.x ? t.x.length : 0])]));
          reject(new Error(`no draw within ${cmd.timeout_ms} ms: ${JSON.stringify(state)}`));
        }, cmd.timeout_ms);
        pending.set(cmd.nonce, st);
        model.send(cmd);
      });
    },
  };
}
export default { render };
"""


def write_notebook(path: Path) -> None:
    def code(src: str) -> dict[str, Any]:
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": src.strip("\n").splitlines(keepends=True)}

    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {},
             "source": ["Generated by benchmarks/bench_panel_draw.py; deleted after the run."]},
            code(f"PROBE_JS = {PROBE_JS!r}"),
            code(SETUP_CELL),
            code(DISPLAY_CELL),
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


# --------------------------------------------------------------------------- machine


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


# --------------------------------------------------------------------------- driving


class BenchError(RuntimeError):
    pass


def run_cmd(page: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    cmd = {**cmd, "nonce": uuid.uuid4().hex[:10], "timeout_ms": DRAW_TIMEOUT_MS}
    res = page.evaluate("(cmd) => window.__evzBench.run(cmd)", cmd)
    res["ms"] = res["tFrame"] - res["t0"]  # t0 in the kernel -> frame with the points
    res["after_ms"] = res["tDone"] - res["t0"]  # -> plotly finished the update
    res["kernel_ms"] = res["t1"] - res["t0"]  # set_map()/add() itself, in the kernel
    return res


def settle(page: Any, seconds: float = 0.4) -> None:
    """Let the page answer the kernel (plotly's trace deltas) and collect garbage."""
    page.wait_for_timeout(int(seconds * 1000))


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def bench_size(page: Any, n: int, repeats: int, log: harness.BrowserLog) -> dict[str, Any]:
    maps, adds, first_adds, drawn = [], [], [], {}
    for r in range(repeats):
        m = run_cmd(page, {"cmd": "map", "n": n})
        maps.append(m)
        drawn = m["drawn"]
        settle(page)
        for a in range(ADDS_PER_REPEAT):
            res = run_cmd(page, {"cmd": "add", "n": ADD_N, "generation": 1})
            (first_adds if a == 0 else adds).append(res)
            settle(page)
        if log.page_errors:
            raise BenchError("page errors: " + "\n".join(log.page_errors))
        last = (adds or first_adds)[-1]
        print(f"  {n:>7,} refs, repeat {r + 1}/{repeats}: set_map {m['ms']:.0f} ms "
              f"(kernel {m['kernel_ms']:.0f}), adds "
              + ", ".join(f"{x['ms']:.0f}" for x in [first_adds[-1], *adds[-2:]])
              + f" ms; drawn {last['drawn']}; how {last['how']}", flush=True)
    return {"n": n, "maps": maps, "first_adds": first_adds, "adds": adds, "drawn": drawn}


def bench_big_generation(page: Any, n: int, repeats: int) -> dict[str, Any]:
    """Adds of 64 into a generation that already holds BIG_GEN candidates (drawn: 20K)."""
    run_cmd(page, {"cmd": "map", "n": n})
    settle(page)
    run_cmd(page, {"cmd": "fill", "n": BIG_GEN, "generation": 1})
    settle(page, 1.0)
    adds = []
    for r in range(repeats):
        res = run_cmd(page, {"cmd": "add", "n": ADD_N, "generation": 1})
        adds.append(res)
        settle(page)
        print(f"  {n:>7,} refs + generation of {res['genPoints']:,}: add {res['ms']:.0f} ms "
              f"(kernel {res['kernel_ms']:.0f}); drawn {res['drawn']}; repeat {r + 1}",
              flush=True)
    return {"n": n, "adds": adds, "drawn": adds[-1]["drawn"]}


def table(results: list[dict[str, Any]], big: dict[str, Any] | None) -> str:
    base = results[0]
    base_add = med([x["ms"] for x in base["first_adds"] + base["adds"]])
    base_map = med([x["ms"] for x in base["maps"]])
    lines = [
        "| map size (points) | drawn after set_map (source + cluster figure) | set_map → drawn, "
        "ms | ratio | points added per update | add() → drawn, ms (new trace / growing) "
        "| of which kernel add(), ms | points sent per update (2 figures) | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        all_adds = res["first_adds"] + res["adds"]
        add_ms = med([x["ms"] for x in all_adds])
        map_ms = med([x["ms"] for x in res["maps"]])
        d = res["drawn"]
        sent = f"{2 * ADD_N}–{2 * ADD_N * ADDS_PER_REPEAT}"
        lines.append(
            f"| {res['n']:,} | {d['source']:,} + {d['cluster']:,} | {map_ms:,.0f} "
            f"| {map_ms / base_map:.1f}× | {ADD_N} | **{add_ms:,.0f}** "
            f"({med([x['ms'] for x in res['first_adds']]):,.0f} / "
            f"{med([x['ms'] for x in res['adds']]):,.0f}) "
            f"| {med([x['kernel_ms'] for x in all_adds]):,.0f} | {sent} "
            f"| {add_ms / base_add:.1f}× |")
    if big is not None:
        add_ms = med([x["ms"] for x in big["adds"]])
        d = big["drawn"]
        lines.append(
            f"| {big['n']:,} + a generation of {BIG_GEN:,} | {d['source']:,} + "
            f"{d['cluster']:,} | – | – | {ADD_N} | **{add_ms:,.0f}** "
            f"| {med([x['kernel_ms'] for x in big['adds']]):,.0f} | 2 × 20,000 "
            f"| {add_ms / base_add:.1f}× |")
    return "\n".join(lines)


def breakdown(results: list[dict[str, Any]], big: dict[str, Any] | None) -> str:
    """Where the time goes, medians in ms after t0 (the kernel's call)."""
    lines = [
        "| map size | call | kernel call returns | kernel's end marker in the page "
        "| plotly done (afterplot) | + WebGL finish | + 2 frames = drawn |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, call: str, xs: list[dict[str, Any]]) -> None:
        def m(key: str) -> str:
            return f"{med([x[key] for x in xs]):,.0f}"

        for x in xs:
            x["end_in_page"] = x["tEndArrived"] - x["t0"]
            x["gl_ms"] = x["tGl"] - x["tDone"]
            x["frames_ms"] = x["tFrame"] - x["tGl"]
        lines.append(f"| {label} | {call} | {m('kernel_ms')} | {m('end_in_page')} "
                     f"| {m('after_ms')} | {m('gl_ms')} | {m('frames_ms')} → {m('ms')} |")

    for res in results:
        row(f"{res['n']:,}", "set_map", res["maps"])
        row(f"{res['n']:,}", f"add({ADD_N})", res["first_adds"] + res["adds"])
    if big is not None:
        row(f"{big['n']:,} + gen of {BIG_GEN:,}", f"add({ADD_N})", big["adds"])
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI: 2K and 20K, 2 repeats")
    ap.add_argument("--repeats", type=int, help="repeats per size (default 5, quick 2)")
    ap.add_argument("--sizes", help="comma-separated map sizes (default 2000,20000,100000)")
    args = ap.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [2000, 20000] if args.quick else [2000, 20000, 100000])
    repeats = args.repeats or (2 if args.quick else 5)

    t_start = time.monotonic()
    print(f"machine: nproc {nproc()}, {cpu_model()}, Python {platform.python_version()}, "
          f"load average {load()} (at start)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="evolviz-bench-draw-"))
    nb_path = work / "bench_panel_draw.ipynb"
    write_notebook(nb_path)
    server = None
    try:
        from playwright.sync_api import sync_playwright

        server = harness.start_jupyter(work, harness.ARTIFACTS / "bench-panel-draw-server.log")
        with sync_playwright() as pw:
            browser = harness.launch_chromium(pw)
            try:
                print(f"chromium {browser.version} ({harness.CHROMIUM}), headless, software "
                      "WebGL (SwiftShader)", flush=True)
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(60_000)
                page = context.new_page()
                log = harness.attach_log(page)
                run = harness.open_and_run_notebook(page, server, nb_path, timeout=300)
                run.assert_clean()
                page.wait_for_function(
                    "() => window.__evzBench && document.querySelectorAll("
                    "'.js-plotly-plot').length >= 2", timeout=60_000)
                print(f"notebook ready in {run.seconds:.0f}s; warming up", flush=True)
                run_cmd(page, {"cmd": "map", "n": 2000})
                run_cmd(page, {"cmd": "add", "n": ADD_N, "generation": 1})
                settle(page)
                results = []
                for n in sizes:
                    results.append(bench_size(page, n, repeats, log))
                    if n == 100_000:
                        maps_out = page.locator(".jp-OutputArea-output").filter(
                            has=page.locator(".js-plotly-plot")).first
                        maps_out.scroll_into_view_if_needed()
                        settle(page)
                        shot = harness.screenshot(page, "bench-panel-draw-100k", locator=maps_out)
                        print(f"  screenshot {shot.relative_to(ROOT)}", flush=True)
                big = None
                if not args.quick and not args.sizes:
                    big = bench_big_generation(page, sizes[-1], repeats)
                problems = list(log.page_errors)
                problems += server.log_errors()
                if problems:
                    raise BenchError("errors during the benchmark:\n" + "\n".join(problems))
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
    print(f"Medians of {repeats} repeats ({ADDS_PER_REPEAT} adds of {ADD_N} per repeat); "
          "ms from the kernel's call to the frame with the points drawn:")
    print()
    print(table(results, big))
    print()
    print("Where the time goes (medians, ms after the kernel's call):")
    print()
    print(breakdown(results, big))
    print()
    print(f"load average {load()} (at end); total {time.monotonic() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
