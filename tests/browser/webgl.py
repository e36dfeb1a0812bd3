"""What the page's WebGL actually drew: the point counts of jupyter-scatter's draw calls.

jupyter-scatter (regl-scatterplot) draws a map's points as one `gl.POINTS` call whose
count is the number of points shown (after the slider's filter). An init script wraps
`drawArrays`/`drawElements` and notes each POINTS call's count and time, so tests and
benchmarks read the number of points drawn from the page itself, not from Python, and
this survives a page reload (init scripts run on every navigation).
"""

from __future__ import annotations

from typing import Any

POINTS_HOOK = """(() => {
  if (window.__evzPoints) return;
  const log = (window.__evzPoints = []);
  const now = () => performance.timeOrigin + performance.now();
  for (const proto of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    if (!proto) continue;
    const P = proto.prototype;
    for (const name of ["drawArrays", "drawElements"]) {
      const orig = P[name];
      P[name] = function (mode, a, b) {
        if (mode === 0) {  // gl.POINTS
          log.push([now(), name === "drawArrays" ? b : a]);
          if (log.length > 20000) log.splice(0, 10000);
        }
        return orig.apply(this, arguments);
      };
    }
  }
})();"""

_MAX_SINCE = """(t) => (window.__evzPoints || []).filter(([at]) => at >= t)
  .reduce((m, [, n]) => Math.max(m, n), 0)"""


def watch_points(page: Any) -> None:
    """Install the hook for every later navigation of `page`'s context (call before goto)."""
    page.context.add_init_script(POINTS_HOOK)


def page_now(page: Any) -> float:
    return page.evaluate("() => performance.timeOrigin + performance.now()")


def points_drawn(page: Any, since: float = 0) -> int:
    """The largest POINTS draw since `since` (page time, ms): the points a map shows."""
    return int(page.evaluate(_MAX_SINCE, since))


def wait_points(page: Any, n: int, *, since: float = 0, timeout_ms: float = 60_000) -> float:
    """Wait until a POINTS draw of exactly `n` points happens after `since`; its time."""
    try:
        handle = page.wait_for_function(
            "([t, n]) => { const hit = (window.__evzPoints || []).find("
            "([at, k]) => at >= t && k === n); return hit ? hit[0] : null; }",
            arg=[since, n], timeout=timeout_ms)
    except Exception as e:
        seen = page.evaluate("(t) => [...new Set((window.__evzPoints || [])"
                             ".filter(([at]) => at >= t).map(([, k]) => k))]", since)
        raise AssertionError(f"no draw of {n} points; POINTS draws since then: {seen}") from e
    return float(handle.json_value())


# Every plotly chart on the page: its title and per trace the name and number of points,
# read from plotly's own graph divs.
CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
  title: String(gd.layout?.title?.text ?? ''),
  traces: (gd.data || []).map(t => [String(t.name), t.x ? t.x.length : 0]),
  legends: gd.querySelectorAll('.legend').length,
  xTitle: gd.querySelector('.xtitle')?.textContent ?? '',
  yTitle: gd.querySelector('.ytitle')?.textContent ?? '',
}))"""


def charts(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(CHARTS)
