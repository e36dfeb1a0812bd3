"""A paper-sized run, simulated: 52K seeds, 4 generations (~208K candidates, ~600K calls)
against a loopback server with latency, then the panel's queries on the resulting store.

Prints peak memory (RSS) of the engine process, store size, throughput per generation,
and the time the panel needs to open the store and page, filter, search and trace
lineage in it. Memory must stay bounded: the engine streams candidates to SQLite and
keeps only the pool (ids and texts) in memory.

    python benchmarks/bench_scale.py                  # 52,000 seeds x 4 generations
    python benchmarks/bench_scale.py --quick          # CI: 2,000 seeds x 2 generations
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evolviz.config import RunConfig
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.seeds import Seed
from evolviz.store import Query, RunStore, RunView
from evolviz.templates import TemplateSet
from evolviz.testing.synthetic import synthetic_instructions


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def evolve(url: str, store_path: Path, n: int, generations: int, concurrency: int):
    seeds = [Seed(id=f"seed-{i:06d}", instruction=t)
             for i, t in enumerate(synthetic_instructions(n))]
    store = RunStore(store_path)
    client = LLMClient(url, models="fake-model", concurrency=concurrency, timeout=120)
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(), seeds=seeds)
    del seeds
    rows = []
    for g in range(1, generations + 1):
        t = time.perf_counter()
        done = 0
        async for _ in evo.step():
            done += 1
        elapsed = time.perf_counter() - t
        s = store.count_generation(g)
        rows.append((g, done, elapsed, done / elapsed, s.accepted, rss_mb()))
        print(f"  gen {g}: {done} candidates in {elapsed:.1f} s = {done / elapsed:.1f}/s, "
              f"{s.accepted} accepted, peak RSS {rss_mb():.0f} MB", flush=True)
    calls = sum(client.tokens.calls.values())
    await client.aclose()
    store.close()
    return rows, calls


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=52000)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--store", help="keep the store here (default: a temporary folder)")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.generations = 2000, 2
    folder = Path(tempfile.mkdtemp(prefix="evz-scale-"))
    store_path = Path(args.store) if args.store else folder / "scale.db"
    server = subprocess.Popen(
        [sys.executable, "-m", "evolviz.testing.serve", "--latency", str(args.latency),
         "--evol"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    print(f"machine: {os.cpu_count()} cores; {args.seeds} seeds x {args.generations} "
          f"generations, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    t = time.perf_counter()
    try:
        rows, calls = asyncio.run(evolve(url, store_path, args.seeds, args.generations,
                                         args.concurrency))
    finally:
        server.terminate()
        server.wait()
    total = time.perf_counter() - t
    n = sum(r[1] for r in rows)
    size = sum(p.stat().st_size for p in store_path.parent.glob(store_path.name + "*"))
    print(f"\n{'what':<38} {'value':>14}")
    print(f"{'candidates':<38} {n:>14,}")
    print(f"{'LLM calls':<38} {calls:>14,}")
    print(f"{'wall time (s)':<38} {total:>14.1f}")
    print(f"{'candidates/s (whole run)':<38} {n / total:>14.1f}")
    print(f"{'peak RSS of the engine (MB)':<38} {rss_mb():>14.0f}")
    print(f"{'store size (MB)':<38} {size / 1e6:>14.1f}")
    print(f"{'store bytes per candidate':<38} {size / max(1, n):>14.0f}")

    # The panel on the big store: everything it does is a bounded query.
    store = RunStore(store_path, create=False)
    view = RunView(store)
    seed_id = "seed-000123"
    checks = {
        "open the store": lambda: RunStore(store_path, create=False).close(),
        "first page (200 rows)": lambda: view.page(Query()),
        "page deep in the list": lambda: view.page(Query(offset=n - 300)),
        "filter: rejected by rule 2": lambda: view.page(
            Query(status="rejected", rule="sorry_short_answer")),
        "filter: generation + operator": lambda: view.page(
            Query(generation=args.generations, operator="mutation")),
        "text search": lambda: view.page(Query(text="sourdough")),
        "filter options": lambda: view.filter_options(),
        "lineage of one seed": lambda: view.lineage(seed_id),
        "per-generation counts": lambda: store.generation_stats(),
        # What the map of a stored run reads before embedding and placing: the accepted,
        # and with the status/rule colourings the rejected that have an instruction too.
        "map points: accepted": lambda: view.map_points(),
        "map points: accepted + rejected": lambda: view.map_points(rejected=True),
    }
    def open_panel() -> None:
        from evolviz.panel import Explorer

        Explorer(synthetic_instructions(args.seeds), store=store_path, maps=False,
                 base_url="http://127.0.0.1:9/v1").close()

    checks["open the panel (Explorer, no map)"] = open_panel
    accepted, placed = len(view.map_points()), len(view.map_points(rejected=True))
    print(f"{'map points: accepted':<38} {accepted:>14,}")
    print(f"{'map points: accepted + rejected':<38} {placed:>14,}")
    print(f"{'  ratio (embedding and placement grow so)':<38} {placed / max(1, accepted):>14.2f}")
    print(f"\n{'panel operation on this store':<38} {'median ms':>14}")
    for name, fn in checks.items():
        print(f"{name:<38} {timed(fn):>14.1f}")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
