"""A synthetic reference map for drawing tests and benchmarks: what `Population` reads of an
`evolviz.maps.ReferenceMap`, with Gaussian blobs for coordinates, so a 250K- or 1M-point
map is made in a second, with no embedding model and no t-SNE (those are not what a
drawing test measures)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["StubMap", "synthetic_texts"]

_WORDS = ("write explain compare list describe summarise the a of to and for with story poem "
         "function python recipe history reason why how what data model user list table "
         "translate into French short long step by step example code review bug fix plan "
         "essay letter email tweet climate science music city travel health money")
WORDS = tuple(_WORDS.split())


def synthetic_texts(rng: np.random.Generator, n: int, words: int = 24) -> list[str]:
    picks = np.asarray(WORDS)[rng.integers(0, len(WORDS), (n, words))]
    return [" ".join(row) for row in picks.tolist()]


class StubMap:
    """`n` reference points in `k` blobs, half "alpaca", half "sharegpt"."""

    def __init__(self, n: int, k: int = 20, seed: int = 0, dim: int = 8):
        rng = np.random.default_rng(seed)
        self.k = k
        self.dim = dim
        self.centres = rng.normal(scale=30, size=(k, 2))
        self.reference_clusters = rng.integers(0, k, n).astype(np.int32)
        self.reference_coords = (self.centres[self.reference_clusters]
                                 + rng.normal(scale=4, size=(n, 2))).astype(np.float32)
        self.reference_labels = np.where(rng.random(n) < 0.5, "alpaca", "sharegpt")
        self.reference_texts = synthetic_texts(rng, n, words=8)
        self.reference_embeddings = rng.normal(size=(min(n, 500), dim)).astype(np.float32)
        self.reference_names = ["alpaca", "sharegpt"]
        self.cluster_labels = [f"topic {c}" for c in range(k)]
        self.rng = rng

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.rng.normal(size=(len(texts), self.dim)).astype(np.float32)

    def place(self, items: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.rng.integers(0, self.k, len(items)).astype(np.int32)
        xy = self.centres[c] + self.rng.normal(scale=4, size=(len(items), 2))
        return xy.astype(np.float32), c
