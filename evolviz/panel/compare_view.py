"""The panel's compare view: this run against another stored run, as widget state.

The numbers are `evolviz compare`'s (`compare.compare_stores`), so the panel and the CLI
can never disagree; this module only opens the other store read-only, names the seeds
whose outcome flipped by their text (the CLI prints ids), and reports a bad path as an
error that names it instead of raising into the panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..store import RunStore, RunView
from ..workbench.compare import compare_stores

__all__ = ["comparison"]

#: Flipped seeds shown with their text; the rest are counted.
FLIPPED_SHOWN = 200


def comparison(store: RunStore, other: str | Path,
               prices: tuple[float, float] | None = None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """`compare_stores(store, other)` plus the flipped seeds' text, for the Compare tab,
    and the other run's per-generation chart series for the charts' overlay (read in the
    same visit: a stored run being compared with does not change under the panel)."""
    path = Path(other).expanduser()
    if not path.is_file():
        raise StoreError(f"{path}: no such run store to compare with")
    with RunStore(path, create=False, readonly=True) as b:
        report = compare_stores(store, b, prices=prices)
        series = RunView(b).chart_series()
    texts = dict(RunView(store).seed_texts())
    flipped = report["flipped"]
    report["flipped"] = [{**f, "seed_text": texts.get(f["seed_id"], "")}
                         for f in flipped[:FLIPPED_SHOWN]]
    report["flipped_total"] = len(flipped)
    return report, series
