"""`evolviz map`'s work: fit the map of a stored run, write it as one offline HTML page
(and a PNG when kaleido can render one), print the metrics table.

`evolviz.cli.cmd_map` calls `map_main`; it is kept apart from the CLI module because it
is the whole map pipeline end to end, and tests drive it without argparse.
"""

from __future__ import annotations

import html
import math
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ..embeddings.encoder import Encoder
from .figures import paper_figure
from .frame import metrics_by_generation, run_map, seed_text
from .refmap import ReferenceMap

__all__ = ["map_main"]


def map_main(store_path: str, reference: str | None, out: str, sample: int = 1000,
             k: int = 20, seed: int = 0) -> int:
    """``evolviz map RUN.db --reference DIR -o FILE.html``: figure and metrics to HTML.

    Writes a PNG beside the HTML when kaleido is installed. Without any reference the
    run is drawn on a map of its own seeds, and the page says so. Returns an exit code:
    0 written, 2 unusable input.
    """
    from ..errors import StoreError
    from ..store import RunStore
    from .references import find_references

    def say(msg: str) -> None:
        print(f"evolviz map: {msg}", file=sys.stderr)

    try:
        store = RunStore(store_path, create=False, readonly=True)
    except StoreError as exc:
        say(str(exc))
        return 2
    notes: list[str] = []
    try:
        refs = find_references(reference, sample=sample, seed=seed, notes=notes)
        for n in notes:
            say(n)
        if reference and not refs:
            return 2
        seeds = [seed_text(r["instruction"], r["input"] or "") for r in store.seed_rows()]
        encoder = Encoder()
        try:
            refmap = ReferenceMap.fit(refs, encoder, seeds=seeds, k=k, seed=seed,
                                      progress=True)
        except ValueError as exc:
            say(f"nothing to map: {exc}")
            return 2
        df = run_map(store, refmap, progress=True)
        table = metrics_by_generation(df, refmap)
    finally:
        store.close()
    title = f"evolviz map of {Path(store_path).name}"
    fig = paper_figure(df, title=title)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page(fig, table, title, notes, refmap), encoding="utf-8")
    say(f"wrote {out_path}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if _has_kaleido():
        png = out_path.with_suffix(".png")
        # kaleido drives a Chrome-family browser; Debian's chromium serves where no Chrome is.
        if not os.environ.get("BROWSER_PATH") and Path("/usr/bin/chromium").exists():
            os.environ["BROWSER_PATH"] = "/usr/bin/chromium"
        try:
            fig.write_image(str(png), width=1500, height=1050)
            say(f"wrote {png}")
        except Exception as e:  # a missing browser must not cost the HTML figure
            say(f"no PNG: kaleido could not render ({type(e).__name__}: {e})")
    else:
        say("no PNG: install kaleido to get one beside the HTML")
    return 0


def _has_kaleido() -> bool:
    import importlib.util

    return importlib.util.find_spec("kaleido") is not None


def _page(fig: Any, table: pd.DataFrame, title: str, notes: list[str],
          refmap: ReferenceMap) -> str:
    """A self-contained page (plotly.js inlined): it must open offline, like the machines
    it is made on."""
    import plotly.io as pio

    if not refmap.reference_names:
        notes = [*notes, "No reference is loaded: the map is fitted on the run's seeds."]
    body = pio.to_html(fig, full_html=False, include_plotlyjs=True)
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    fmt = {c: (lambda v: "" if isinstance(v, float) and math.isnan(v) else f"{v:.3f}")
           for c in table.columns if table[c].dtype.kind == "f"}
    table_html = table.to_html(index=False, escape=True, formatters=fmt, border=0)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right}} th{{border-bottom:1px solid #888}}</style>
</head><body><h2>{html.escape(title)}</h2><ul>{notes_html}</ul>{body}
<h3>Diversity by source</h3>{table_html}
<p>coverage: share of the {refmap.k} k-means clusters reached; entropy_norm: evenness over
them (0..1); novelty: mean cosine distance to the 5 nearest reference texts; vendi_score:
effective number of distinct texts. Counts grow with n: compare sources of similar size.</p>
</body></html>
"""
