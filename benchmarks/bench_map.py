"""How long the live map takes: placing 64 new candidates versus refitting, cold versus warm.

    python benchmarks/bench_map.py [--refdata DIR] [--quick]

Prints one table of medians. Measured, on a reference map of 1,000 Alpaca + 1,000 ShareGPT
texts (``--quick``: 300 + 300 and fewer repeats, for CI):

- update: 64 new candidate texts -> embeddings -> coordinates + cluster ids + metrics,
  with the texts not yet in the embedding cache (the live case), and the same from
  embeddings already computed (what a re-draw costs);
- refit: scikit-learn's TSNE on the same 2,064 points (PCA to 50 first, as the map does),
  and openTSNE's fit (what `ReferenceMap.refit` runs);
- cold start: the map with nothing cached (every reference embedded), and with only the
  embeddings cached; warm start: a fresh Python process loading the cached map, imports
  included.

The new texts are the cleaned-Alpaca sample's instructions (with inputs), which are the
length of evolved instructions; none of them is in the reference sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFDATA = Path(os.environ.get("EVOLVIZ_REFDATA") or ROOT.parent / "shared" / "refdata")

WARM_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from evolviz.embeddings.encoder import Encoder
from evolviz.maps import ReferenceMap
from evolviz.maps.references import find_references
refs = find_references(sys.argv[1], sample=int(sys.argv[2]))
enc = Encoder(cache_dir=sys.argv[3])
m = ReferenceMap.fit(refs, enc, cache_dir=sys.argv[4])
print(json.dumps({"s": time.perf_counter() - t0, "cached": m.loaded_from_cache,
                  "model_loaded": enc._model is not None}))
"""


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="evolviz-bench-"))
    try:
        return run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refdata", type=Path, default=DEFAULT_REFDATA)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (CI)")
    ap.add_argument("--new", type=int, default=64, help="new candidate texts per update")
    args = ap.parse_args()
    if not (args.refdata / "alpaca").is_dir():
        print(f"no reference data at {args.refdata}", file=sys.stderr)
        return 2

    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from evolviz.embeddings import diversity
    from evolviz.embeddings.encoder import Encoder
    from evolviz.maps import ReferenceMap
    from evolviz.maps.fitting import fit_tsne as _fit_tsne
    from evolviz.maps.references import find_references, load_alpaca

    per_set = 300 if args.quick else 1000
    reps = {"update": 5 if args.quick else 10, "refit": 1 if args.quick else 3,
            "cold": 1 if args.quick else 3, "warm": 3 if args.quick else 5}
    emb_cache, map_cache = work / "embeddings", work / "maps"
    rows: list[tuple[str, list[float], str]] = []
    load_start = os.getloadavg()[0]

    refs = find_references(args.refdata, sample=per_set, seed=0)
    n_ref = sum(len(r) for r in refs)
    ref_texts = {t for r in refs for t in r.texts}
    pool = [t for t in load_alpaca(args.refdata / "alpaca" / "alpaca_cleaned_sample2000.json",
                                   sample=None).texts if t not in ref_texts]
    need = args.new * (reps["update"] + 4)
    new_batches = [pool[i:i + args.new] for i in range(0, need, args.new)]

    # Cold start, nothing cached: embeds every reference text (once: it is slow). --quick
    # keeps the normal embedding cache instead, so CI pays for the references only once.
    enc = Encoder(cache_dir=None if args.quick else emb_cache)
    start = time.perf_counter()
    refmap = ReferenceMap.fit(refs, enc, cache_dir=map_cache)
    if not args.quick:
        rows.append(("cold start, nothing cached (embed + fit)",
                     [time.perf_counter() - start], "-"))

    # Cold start of the map alone: embeddings cached, map cache empty.
    def cold_map() -> None:
        ReferenceMap.fit(refs, enc, cache_dir=False)

    rows.append(("cold start, embeddings cached (fit)", timed(cold_map, reps["cold"]), "-"))

    # Warm start in a fresh process: imports, loading references, loading the pickled map.
    def warm() -> None:
        out = subprocess.run([sys.executable, "-c", WARM_SCRIPT, str(args.refdata),
                              str(per_set), str(enc.cache_path.parent), str(map_cache)],
                             capture_output=True, text=True, check=True)
        info = json.loads(out.stdout.strip().splitlines()[-1])
        assert info["cached"] and not info["model_loaded"], info
        warm_inner.append(info["s"])

    warm_inner: list[float] = []
    timed(warm, reps["warm"])
    rows.append(("warm start, fresh process (cache)", warm_inner, "<= 3 s"))

    # One update: new texts -> embeddings -> coords + clusters + metrics. The new texts go
    # through an encoder with no disk cache (sharing the loaded model), so each is embedded.
    fresh = Encoder(cache_dir=False)
    fresh._model = enc._load_model()
    refmap.encoder = fresh
    batches = iter(new_batches)
    refmap.place(next(batches))  # first call pays one-off costs (threads, caches)

    def update() -> None:
        texts = next(batches)
        emb = refmap.embed(texts)
        _, clusters = refmap.place(emb)
        diversity.metrics(emb, clusters, refmap.k, refmap.reference_embeddings)

    update_times = timed(update, reps["update"])
    rows.append((f"update: {args.new} new texts (embed + place + metrics)", update_times,
                 "<= 1 s"))
    known = refmap.embed(new_batches[0])

    def update_known() -> None:
        _, clusters = refmap.place(known)
        diversity.metrics(known, clusters, refmap.k, refmap.reference_embeddings)

    known_times = timed(update_known, reps["update"])
    rows.append((f"update: {args.new} embedded texts (place + metrics)", known_times, "-"))

    def embed_only() -> None:
        refmap.embed(next(batches))

    embed_times = timed(embed_only, 2)
    rows.append((f"  of which embedding {args.new} new texts", embed_times, "-"))

    # Full refits of the same n_ref + new points.
    all_emb = np.vstack([refmap.reference_embeddings, known]).astype(np.float64)

    def sklearn_refit() -> None:
        x = PCA(n_components=50, random_state=0).fit_transform(all_emb)
        TSNE(n_components=2, perplexity=30, init="pca", random_state=0).fit_transform(x)

    refit_times = timed(sklearn_refit, reps["refit"])
    rows.append((f"refit: scikit-learn TSNE of {len(all_emb)} points", refit_times, "-"))
    rows.append((f"refit: openTSNE of {len(all_emb)} points (ReferenceMap.refit)",
                 timed(lambda: _fit_tsne(all_emb.astype(np.float32), 0), reps["refit"]), "-"))

    refit_s, update_s = statistics.median(refit_times), statistics.median(update_times)
    known_s, embed_s = statistics.median(known_times), statistics.median(embed_times)
    print(f"\nevolviz map benchmark: reference map of {n_ref} texts "
          f"({' + '.join(f'{len(r)} {r.name}' for r in refs)}), {args.new} new texts")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
          f"load average at start {load_start:.2f}\n")
    print(f"| {'step':<58} | {'median s':>8} | {'runs':>4} | {'target':>7} |")
    print(f"|{'-' * 60}|{'-' * 10}|{'-' * 6}|{'-' * 9}|")
    for name, times, target in rows:
        print(f"| {name:<58} | {statistics.median(times):8.3f} | {len(times):4d} | "
              f"{target:>7} |")
    print("\nspeed-up of an update over the scikit-learn refit (target >= 20x):")
    print(f"- both from embeddings (place + metrics vs TSNE): {refit_s / known_s:.0f}x")
    print(f"- both embedding the {args.new} new texts first: "
          f"{(refit_s + embed_s) / update_s:.0f}x")
    print(f"- update embedding, refit not (the harshest): {refit_s / update_s:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
