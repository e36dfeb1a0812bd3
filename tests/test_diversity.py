"""Diversity metrics on vectors whose answers are known by construction, plus one check on
real sentence embeddings that spread-out instructions score higher than rewordings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evolviz.embeddings import diversity


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_identical_points_have_vendi_one_and_one_cluster() -> None:
    emb = unit(np.tile(np.arange(1, 385, dtype=np.float32), (12, 1)))
    m = diversity.metrics(emb, np.full(12, 3), k=20)
    assert m["vendi_score"] == pytest.approx(1.0, abs=1e-6)
    assert m["clusters_covered"] == 1
    assert m["coverage"] == pytest.approx(1 / 20)
    assert m["entropy"] == 0.0 and m["entropy_norm"] == 0.0
    assert m["mean_pairwise_cosine_distance"] == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(m["novelty"])


def test_orthogonal_points_have_vendi_n_and_distance_one() -> None:
    emb = np.eye(8, 384, dtype=np.float32)
    m = diversity.metrics(emb, np.arange(8), k=8)
    assert m["vendi_score"] == pytest.approx(8.0, rel=1e-6)
    assert m["mean_pairwise_cosine_distance"] == pytest.approx(1.0)
    assert m["coverage"] == 1.0
    assert m["entropy_norm"] == pytest.approx(1.0)


def test_fast_formulas_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    for n in (5, 50, 500):  # vendi switches from the n x n to the d x d matrix at n > d
        emb = unit(rng.normal(size=(n, 40)))
        cos = emb.astype(np.float64) @ emb.T
        brute_mpcd = (1 - cos)[np.triu_indices(n, 1)].mean()
        assert diversity.mean_pairwise_cosine_distance(emb) == pytest.approx(brute_mpcd,
                                                                              rel=1e-5)
        eig = np.linalg.eigvalsh(cos / n)
        eig = eig[eig > 1e-12] / eig[eig > 1e-12].sum()
        assert diversity.vendi_score(emb) == pytest.approx(math.exp(-(eig * np.log(eig)).sum()),
                                                           rel=1e-5)


def test_spread_scores_higher_than_near_duplicates() -> None:
    rng = np.random.default_rng(1)
    centre = rng.normal(size=384)
    tight = unit(centre + 0.05 * rng.normal(size=(40, 384)))
    spread = unit(rng.normal(size=(40, 384)))
    t = diversity.metrics(tight, np.zeros(40, int), k=10)
    s = diversity.metrics(spread, np.arange(40) % 10, k=10)
    assert s["vendi_score"] > 5 * t["vendi_score"]
    assert s["mean_pairwise_cosine_distance"] > 5 * t["mean_pairwise_cosine_distance"]
    assert s["entropy_norm"] > t["entropy_norm"]


def test_novelty_is_zero_on_the_reference_unless_self_is_excluded() -> None:
    rng = np.random.default_rng(2)
    ref = unit(rng.normal(size=(30, 384)))
    assert diversity.novelty(ref[:5], ref, neighbours=1) == pytest.approx(0.0, abs=1e-6)
    assert diversity.novelty(ref[:5], ref, neighbours=1, exclude_self=True) > 0.5
    far = unit(-ref[:3])
    assert diversity.novelty(far, ref) > diversity.novelty(ref[:3], ref)


def test_empty_and_single_populations_do_not_crash() -> None:
    m = diversity.metrics(np.zeros((0, 384), np.float32), np.zeros(0, int), k=5)
    assert m["n"] == 0 and math.isnan(m["vendi_score"]) and math.isnan(m["coverage"])
    one = diversity.metrics(np.eye(1, 384, dtype=np.float32), np.zeros(1, int), k=5,
                            reference_embeddings=np.eye(10, 384, dtype=np.float32))
    assert one["vendi_score"] == pytest.approx(1.0)
    assert math.isnan(one["mean_pairwise_cosine_distance"])
    assert one["novelty"] == pytest.approx(0.8)  # 1 at distance 0, 4 at distance 1
    with pytest.raises(ValueError):
        diversity.metrics(np.eye(3, 384), np.zeros(2, int), k=5)


@pytest.mark.slow
def test_real_embeddings_rank_varied_instructions_above_rewordings() -> None:
    from evolviz.embeddings.encoder import Encoder

    rewordings = [
        "Write a short poem about the sea.",
        "Write a brief poem about the ocean.",
        "Compose a short poem about the sea.",
        "Write a little poem on the sea.",
        "Write a short poem that describes the sea.",
    ]
    varied = [
        "Write a short poem about the sea.",
        "Explain how a hash table handles collisions.",
        "List three causes of the French Revolution.",
        "Convert 72 degrees Fahrenheit to Celsius.",
        "Draft a polite email declining a meeting invitation.",
    ]
    with Encoder() as enc:
        a = diversity.metrics(enc.encode(rewordings), np.zeros(5, int), k=5)
        b = diversity.metrics(enc.encode(varied), np.zeros(5, int), k=5)
        same = diversity.metrics(enc.encode([varied[1]] * 5), np.zeros(5, int), k=5)
    assert same["vendi_score"] == pytest.approx(1.0, abs=1e-4)
    assert b["vendi_score"] > a["vendi_score"] + 1.5
    assert b["mean_pairwise_cosine_distance"] > 2 * a["mean_pairwise_cosine_distance"]
