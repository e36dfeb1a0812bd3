"""Maps of a run against the reference data: a fixed t-SNE reference map that a live
population is placed into, with k-means topics (see docs/maps.md for why placement, not
a refit, each generation).

- `refmap`: `ReferenceMap`, fitting the base once and placing new texts on it.
- `fitting`: PCA + t-SNE, k-means, cluster keywords (the numerical steps).
- `cache`: fitted maps on disk, keyed by every text and parameter.
- `population`: `Population`, the points placed so far and the one table every view
  draws from (the panel's live map, `evolviz map`, the paper figure).
- `frame`: `run_map` (a stored run as that table) and its metrics.
- `figures`: `paper_figure`, the two-panel picture of the paper.
- `report`: `write_map`, what `evolviz map` runs: the page, the PNG, the table.
"""

from __future__ import annotations

from .figures import paper_figure
from .frame import metrics_by_generation, run_map
from .population import Placed, Population
from .refmap import ADDED_SOURCE, SEED_SOURCE, ReferenceMap
from .report import MapPage, write_map

__all__ = [
    "ADDED_SOURCE",
    "SEED_SOURCE",
    "MapPage",
    "Placed",
    "Population",
    "ReferenceMap",
    "metrics_by_generation",
    "paper_figure",
    "run_map",
    "write_map",
]
