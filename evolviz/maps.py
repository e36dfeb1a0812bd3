"""A t-SNE map of the reference data that a live population is placed into, with k-means topics.

Why a fixed reference map with incremental placement rather than a t-SNE of everything
each generation: a refit moves every point (t-SNE has no fixed axes), so a person cannot
follow the population from one generation to the next, and it costs seconds each time.
Here the references are embedded once (openTSNE, on PCA-reduced sentence embeddings) and
cached on disk; each new instruction starts on its nearest reference point and takes a
short optimisation against the references while they stay exactly where they are. What
that cannot show (relations among the new points themselves) is why a full
`ReferenceMap.refit` exists; see docs/maps.md.

k-means is fitted once per map, on references plus seeds, and kept through refits, so a
cluster id means the same topic in every generation; each cluster is named by the TF-IDF
keywords that set its members apart from the rest.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import pickle
import sys
import textwrap
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import diversity
from .embeddings import Encoder, default_cache_root, text_key
from .references import ReferenceSet

__all__ = [
    "ReferenceMap",
    "map_main",
    "metrics_by_generation",
    "paper_figure",
    "run_map",
]

_FORMAT = 1  # bump when the pickled state changes shape, so old cache files are ignored
PCA_DIMS = 50
PERPLEXITY = 30.0
# Placement: start each new point on its nearest base point, then take 50 steps at a
# learning rate of 1 against the base (perplexity 5). Measured on 100 near-duplicates of
# texts in a 2,000-point map: openTSNE's default start (the median of the 25 nearest) left
# 1 in 5 outside its twin's 10 nearest neighbours, some between clusters, because the
# neighbours of a text can sit in two islands and their median in neither; starting on
# the nearest put 99-100 in 100 there, at the same cost (docs/maps.md).
PLACE_ITER = 50
PLACE_LR = 1.0
PLACE_PERPLEXITY = 5.0
PLACE_K = 1
SEED_SOURCE = "seeds"
ADDED_SOURCE = "added"

_refit_lock = threading.Lock()
_refit_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """One worker: refits are heavy and these machines have two cores."""
    global _refit_pool
    with _refit_lock:
        if _refit_pool is None:
            _refit_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evolviz-refit")
        return _refit_pool


@dataclass(eq=False)
class ReferenceMap:
    """A fitted reference map: where the base points sit, and how to place new ones.

    The base is the reference texts (or, with no reference, the seeds). Attributes a view
    uses: `reference_coords` (n, 2) float32, `reference_labels` (source name per point),
    `reference_texts`, `reference_embeddings` (n, 384), `reference_clusters` (int32),
    `reference_names` (the reference sets in the base; empty when it is the seeds),
    `cluster_labels` (one keyword string per cluster id), `centroids`, `k`. `encoder`
    embeds texts given to `place`; it is not saved with the map.
    """

    reference_texts: list[str]
    reference_labels: np.ndarray
    reference_embeddings: np.ndarray
    reference_coords: np.ndarray
    reference_clusters: np.ndarray
    centroids: np.ndarray
    cluster_labels: list[str]
    reference_names: list[str]
    k: int
    seed: int
    key: str
    _pca: Any = field(repr=False)
    _tsne: Any = field(repr=False)
    encoder: Encoder | None = field(default=None, repr=False)
    cache_dir: Path | None = field(default=None, repr=False)
    loaded_from_cache: bool = False
    _index: dict[str, int] | None = field(default=None, repr=False)

    # -- building ----------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        refs: Sequence[ReferenceSet],
        encoder: Encoder,
        seeds: Sequence[str] = (),
        k: int = 20,
        seed: int = 0,
        cache_dir: str | Path | bool | None = None,
        progress: bool = False,
    ) -> ReferenceMap:
        """Fit (or load from the disk cache) the map of `refs`, with k-means on refs + seeds.

        The cache key is a hash of every reference and seed text plus the parameters, so a
        changed sample, seed or k fits anew and an unchanged one loads in well under a
        second, without touching the embedding model. With no references the seeds are the
        base (a run's own map); either way at least 3 base points are needed.
        """
        seeds = [s for s in seeds if isinstance(s, str)]
        refs = [r for r in refs if len(r.texts)]
        if refs:
            texts = [t for r in refs for t in r.texts]
            labels = [r.name for r in refs for _ in r.texts]
        else:
            texts = list(dict.fromkeys(seeds))
            labels = [SEED_SOURCE] * len(texts)
        if len(texts) < 3:
            raise ValueError(f"a map needs at least 3 reference or seed texts, got {len(texts)}")
        folder = _cache_folder(cache_dir)
        key = _hash_key(
            {"format": _FORMAT, "model": encoder.model_id, "k": k, "seed": seed,
             "pca": PCA_DIMS, "perplexity": PERPLEXITY, "labels": labels},
            texts, seeds,
        )
        cached = _load(folder, key)
        if cached is not None:
            cached.encoder, cached.cache_dir = encoder, folder
            return cached
        emb = encoder.encode(texts, progress=progress)
        seed_emb = encoder.encode(seeds) if refs and seeds else np.zeros((0, emb.shape[1]),
                                                                         np.float32)
        kmeans_texts = texts + (seeds if refs else [])
        centroids, km_labels = _kmeans(np.vstack([emb, seed_emb]), k, seed)
        cluster_labels = _keywords(kmeans_texts, km_labels, len(centroids))
        pca, tsne, coords = _fit_tsne(emb, seed)
        made = cls(
            reference_texts=texts,
            reference_labels=np.asarray(labels, dtype=object),
            reference_embeddings=emb,
            reference_coords=coords,
            reference_clusters=km_labels[: len(texts)],
            centroids=centroids,
            cluster_labels=cluster_labels,
            reference_names=[r.name for r in refs],
            k=len(centroids),
            seed=seed,
            key=key,
            _pca=pca,
            _tsne=tsne,
            encoder=encoder,
            cache_dir=folder,
        )
        _save(folder, made)
        return made

    def refit(self, extra_texts: Sequence[str], background: bool = True,
              label: str = ADDED_SOURCE) -> Future[ReferenceMap]:
        """A new map whose t-SNE is fitted on the base plus `extra_texts` (labelled `label`).

        This is what shows how the new points relate to one another, which placement
        cannot. k-means and its labels are kept, so cluster ids do not change. Runs on one
        background worker thread unless `background` is False; the Future carries the new
        map (this one is untouched and stays usable meanwhile).
        """
        extra = [t for t in dict.fromkeys(extra_texts) if t not in self.index]
        if not background:
            done: Future[ReferenceMap] = Future()
            try:
                done.set_result(self._refit(extra, label))
            except BaseException as exc:
                done.set_exception(exc)
            return done
        return _pool().submit(self._refit, extra, label)

    def _refit(self, extra: list[str], label: str) -> ReferenceMap:
        key = _hash_key({"base": self.key, "label": label}, extra, ())
        cached = _load(self.cache_dir, key)
        if cached is not None:
            cached.encoder, cached.cache_dir = self.encoder, self.cache_dir
            return cached
        emb = np.vstack([self.reference_embeddings, self._encoder().encode(extra)])
        pca, tsne, coords = _fit_tsne(emb, self.seed)
        made = ReferenceMap(
            reference_texts=self.reference_texts + extra,
            reference_labels=np.concatenate(
                [self.reference_labels, np.asarray([label] * len(extra), dtype=object)]),
            reference_embeddings=emb,
            reference_coords=coords,
            reference_clusters=_nearest(emb, self.centroids),
            centroids=self.centroids,
            cluster_labels=list(self.cluster_labels),
            reference_names=list(self.reference_names),
            k=self.k,
            seed=self.seed,
            key=key,
            _pca=pca,
            _tsne=tsne,
            encoder=self.encoder,
            cache_dir=self.cache_dir,
        )
        _save(self.cache_dir, made)
        return made

    # -- using -------------------------------------------------------------------------

    @property
    def index(self) -> dict[str, int]:
        """Base text -> row, so a text already in the base is placed exactly on itself."""
        if self._index is None:
            self._index = {}
            for i, t in enumerate(self.reference_texts):
                self._index.setdefault(t, i)
        return self._index

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embeddings of `texts`, taken from the base where it has them, else the encoder."""
        out = np.zeros((len(texts), self.reference_embeddings.shape[1]), dtype=np.float32)
        rows = [self.index.get(t) for t in texts]
        todo = [i for i, r in enumerate(rows) if r is None]
        for i, r in enumerate(rows):
            if r is not None:
                out[i] = self.reference_embeddings[r]
        if todo:
            out[todo] = self._encoder().encode([texts[i] for i in todo], progress=progress)
        return out

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """k-means cluster id per embedding (int32), against this map's fixed centroids."""
        return _nearest(np.asarray(embeddings, dtype=np.float32), self.centroids)

    def place(self, items: Sequence[str] | np.ndarray,
              progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (n, 2) float32 and cluster ids (n,) int32 for new texts or embeddings.

        Each new point starts on its nearest base point and is optimised for a few steps
        against the base alone: base points never move, and new points do not push on
        each other. Texts already in the base get their base coordinates.
        """
        if isinstance(items, np.ndarray):
            emb = np.asarray(items, dtype=np.float32).reshape(-1, self.centroids.shape[1])
            rows: list[int | None] = [None] * len(emb)
        else:
            texts = list(items)
            emb = self.embed(texts, progress=progress)
            rows = [self.index.get(t) for t in texts]
        coords = np.zeros((len(emb), 2), dtype=np.float32)
        new = [i for i, r in enumerate(rows) if r is None]
        for i, r in enumerate(rows):
            if r is not None:
                coords[i] = self.reference_coords[r]
        if new:
            coords[new] = self._place_new(emb[new])
        return coords, self.predict(emb)

    def _place_new(self, emb: np.ndarray) -> np.ndarray:
        n_base = len(self.reference_texts)
        x = self._pca.transform(emb.astype(np.float64))
        partial = self._tsne.prepare_partial(
            x, initialization="median", k=min(PLACE_K, n_base),
            perplexity=min(PLACE_PERPLEXITY, max(1.0, (n_base - 1) / 3)),
        )
        # Barnes-Hut, never FFT: openTSNE's FFT path re-centres the reference embedding in
        # place (prepare_interpolation_grid), which would shift the base under the view
        # while `reference_coords` stayed put. "auto" picks FFT above 10,000 points.
        partial.optimize(PLACE_ITER, learning_rate=PLACE_LR, exaggeration=1.5, momentum=0.8,
                         max_grad_norm=0.25, negative_gradient_method="bh", inplace=True)
        return np.asarray(partial, dtype=np.float32)

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            self.encoder = Encoder()
        return self.encoder

    # -- saving ------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        skip = {"encoder", "cache_dir", "loaded_from_cache", "_index"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}


# -- fitting helpers -------------------------------------------------------------------


def _fit_tsne(emb: np.ndarray, seed: int) -> tuple[Any, Any, np.ndarray]:
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    n = emb.shape[0]
    pca = PCA(n_components=min(PCA_DIMS, n, emb.shape[1]), random_state=seed)
    x = pca.fit_transform(emb.astype(np.float64))
    tsne = TSNE(perplexity=min(PERPLEXITY, max(1.0, (n - 1) / 3)), initialization="pca",
                metric="euclidean", n_jobs=os.cpu_count() or 1, random_state=seed,
                verbose=False)
    embedding = tsne.fit(x)
    return pca, embedding, np.asarray(embedding, dtype=np.float32).copy()


def _kmeans(emb: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids numbered by cluster size (largest first), so ids do not depend on how
    k-means happened to number them."""
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(np.unique(emb, axis=0))))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(emb)
    labels = km.labels_
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.flatnonzero(labels == c)[0] for c in range(k)])
    order = sorted(range(k), key=lambda c: (-sizes[c], first[c]))
    renumber = np.empty(k, dtype=np.int32)
    renumber[order] = np.arange(k, dtype=np.int32)
    centroids = km.cluster_centers_[order].astype(np.float32)
    return centroids, renumber[labels]


def _nearest(emb: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    if len(emb) == 0:
        return np.zeros(0, dtype=np.int32)
    d = (centroids * centroids).sum(axis=1)[None, :] - 2.0 * (emb @ centroids.T)
    return d.argmin(axis=1).astype(np.int32)


def _keywords(texts: list[str], labels: np.ndarray, k: int, top: int = 3) -> list[str]:
    """Per cluster, the words whose mean TF-IDF inside it most exceeds their mean outside.

    Subtracting the outside mean drops words common everywhere ("write", "following")
    that a plain per-cluster TF-IDF ranking puts first. Texts are cut to 2,000 characters
    so one pasted log or code dump does not name a cluster.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    fallback = [f"cluster {c}" for c in range(k)]
    vec = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
                          sublinear_tf=True, min_df=2 if len(texts) >= 50 else 1,
                          max_features=20000)
    try:
        x = vec.fit_transform([t[:2000] for t in texts])
    except ValueError:  # no usable words at all
        return fallback
    vocab = vec.get_feature_names_out()
    out = []
    for c in range(k):
        inside = labels == c
        if not inside.any():
            out.append(fallback[c])
            continue
        score = np.asarray(x[inside].mean(axis=0)).ravel()
        if (~inside).any():
            score = score - np.asarray(x[~inside].mean(axis=0)).ravel()
        best = [vocab[i] for i in np.argsort(-score)[:top] if score[i] > 0]
        out.append(", ".join(best) or fallback[c])
    return out


# -- cache -----------------------------------------------------------------------------


def _cache_folder(cache_dir: str | Path | bool | None) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir in (None, True):
        return default_cache_root() / "maps"
    return Path(cache_dir).expanduser()


def _hash_key(params: dict[str, Any], texts: Sequence[str], seeds: Sequence[str]) -> str:
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for t in texts:
        h.update(text_key(t))
    h.update(b"|seeds|")
    for t in seeds:
        h.update(text_key(t))
    return h.hexdigest()[:32]


def _load(folder: Path | None, key: str) -> ReferenceMap | None:
    """The cached map for `key`, or None; a broken or foreign file is just a miss.

    The file is a pickle (the fitted openTSNE object has no other format); it is only
    ever read from the user's own cache folder.
    """
    if folder is None:
        return None
    path = folder / f"map-{key}.pkl"
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
        if state.get("format") != _FORMAT or state["state"]["key"] != key:
            return None
        made = ReferenceMap(**state["state"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # a stale or truncated file must not stop the map
        print(f"evolviz: ignoring unreadable map cache {path}: {exc}", file=sys.stderr)
        return None
    made.loaded_from_cache = True
    return made


def _save(folder: Path | None, made: ReferenceMap) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"map-{made.key}.pkl"
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    with open(tmp, "wb") as f:
        pickle.dump({"format": _FORMAT, "state": made._state()}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


# -- a run on the map ------------------------------------------------------------------


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
    rows = [(SEED_SOURCE, 0, _seed_text(r["instruction"], r["input"] or ""), r["id"], None)
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


# -- the figure ------------------------------------------------------------------------

_REF_COLOURS = {"alpaca": "#8fb3de", "sharegpt": "#9fd19f"}
_OTHER_REF = ["#9ccc9c", "#c7a3d9", "#d6c37a"]


def _hover(text: str, width: int = 80, limit: int = 400) -> str:
    """Escape first: the text is untrusted LLM output, and plotly renders some HTML tags
    in hover labels. Then cut and wrap, so a long turn does not fill the screen."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width) or [""])


def paper_figure(df: pd.DataFrame, title: str | None = None) -> Any:
    """Two panels like the paper's picture: the t-SNE coloured by source (left) and by
    k-means cluster (right). WebGL traces, so tens of thousands of points stay responsive."""
    import plotly.colors as pc
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.04,
                        subplot_titles=("t-SNE by source", "t-SNE by k-means cluster"))
    hover = [
        f"<b>{html.escape(str(s))}</b>"
        f"{' · ' + html.escape(str(cid)) if isinstance(cid, str) else ''}"
        f"<br>cluster {c}: {html.escape(str(lab))}<br>{_hover(t)}"
        for s, cid, c, lab, t in zip(df["source"], df["candidate_id"], df["cluster"],
                                     df["cluster_label"], df["text"], strict=True)
    ]
    df = df.assign(_hover=hover)
    sources = list(dict.fromkeys(df["source"]))
    gens = sorted({int(g) for g in df["generation"].dropna() if int(g) > 0})
    # Evolved generations run purple -> orange, away from the pale reference colours.
    gen_colours = pc.sample_colorscale(
        "Plasma", list(np.linspace(0.3, 0.8, len(gens))) if len(gens) > 1 else [0.3])
    other = iter(_OTHER_REF * 10)
    for source in sources:
        part = df[df["source"] == source]
        is_ref = part["generation"].isna().all()
        symbol = "circle"
        if source == SEED_SOURCE:
            colour, size, symbol = "#333333", 7, "diamond"
        elif is_ref:
            colour, size = _REF_COLOURS.get(source) or next(other), 4
        else:
            g = int(part["generation"].iloc[0])
            colour, size = gen_colours[gens.index(g)] if g in gens else "#444", 7
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=f"{source} ({len(part)})",
            marker={"size": size, "color": colour, "symbol": symbol,
                    "opacity": 0.5 if is_ref else 0.9},
            hovertext=part["_hover"], hoverinfo="text", legendgroup="source",
            legend="legend"), row=1, col=1)
    palette = pc.qualitative.Dark24 + pc.qualitative.Light24
    for c in sorted(df["cluster"].unique()):
        part = df[df["cluster"] == c]
        label = str(part["cluster_label"].iloc[0])
        evolved = part["generation"].notna() & (part["generation"] > 0)
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers",
            name=f"{c}: {html.escape(label)} ({int(evolved.sum())} evolved)",
            marker={"size": np.where(evolved, 7, 4).tolist(),
                    "color": palette[int(c) % len(palette)],
                    "opacity": 0.75},
            hovertext=part["_hover"], hoverinfo="text", legend="legend2"), row=1, col=2)
    # Square panels (t-SNE distances mean the same along both axes), legends beneath.
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        fig.layout[axis].update(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(domain=[0.3, 1.0])
    fig.update_layout(
        title=title, template="plotly_white", height=1050, width=1500,
        xaxis={"scaleanchor": "y", "constrain": "domain"},
        xaxis2={"scaleanchor": "y2", "constrain": "domain"},
        legend={"x": 0.0, "y": 0.27, "yanchor": "top"},
        legend2={"x": 0.52, "y": 0.27, "yanchor": "top", "font": {"size": 10}},
        margin={"l": 20, "r": 20, "t": 70, "b": 20},
    )
    return fig


# -- the CLI entry ---------------------------------------------------------------------


def map_main(store_path: str, reference: str | None, out: str, sample: int = 1000,
             k: int = 20, seed: int = 0) -> int:
    """``evolviz map RUN.db --reference DIR -o FILE.html``: figure and metrics to HTML.

    Writes a PNG beside the HTML when kaleido is installed. Without any reference the
    run is drawn on a map of its own seeds, and the page says so. Returns an exit code:
    0 written, 2 unusable input.
    """
    from .errors import StoreError
    from .references import find_references
    from .store import RunStore

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
        seeds = [_seed_text(r["instruction"], r["input"] or "") for r in store.seed_rows()]
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


def _seed_text(instruction: str, input_: str) -> str:
    return f"{instruction}\n\n{input_}" if input_ else instruction


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
