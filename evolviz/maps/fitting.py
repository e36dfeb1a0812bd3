"""The numerical steps of fitting a map: PCA then t-SNE, k-means, and cluster keywords.

Heavy libraries (scikit-learn, openTSNE) are imported inside the functions, so importing
`evolviz.maps` stays cheap for a panel that never draws a map.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["PCA_DIMS", "PERPLEXITY", "fit_tsne", "keywords", "kmeans", "nearest"]

PCA_DIMS = 50
PERPLEXITY = 30.0


def fit_tsne(emb: np.ndarray, seed: int) -> tuple[Any, Any, np.ndarray]:
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


def kmeans(emb: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def nearest(emb: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    if len(emb) == 0:
        return np.zeros(0, dtype=np.int32)
    d = (centroids * centroids).sum(axis=1)[None, :] - 2.0 * (emb @ centroids.T)
    return d.argmin(axis=1).astype(np.int32)


def keywords(texts: list[str], labels: np.ndarray, k: int, top: int = 3) -> list[str]:
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
