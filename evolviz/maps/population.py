"""The population on a reference map: every point placed so far, by generation, and the
one table every view draws from.

The panel's live map, `evolviz map` and the paper-figure notebook all read this table
(`Population.frame()`), so a point has one set of column names and one meaning wherever
it is drawn. It is built from numpy arrays and category codes, with ids and texts as
object columns: pandas would otherwise convert 250K strings per column on every redraw.

Columns, one row per point (references, then the seeds, then each generation):

- `x`, `y` (float32): the point on the map.
- `kind`: reference / seed / evolved.
- `source`: the reference set's name, "seeds" or "evolved".
- `generation`: "reference", "seeds", "gen 1", ...; `gen` the same as a number (int32:
  -1 for a reference, 0 for a seed).
- `group`: the reference set, "seeds" or "gen N": what the paper's picture and the
  diversity table compare (one row each).
- `cluster`: the k-means topic, "id: keywords" (its category code is the cluster id).
- `operator`, `status` (accepted / rejected) and `rule` (the rule that rejected it, or
  "accepted"), each "reference" or "seed" for the points that are not candidates.
- `id` (the seed's or candidate's id, "" for a reference) and `text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..embeddings import diversity
from .refmap import SEED_SOURCE

__all__ = ["FRAME_COLUMNS", "Layer", "Placed", "Population", "one_line"]

FRAME_COLUMNS = ("x", "y", "kind", "source", "gen", "generation", "group", "cluster",
                 "operator", "status", "rule", "id", "text")
EVOLVED = "evolved"


def one_line(text: Any, limit: int | None) -> str:
    """The text on one line, cut to `limit` characters (None: the text as it is). Nothing
    is escaped: each view decides how text enters its page."""
    if limit is None:
        return str(text or "")
    text = " ".join(str(text or "").split())
    return text[:limit] + "…" if len(text) > limit else text


@dataclass
class Placed:
    """New points placed on the map, ready to add (computed off the event loop)."""

    generation: int
    ids: list[str]
    texts: list[str]
    coords: np.ndarray
    clusters: np.ndarray
    embeddings: np.ndarray


@dataclass
class Layer:
    """One generation's points: the accepted (the population) and the rejected ones that
    have an instruction (shown only by the colourings about rejection)."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # "" for an accepted candidate
    coords: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.coords:
            return (np.zeros((0, 2), np.float32), np.zeros(0, np.int32),
                    np.zeros((0, 1), np.float32))
        return (np.concatenate(self.coords), np.concatenate(self.clusters),
                np.concatenate(self.embeddings))

    def accepted(self) -> np.ndarray:
        return np.fromiter((not r for r in self.rules), bool, len(self.rules))


class Population:
    """The points of one run on one `ReferenceMap` (or anything with its attributes, such
    as `evolviz.testing.stub_map.StubMap`).

    `text_limit` cuts each text to one line of that many characters when it is added (the
    panel's tooltips); None keeps texts whole (the diversity table re-reads embeddings by
    text)."""

    def __init__(self, *, text_limit: int | None = None):
        self.text_limit = text_limit
        self.refmap: Any = None
        self.layers: dict[int, Layer] = {}
        self._base: dict[str, Any] = {}
        self._frame: pd.DataFrame | None = None

    @classmethod
    def from_store(cls, store: Any, refmap: Any, *, rejected: bool = False,
                   text_limit: int | None = None, progress: bool = False) -> Population:
        """A stored run's seeds and accepted candidates (with `rejected`, also the rejected
        ones that have an instruction), each generation placed in one batch."""
        from ..store import RunView

        view = RunView(store)
        seeds = view.seed_texts()
        made = cls(text_limit=text_limit)
        made.set_base(refmap, [t for _, t in seeds], [i for i, _ in seeds], progress=progress)
        by_gen: dict[int, list[Any]] = {}
        for p in view.map_points(rejected=rejected):
            by_gen.setdefault(p.generation, []).append(p)
        for g, points in sorted(by_gen.items()):
            placed = made.place(g, [p.id for p in points], [p.instruction or "" for p in points],
                                progress=progress)
            made.add(placed, operators=[p.operator for p in points],
                     rules=[(p.rejected_by or "rejected") if p.status == "rejected" else ""
                            for p in points])
        return made

    # -- keeping points --------------------------------------------------------------

    def set_base(self, refmap: Any, seed_texts: Sequence[str], seed_ids: Sequence[str], *,
                 progress: bool = False) -> None:
        """The map's references (the points of a named reference set; a map fitted on the
        seeds alone has none) and the run's seeds, placed on it."""
        self.refmap = refmap
        texts = [str(t) for t in seed_texts]
        if texts:
            coords, clusters = (refmap.place(texts, progress=True) if progress
                                else refmap.place(texts))
        else:
            coords, clusters = np.zeros((0, 2), np.float32), np.zeros(0, np.int32)
        labels = np.asarray(refmap.reference_labels).astype(str)
        keep = np.isin(labels, list(refmap.reference_names))
        ref_texts = np.asarray(refmap.reference_texts, dtype=object)[keep]
        n_ref = int(keep.sum())
        self._base = {
            "x": np.concatenate([np.asarray(refmap.reference_coords)[keep, 0], coords[:, 0]]),
            "y": np.concatenate([np.asarray(refmap.reference_coords)[keep, 1], coords[:, 1]]),
            "source": [*labels[keep].tolist(), *([SEED_SOURCE] * len(coords))],
            "kind": np.concatenate([np.zeros(n_ref, np.int64), np.ones(len(coords), np.int64)]),
            "gen": np.concatenate([np.full(n_ref, -1), np.zeros(len(coords))]).astype(np.int32),
            "cluster": np.concatenate([np.asarray(refmap.reference_clusters)[keep], clusters]),
            "id": [*([""] * n_ref), *seed_ids],
            "text": [one_line(t, self.text_limit) for t in [*ref_texts, *texts]],
        }
        self._frame = None

    def place(self, generation: int, ids: Sequence[str], texts: Sequence[str], *,
              progress: bool = False) -> Placed:
        """Embed and place new texts; blocking, so the panel calls it from a worker thread."""
        emb = (self.refmap.embed(list(texts), progress=True) if progress
               else self.refmap.embed(list(texts)))
        coords, clusters = self.refmap.place(emb)
        return Placed(generation, list(ids), list(texts), coords, clusters, emb)

    def add(self, placed: Placed, *, operators: Sequence[str] | None = None,
            rules: Sequence[str | None] | None = None) -> int:
        """Keep new points (a candidate already kept is skipped); how many were new.
        `rules`: the rule that rejected each point (None or "": accepted)."""
        layer = self.layers.setdefault(placed.generation, Layer())
        seen = set(layer.ids)
        keep = [i for i, cid in enumerate(placed.ids) if cid not in seen]
        ops = list(operators) if operators is not None else [""] * len(placed.ids)
        why = list(rules) if rules is not None else [""] * len(placed.ids)
        layer.ids += [placed.ids[i] for i in keep]
        layer.texts += [one_line(placed.texts[i], self.text_limit) for i in keep]
        layer.operators += [ops[i] or EVOLVED for i in keep]
        layer.rules += [why[i] or "" for i in keep]
        layer.coords.append(placed.coords[keep])
        layer.clusters.append(placed.clusters[keep])
        layer.embeddings.append(placed.embeddings[keep])
        self._frame = None
        return len(keep)

    def clear(self) -> None:
        """Forget every generation's points (the base stays)."""
        self.layers.clear()
        self._frame = None

    # -- reading ---------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """Every point as one row (the columns of the module docstring); kept until the
        next change, so asking again costs nothing."""
        if self._frame is None:
            self._frame = self._build()
        return self._frame

    def accepted_count(self, generation: int) -> int:
        layer = self.layers.get(generation)
        return 0 if layer is None else int(layer.accepted().sum())

    def point_counts(self) -> dict[str, int]:
        """How many points of each kind the map holds (the browser test reads the page's)."""
        counts = {str(k): int(v) for k, v in self.frame()["status"].value_counts().items() if v}
        # The names the panel has always reported: references, seeds, new (accepted) points.
        return {"reference": counts.get("reference", 0), "seeds": counts.get("seed", 0),
                "gen": counts.get("accepted", 0), "rejected": counts.get("rejected", 0)}

    def diversity_rows(self) -> list[dict[str, Any]]:
        """Per generation, the diversity of its accepted points (not what was eliminated)."""
        if self.refmap is None:
            return []
        ref_emb = self.refmap.reference_embeddings
        rows = []
        for g in sorted(self.layers):
            _, clusters, emb = self.layers[g].arrays()
            accepted = self.layers[g].accepted()
            clusters, emb = clusters[accepted], emb[accepted]
            if len(emb):
                rows.append({"generation": g, **diversity.metrics(emb, clusters, self.refmap.k,
                                                                  ref_emb)})
        return rows

    def _build(self) -> pd.DataFrame:
        gens = sorted(self.layers)
        base = self._base
        n_base = len(base["id"]) if base else 0
        ref_names = [n for n in dict.fromkeys(base["source"][:n_base]) if n != SEED_SOURCE] \
            if base else []
        source_cats = [*ref_names, SEED_SOURCE, EVOLVED]
        source_code = {name: i for i, name in enumerate(source_cats)}
        ops = sorted({o for g in gens for o in self.layers[g].operators} - {"reference", "seed"})
        op_cats = ["reference", "seed", *ops]
        op_code = {name: i for i, name in enumerate(op_cats)}
        evolved_gens = [g for g in gens if g > 0]
        gen_labels = ["reference", "seeds", *[f"gen {g}" for g in evolved_gens]]
        gen_code = {g: i + 2 for i, g in enumerate(evolved_gens)}
        group_cats = [*ref_names, SEED_SOURCE, *[f"gen {g}" for g in evolved_gens]]
        group_code = {g: i + len(ref_names) + 1 for i, g in enumerate(evolved_gens)}
        rule_cats = ["reference", "seed", "accepted",
                     *sorted({r for g in gens for r in self.layers[g].rules} - {""})]
        rule_code = {name: i for i, name in enumerate(rule_cats)}
        rule_code[""] = rule_code["accepted"]
        cols: dict[str, list[np.ndarray]] = {c: [] for c in FRAME_COLUMNS}
        if base:
            kind = base["kind"]
            for c in ("x", "y", "gen", "cluster"):
                cols[c].append(np.asarray(base[c]))
            cols["kind"].append(kind)
            source = np.fromiter((source_code[v] for v in base["source"]), np.int64, n_base)
            cols["source"].append(source)
            cols["group"].append(source)  # the same categories come first
            for c in ("operator", "generation", "status", "rule"):
                cols[c].append(kind)
            cols["id"].append(np.asarray(base["id"], dtype=object))
            cols["text"].append(np.asarray(base["text"], dtype=object))
        for g in gens:
            layer = self.layers[g]
            coords, clusters, _ = layer.arrays()
            n = len(layer.ids)
            cols["x"].append(coords[:, 0])
            cols["y"].append(coords[:, 1])
            cols["gen"].append(np.full(n, g, np.int32))
            cols["cluster"].append(clusters)
            cols["kind"].append(np.full(n, 2))
            cols["source"].append(np.full(n, source_code[EVOLVED]))
            cols["group"].append(np.full(n, group_code.get(g, source_code[SEED_SOURCE])))
            cols["operator"].append(np.fromiter((op_code[o] for o in layer.operators),
                                                np.int64, n))
            cols["generation"].append(np.full(n, gen_code.get(g, 1)))
            rule = np.fromiter((rule_code[r] for r in layer.rules), np.int64, n)
            cols["rule"].append(rule)
            cols["status"].append(np.where(rule == rule_code["accepted"], 2, 3))
            cols["id"].append(np.asarray(layer.ids, dtype=object))
            cols["text"].append(np.asarray(layer.texts, dtype=object))
        arr = {c: np.concatenate(v) if v else np.zeros(0) for c, v in cols.items()}
        k = self.refmap.k if self.refmap is not None else 1
        names = list(getattr(self.refmap, "cluster_labels", []) or [])
        cl = [f"{c}: {names[c]}" if c < len(names) else str(c) for c in range(k)]

        def cat(codes: np.ndarray, cats: list[str]) -> pd.Categorical:
            return pd.Categorical.from_codes(codes.astype(np.int64), categories=cats)

        return pd.DataFrame({
            "x": arr["x"].astype(np.float32), "y": arr["y"].astype(np.float32),
            "kind": cat(arr["kind"], ["reference", "seed", EVOLVED]),
            "source": cat(arr["source"], source_cats),
            "gen": arr["gen"].astype(np.int32),
            "generation": cat(arr["generation"], gen_labels),
            "group": cat(arr["group"], group_cats),
            "cluster": cat(np.clip(arr["cluster"].astype(np.int64), 0, k - 1), cl),
            "operator": cat(arr["operator"], op_cats),
            "status": cat(arr["status"], ["reference", "seed", "accepted", "rejected"]),
            "rule": cat(arr["rule"], rule_cats),
            "id": pd.Series(arr["id"].astype(object), dtype=object),
            "text": pd.Series(arr["text"].astype(object), dtype=object),
        })
