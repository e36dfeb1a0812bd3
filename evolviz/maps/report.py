"""The whole map pipeline of a stored run, end to end: fit the map, place the run, write
one offline HTML page (and a PNG when kaleido can render one), and the metrics table.

`write_map` returns what it made and raises on unusable input; `evolviz map` prints it.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..embeddings.encoder import Encoder
from ..errors import InputError
from .figures import paper_figure
from .frame import metrics_by_generation, run_map, seed_text
from .refmap import ReferenceMap

__all__ = ["MapPage", "write_map"]


@dataclass
class MapPage:
    """What `write_map` made: the page, the PNG (None: kaleido could not render one), the
    metrics table, and notes a reader should see (what was loaded, what was skipped)."""

    html: Path
    png: Path | None
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def write_map(store_path: str | Path, reference: str | None, out: str | Path, *,
              sample: int = 1000, k: int = 20, seed: int = 0, progress: bool = False,
              note: Callable[[str], None] | None = None) -> MapPage:
    """The figure and metrics of a stored run against the reference sets, as HTML.

    Without any reference the run is drawn on a map of its own seeds, and the page says so.
    Raises `InputError` (a `StoreError` for the store) when there is nothing to map.
    `note` hears each note as it happens (reference loading takes a while).
    """
    from ..store import RunStore
    from .references import find_references

    notes: list[str] = []

    def say(message: str) -> None:
        notes.append(message)
        if note is not None:
            note(message)

    if not Path(store_path).exists():
        raise InputError(f"{store_path}: no such run store")
    store = RunStore(store_path, create=False, readonly=True)
    try:
        found: list[str] = []
        refs = find_references(reference, sample=sample, seed=seed, notes=found)
        for n in found:
            say(n)
        if reference and not refs:
            raise InputError(f"{reference}: no reference set could be loaded",
                             field="reference")
        seeds = [seed_text(r["instruction"], r["input"] or "") for r in store.seed_rows()]
        try:
            refmap = ReferenceMap.fit(refs, Encoder(), seeds=seeds, k=k, seed=seed,
                                      progress=progress)
        except ValueError as exc:
            raise InputError(f"{store_path}: nothing to map: {exc}") from None
        df = run_map(store, refmap, progress=progress)
        table = metrics_by_generation(df, refmap)
    finally:
        store.close()
    title = f"evolviz map of {Path(store_path).name}"
    fig = paper_figure(df, title=title)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page(fig, table, title, notes, refmap), encoding="utf-8")
    png: Path | None = None
    if _has_kaleido():
        png = out_path.with_suffix(".png")
        # kaleido drives a Chrome-family browser; Debian's chromium serves where no Chrome is.
        if not os.environ.get("BROWSER_PATH") and Path("/usr/bin/chromium").exists():
            os.environ["BROWSER_PATH"] = "/usr/bin/chromium"
        try:
            fig.write_image(str(png), width=1500, height=1050)
        except Exception as e:  # a missing browser must not cost the HTML figure
            say(f"no PNG: kaleido could not render ({type(e).__name__}: {e})")
            png = None
    else:
        say("no PNG: install kaleido to get one beside the HTML")
    return MapPage(out_path, png, table, notes)


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
