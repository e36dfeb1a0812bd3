"""Dataset-stage cost: decontamination throughput and near-duplicate cost per candidate.

Decontamination: an n-gram index over N synthetic benchmark items (GSM8K-sized: 30-70
words each, Zipf-distributed words from a 20K vocabulary), then candidates (15-60 words,
1% of them carrying a leaked 13-word run) looked up in generation-sized batches, as the
engine does at each close. Reports build time and candidates/s at 10K and 100K items.

Near duplicates: the similarity search (blocks of matrix products against the dataset so
far; random unit vectors, 384-d like all-MiniLM) at 10K and 100K accepted instructions,
and the encoder's own cost per new instruction (the model, cache off), which dominates.

    python benchmarks/bench_gates.py            # full table (a few minutes)
    python benchmarks/bench_gates.py --quick    # CI: small sizes, checks it still runs
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from machine import cpu_model

from evolviz.gates.decontam import BenchmarkItem, NgramIndex
from evolviz.gates.duplicates import NearIndex


def vocabulary(rng: np.random.Generator, n: int = 20_000) -> list[str]:
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    return [f"{''.join(rng.choice(letters, size=rng.integers(2, 9)))}{i}" for i in range(n)]


def texts(rng: np.random.Generator, vocab: list[str], n: int, lo: int, hi: int) -> list[str]:
    ranks = np.arange(1, len(vocab) + 1)
    p = (1 / ranks) / (1 / ranks).sum()  # Zipf: a few words everywhere, most words rare
    lengths = rng.integers(lo, hi + 1, size=n)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    out, at = [], 0
    for k in lengths:
        out.append(" ".join(vocab[w] for w in words[at:at + k]).capitalize() + "?")
        at += k
    return out


def bench_decontam(items_n: int, cands_n: int, batch: int, rng: np.random.Generator,
                   vocab: list[str]) -> dict:
    items = [BenchmarkItem("bench.jsonl", i + 1, i, t)
             for i, t in enumerate(texts(rng, vocab, items_n, 30, 70))]
    t = time.perf_counter()
    index = NgramIndex(items, 13)
    build = time.perf_counter() - t
    cands = texts(rng, vocab, cands_n, 15, 60)
    leaked = rng.choice(cands_n, size=max(1, cands_n // 100), replace=False)
    for i in leaked:
        words = items[int(rng.integers(items_n))].text.split()
        cands[i] = "Please answer: " + " ".join(words[:20]) + " " + cands[i]
    t = time.perf_counter()
    found = 0
    for a in range(0, cands_n, batch):
        found += sum(m is not None for m in index.find_many(cands[a:a + batch]))
    lookup = time.perf_counter() - t
    return {"items": items_n, "ngrams": index.ngrams, "build_s": build,
            "candidates": cands_n, "lookup_s": lookup, "cand_per_s": cands_n / lookup,
            "found": found, "leaked": len(leaked)}


def bench_stage(prior_n: int, gen_n: int, items_n: int, rng: np.random.Generator,
                vocab: list[str]) -> dict:
    """One generation's close: exact duplicates + decontamination, against a dataset of
    `prior_n` accepted instructions (what `gate_generation` does, minus the store reads)."""
    from evolviz.gates import DatasetStage, GateConfig
    from evolviz.records import Candidate

    items = [BenchmarkItem("bench.jsonl", i + 1, i, t)
             for i, t in enumerate(texts(rng, vocab, items_n, 30, 70))]
    index = NgramIndex(items, 13)
    prior = texts(rng, vocab, prior_n, 15, 60)
    new = texts(rng, vocab, gen_n, 15, 60)
    for i in range(0, gen_n, 50):  # 2% exact duplicates of the dataset so far
        new[i] = prior[i].upper()
    cands = [Candidate(id=f"g9-{i:06d}", generation=9, slot=i, parent_id=f"p{i}",
                       seed_id=f"s{i}", operator="deepening", parent_instruction="",
                       status="accepted", instruction=t, answer="a")
             for i, t in enumerate(new)]
    t = time.perf_counter()
    stage = DatasetStage(GateConfig(decontaminate=("bench.jsonl",)), [], index=index)
    stage.add_accepted([(f"g1-{i:06d}", f"s{i}", x) for i, x in enumerate(prior)])
    rejected = stage.judge(cands)
    took = time.perf_counter() - t
    return {"prior": prior_n, "gen": gen_n, "items": items_n, "s": took,
            "cand_per_s": gen_n / took, "rejected": len(rejected)}


def bench_near(dataset_n: int, new_n: int, rng: np.random.Generator) -> dict:
    base = rng.normal(size=(dataset_n, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    new = rng.normal(size=(new_n, 384)).astype(np.float32)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    ix = NearIndex()
    ix.add_many([f"c{i}" for i in range(dataset_n)], base)
    t = time.perf_counter()
    ix.nearest_many(new, [{"c0"}] * new_n)
    return {"dataset": dataset_n, "new": new_n,
            "ms_per_cand": 1000 * (time.perf_counter() - t) / new_n}


def bench_encoder(n: int, rng: np.random.Generator, vocab: list[str]) -> float:
    from evolviz.embeddings.encoder import Encoder

    enc = Encoder(cache_dir=False)
    enc.load()
    sample = texts(rng, vocab, n, 15, 40)
    t = time.perf_counter()
    enc.encode(sample)
    return 1000 * (time.perf_counter() - t) / n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-encoder", action="store_true", help="skip the model timing")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vocab = vocabulary(rng)
    if args.quick:
        sizes, cands, batch, near, new, enc_n = [2_000], 5_000, 2_500, [2_000], 200, 16
        stage = (5_000, 2_000, 2_000)
    else:
        sizes, cands, batch, near, new, enc_n = [10_000, 100_000], 100_000, 25_000, \
            [10_000, 100_000], 2_000, 256
        stage = (200_000, 50_000, 100_000)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python "
          f"{platform.python_version()}")
    print("\ndecontamination (13-grams, lookups in batches of a generation)")
    print(f"{'items':>8} {'ngrams':>10} {'build_s':>8} {'candidates':>10} {'lookup_s':>9} "
          f"{'decontam cand/s':>16} {'found/leaked':>13}")
    for n in sizes:
        r = bench_decontam(n, cands, batch, rng, vocab)
        print(f"{r['items']:>8} {r['ngrams']:>10} {r['build_s']:>8.2f} {r['candidates']:>10} "
              f"{r['lookup_s']:>9.2f} {r['cand_per_s']:>16,.0f} "
              f"{r['found']:>6}/{r['leaked']:<6}")
        assert r["found"] >= r["leaked"], "a leaked 13-word run was missed"
    r = bench_stage(*stage, rng, vocab)
    print(f"\none close (exact duplicates + decontamination): {r['gen']} candidates against "
          f"{r['prior']} accepted and {r['items']} benchmark items: {r['s']:.1f} s, "
          f"{r['cand_per_s']:,.0f} cand/s ({r['rejected']} rejected)")
    print("\nnear duplicates: similarity search against the dataset so far")
    print(f"{'dataset':>8} {'new':>6} {'ms/cand':>8}")
    for n in near:
        r = bench_near(n, new, rng)
        print(f"{r['dataset']:>8} {r['new']:>6} {r['ms_per_cand']:>8.3f}")
    if not args.no_encoder:
        ms = bench_encoder(enc_n, rng, vocab)
        print(f"encoder (all-MiniLM-L6-v2, cache off): {ms:.1f} ms/cand over {enc_n} texts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
