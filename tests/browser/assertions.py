"""The browser harness's checks of what a page shows: coloured pixels of an element as
actually composited on screen (any WebGL canvas, whatever its preserveDrawingBuffer), and
untrusted text shown literally with none of its markup run."""

from __future__ import annotations

import base64
from typing import Any

_JS_COUNT_PIXELS = """async ([b64, minSat, target, tol]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let coloured = 0, nonWhite = 0, matching = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (max - min >= minSat) coloured++;
    if (min < 245) nonWhite++;
    if (target && Math.abs(r - target[0]) <= tol && Math.abs(g - target[1]) <= tol
        && Math.abs(b - target[2]) <= tol) matching++;
  }
  return {width: c.width, height: c.height, coloured, nonWhite, matching};
}"""


# plotly's first default trace colour, #636efa.
PLOTLY_BLUE = (0x63, 0x6E, 0xFA)


def painted_pixels(
    page: Any,
    locator: Any,
    *,
    color: tuple[int, int, int] | None = None,
    tolerance: int = 24,
    min_saturation: int = 60,
) -> dict[str, int]:
    """Count pixels of `locator`'s on-screen box, as composited on screen.

    Returns `{"width", "height", "coloured", "nonWhite", "matching"}`: "coloured" pixels
    have max(r,g,b) - min(r,g,b) >= min_saturation (grey axes, grid and text do not
    count); "matching" ones are within `tolerance` per channel of `color` (e.g.
    `PLOTLY_BLUE` for a default-coloured trace). Works from a real screenshot, so it
    sees what a WebGL canvas drew whatever its preserveDrawingBuffer; decoding happens
    in the page, so no image library is needed.
    """
    png = locator.screenshot()
    return page.evaluate(
        _JS_COUNT_PIXELS,
        [base64.b64encode(png).decode(), min_saturation, list(color) if color else None, tolerance],
    )


def assert_text_not_injected(page: Any, locator: Any, text: str, flag: str = "__pwned") -> None:
    """Untrusted `text` shows literally inside `locator` and none of its markup ran.

    Render a string like `<img src=x onerror="window.__pwned=1">` in the widget, then
    call this. It checks, most telling failure first: `window[flag]` is unset (no handler
    ran), no <img>/<script>/<iframe>/<svg>/<object> element was created inside the
    element, its textContent contains the string verbatim, and it is visible.
    """
    locator.wait_for(state="attached")
    page.wait_for_timeout(200)  # give an onerror handler its chance to fire
    pwned = page.evaluate("(flag) => typeof window[flag]", flag)
    assert pwned == "undefined", f"untrusted markup executed: window.{flag} is set"
    injected = locator.evaluate(
        "e => [...e.querySelectorAll('img, script, iframe, svg, object')].map(x => x.outerHTML)"
    )
    assert not injected, f"element(s) created from untrusted text: {injected}"
    shown = locator.text_content() or ""
    assert text in shown, f"untrusted text not shown literally: {shown!r}"
    assert locator.is_visible(), "the element holding the untrusted text is not visible"
