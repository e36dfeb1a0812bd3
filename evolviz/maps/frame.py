"""The run-to-frame step: a stored run as the one table of placed points, and its metrics.

The table is `Population.frame()` (maps/population.py), the same one the panel's live map
draws, so `evolviz map`, the paper-figure notebook and the panel place and name every
point alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..embeddings import diversity
from ..records import seed_text
from .population import Population
from .refmap import ReferenceMap

__all__ = ["metrics_by_generation", "run_map", "seed_text"]


def run_map(store: Any, refmap: ReferenceMap, progress: bool = False) -> pd.DataFrame:
    """One row per point: the references, the seeds and each generation's population.

    The population of generation g is its accepted candidates (those join the dataset).
    Columns: those of `Population.frame()`; `group` ("alpaca", "sharegpt", "seeds",
    "gen 1", ...) is what the paper's picture and `metrics_by_generation` compare.
    """
    return Population.from_store(store, refmap, progress=progress).frame()


def metrics_by_generation(df: pd.DataFrame, refmap: ReferenceMap) -> pd.DataFrame:
    """Diversity numbers per group (each reference set, seeds, each generation), in the
    order they appear in `df` (as `run_map` returns it), in a `source` column.

    Embeddings come from the map's base or the encoder's cache, so nothing is re-embedded.
    Reference sets are scored against the whole reference with each point's own match left
    out; novelty is NaN when the map has no reference.
    """
    ref_mask = np.isin(refmap.reference_labels, refmap.reference_names)
    ref_emb = refmap.reference_embeddings[ref_mask] if ref_mask.any() else None
    emb = refmap.embed(df["text"].tolist()) if len(df) else np.zeros((0, 1), np.float32)
    clusters = df["cluster"].cat.codes.to_numpy().astype(np.int64)
    groups = df["group"].astype(str).to_numpy()
    out = []
    for group in dict.fromkeys(groups):
        rows = groups == group
        is_ref = group in refmap.reference_names
        m = diversity.metrics(emb[rows], clusters[rows], refmap.k, ref_emb, exclude_self=is_ref)
        out.append({"source": group, **m})
    return pd.DataFrame(out)
