"""The run-to-frame step: a stored run as one table of placed points, and its metrics.

A DataFrame is the hand-off between the store and every view (the CLI figure, the
paper-figure notebook), so each view draws from the same placement and the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..embeddings import diversity
from ..records import seed_text
from .refmap import SEED_SOURCE, ReferenceMap

__all__ = ["metrics_by_generation", "run_map", "seed_text"]


def run_map(store: Any, refmap: ReferenceMap, progress: bool = False) -> pd.DataFrame:
    """One row per point: the references, the seeds and each generation's population.

    The population of generation g is its accepted candidates (those join the dataset).
    Columns: source ("alpaca", "sharegpt", "seeds", "gen 1", ...), generation (NA for
    references), x, y, cluster, cluster_label, text, candidate_id, operator.
    """
    parts = []
    base = np.isin(refmap.reference_labels, refmap.reference_names)
    if base.any():
        parts.append(pd.DataFrame({
            "source": refmap.reference_labels[base].astype(str),
            "generation": pd.array([pd.NA] * int(base.sum()), dtype="Int64"),
            "x": refmap.reference_coords[base, 0],
            "y": refmap.reference_coords[base, 1],
            "cluster": refmap.reference_clusters[base],
            "text": np.asarray(refmap.reference_texts, dtype=object)[base],
            "candidate_id": None,
            "operator": None,
        }))
    rows = [(SEED_SOURCE, 0, seed_text(r["instruction"], r["input"] or ""), r["id"], None)
            for r in store.seed_rows()]
    rows += [(f"gen {c.generation}", c.generation, c.instruction, c.id, c.operator)
             for c in store.candidates(status="accepted") if c.instruction]
    if rows:
        coords, clusters = refmap.place([r[2] for r in rows], progress=progress)
        parts.append(pd.DataFrame({
            "source": [r[0] for r in rows],
            "generation": pd.array([r[1] for r in rows], dtype="Int64"),
            "x": coords[:, 0], "y": coords[:, 1], "cluster": clusters,
            "text": [r[2] for r in rows], "candidate_id": [r[3] for r in rows],
            "operator": [r[4] for r in rows],
        }))
    if not parts:
        return pd.DataFrame(columns=["source", "generation", "x", "y", "cluster",
                                     "cluster_label", "text", "candidate_id", "operator"])
    df = pd.concat(parts, ignore_index=True)
    df["cluster"] = df["cluster"].astype(np.int32)
    df.insert(5, "cluster_label", [refmap.cluster_labels[c] for c in df["cluster"]])
    return df


def metrics_by_generation(df: pd.DataFrame, refmap: ReferenceMap) -> pd.DataFrame:
    """Diversity numbers per source (each reference set, seeds, each generation), in the
    order they appear in `df` (as `run_map` returns it).

    Embeddings come from the map's base or the encoder's cache, so nothing is re-embedded.
    Reference sets are scored against the whole reference with each point's own match left
    out; novelty is NaN when the map has no reference.
    """
    ref_mask = np.isin(refmap.reference_labels, refmap.reference_names)
    ref_emb = refmap.reference_embeddings[ref_mask] if ref_mask.any() else None
    emb = refmap.embed(df["text"].tolist()) if len(df) else np.zeros((0, 1), np.float32)
    out = []
    for source in dict.fromkeys(df["source"]):
        rows = (df["source"] == source).to_numpy()
        is_ref = source in refmap.reference_names
        m = diversity.metrics(emb[rows], df["cluster"].to_numpy()[rows], refmap.k, ref_emb,
                              exclude_self=is_ref)
        out.append({"source": source, **m})
    return pd.DataFrame(out)
