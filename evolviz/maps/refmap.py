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

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings.encoder import Encoder
from .cache import FORMAT, cache_folder, hash_key, load_cached, save_cached
from .fitting import PCA_DIMS, PERPLEXITY, fit_tsne, keywords, kmeans, nearest
from .references import ReferenceSet

__all__ = ["ADDED_SOURCE", "SEED_SOURCE", "ReferenceMap"]

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
        folder = cache_folder(cache_dir)
        key = hash_key(
            {"format": FORMAT, "model": encoder.model_id, "k": k, "seed": seed,
             "pca": PCA_DIMS, "perplexity": PERPLEXITY, "labels": labels},
            texts, seeds,
        )
        cached = cls._from_cache(folder, key, encoder)
        if cached is not None:
            return cached
        emb = encoder.encode(texts, progress=progress)
        seed_emb = encoder.encode(seeds) if refs and seeds else np.zeros((0, emb.shape[1]),
                                                                         np.float32)
        kmeans_texts = texts + (seeds if refs else [])
        centroids, km_labels = kmeans(np.vstack([emb, seed_emb]), k, seed)
        cluster_labels = keywords(kmeans_texts, km_labels, len(centroids))
        pca, tsne, coords = fit_tsne(emb, seed)
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
        save_cached(folder, key, made.state())
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
        key = hash_key({"base": self.key, "label": label}, extra, ())
        cached = ReferenceMap._from_cache(self.cache_dir, key, self.encoder)
        if cached is not None:
            return cached
        emb = np.vstack([self.reference_embeddings, self._encoder().encode(extra)])
        pca, tsne, coords = fit_tsne(emb, self.seed)
        made = ReferenceMap(
            reference_texts=self.reference_texts + extra,
            reference_labels=np.concatenate(
                [self.reference_labels, np.asarray([label] * len(extra), dtype=object)]),
            reference_embeddings=emb,
            reference_coords=coords,
            reference_clusters=nearest(emb, self.centroids),
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
        save_cached(self.cache_dir, key, made.state())
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
        return nearest(np.asarray(embeddings, dtype=np.float32), self.centroids)

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

    def state(self) -> dict[str, Any]:
        """The fitted fields, what the disk cache keeps (not the encoder or the folder)."""
        skip = {"encoder", "cache_dir", "loaded_from_cache", "_index"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    @classmethod
    def _from_cache(cls, folder: Path | None, key: str,
                    encoder: Encoder | None) -> ReferenceMap | None:
        state = load_cached(folder, key)
        if state is None:
            return None
        try:
            made = cls(**state)
        except TypeError as exc:  # fields of another release: a miss, fitted anew
            print(f"evolviz: ignoring map cache {key}: {exc}", file=sys.stderr)
            return None
        made.encoder, made.cache_dir, made.loaded_from_cache = encoder, folder, True
        return made
