"""Diversity as numbers, where the paper only showed a picture.

Every metric works on unit-length embeddings (what `evolviz.embeddings.encoder.Encoder` returns),
so a dot product is a cosine similarity. Each answers a different question:

- ``coverage``: what share of the k topic clusters the population reaches at all;
- ``entropy`` / ``entropy_norm``: how evenly it spreads over them (0 = one cluster,
  1 = all k equally);
- ``mean_pairwise_cosine_distance``: how far apart its members are on average;
- ``novelty``: how far each member is from the reference data (mean cosine distance to its
  5 nearest reference neighbours), i.e. whether evolving leaves familiar ground;
- ``vendi_score``: the effective number of distinct items (Friedman & Dieng, 2023): 1 when
  all are the same, n when all are orthogonal. Unlike the mean distance it is not fooled
  by a few far outliers among many near-duplicates.

Counts such as coverage and the Vendi score grow with the number of points, so compare
populations of similar size (the ``n`` column says how many there were).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "cluster_entropy",
    "mean_pairwise_cosine_distance",
    "metrics",
    "novelty",
    "vendi_score",
]

NOVELTY_NEIGHBOURS = 5


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def cluster_entropy(cluster_ids: np.ndarray, k: int) -> tuple[float, float]:
    """Shannon entropy (nats) of the cluster distribution, and that divided by log k."""
    ids = np.asarray(cluster_ids).astype(np.int64).ravel()
    if ids.size == 0:
        return math.nan, math.nan
    p = np.bincount(ids, minlength=k) / ids.size
    p = p[p > 0]
    h = float(-(p * np.log(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
    return h, (h / math.log(k) if k > 1 else 0.0)


def mean_pairwise_cosine_distance(embeddings: np.ndarray) -> float:
    """Mean of 1 - cos over distinct pairs, in O(n d) rather than O(n^2 d).

    With unit rows, the sum of all pairwise cosines is |sum of rows|^2, so the n x n
    matrix is never built; a 250K-instruction dataset costs no more than a copy.
    """
    x = _unit(embeddings)
    n = x.shape[0]
    if n < 2:
        return math.nan
    total = float(np.square(x.sum(axis=0)).sum())
    mean_cos = (total - n) / (n * (n - 1))
    return max(0.0, 1.0 - mean_cos)


def novelty(embeddings: np.ndarray, reference_embeddings: np.ndarray,
            neighbours: int = NOVELTY_NEIGHBOURS, exclude_self: bool = False) -> float:
    """Mean cosine distance from each point to its nearest reference points.

    `exclude_self` drops each point's closest match, for scoring a reference set against
    itself (otherwise every point finds itself at distance 0).
    """
    x = _unit(embeddings)
    ref = _unit(reference_embeddings)
    take = neighbours + int(exclude_self)
    if x.shape[0] == 0 or ref.shape[0] < take:
        return math.nan
    dist = []
    for start in range(0, x.shape[0], 4096):  # bounded memory for large populations
        sims = x[start:start + 4096] @ ref.T
        top = -np.partition(-sims, take - 1, axis=1)[:, :take]
        top = np.sort(top, axis=1)[:, ::-1][:, int(exclude_self):]
        dist.append(1.0 - top.mean(axis=1))
    return float(np.clip(np.concatenate(dist), 0.0, 2.0).mean())


def vendi_score(embeddings: np.ndarray) -> float:
    """exp of the Shannon entropy of the eigenvalues of K/n, K the cosine kernel.

    K = X X^T shares its non-zero eigenvalues with X^T X, so the d x d matrix (384 x 384)
    is decomposed instead of the n x n one: the cost no longer grows with n squared.
    """
    x = _unit(embeddings)
    n, d = x.shape
    if n == 0:
        return math.nan
    gram = (x @ x.T) if n <= d else (x.T @ x)
    eig = np.linalg.eigvalsh(gram / n)
    eig = eig[eig > 1e-12]
    eig = eig / eig.sum()
    return float(math.exp(-(eig * np.log(eig)).sum()))


def metrics(
    embeddings: np.ndarray,
    cluster_ids: np.ndarray,
    k: int,
    reference_embeddings: np.ndarray | None = None,
    *,
    exclude_self: bool = False,
) -> dict[str, float]:
    """All diversity numbers for one population, as a flat dict (one table row).

    `novelty` is NaN without reference embeddings; pairwise distance is NaN below 2 points.
    """
    emb = np.asarray(embeddings)
    ids = np.asarray(cluster_ids)
    if emb.shape[0] != ids.shape[0]:
        raise ValueError(f"{emb.shape[0]} embeddings but {ids.shape[0]} cluster ids")
    n = int(emb.shape[0])
    h, h_norm = cluster_entropy(ids, k)
    return {
        "n": n,
        "coverage": (len(np.unique(ids)) / k) if n else math.nan,
        "clusters_covered": len(np.unique(ids)),
        "entropy": h,
        "entropy_norm": h_norm,
        "mean_pairwise_cosine_distance": mean_pairwise_cosine_distance(emb),
        "novelty": (novelty(emb, reference_embeddings, exclude_self=exclude_self)
                    if reference_embeddings is not None and n else math.nan),
        "vendi_score": vendi_score(emb),
    }
