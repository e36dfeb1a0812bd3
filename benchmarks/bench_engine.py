"""Engine throughput against a loopback OpenAI-compatible server with a set latency.

Prints one table: candidates/s for each (latency, concurrency), its ratio to the bound
(concurrency / calls per candidate / latency), and beside it a sequential loop in the
style of the original scripts (one call at a time, same server, same store writes).
The server runs in a separate process so that its work does not count against the engine.

    python benchmarks/bench_engine.py            # full table (a few minutes)
    python benchmarks/bench_engine.py --quick    # CI: small sizes, checks it still runs
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

from evolviz.config import RunConfig
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing.synthetic import synthetic_instructions


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolviz.testing.serve", "--port", "0", "--latency",
         str(latency), "--evol"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def seeds(n: int) -> list[Seed]:
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


async def engine_run(url: str, n: int, concurrency: int, folder: Path) -> tuple[float, int]:
    store = RunStore(folder / f"e{concurrency}-{time.monotonic_ns()}.db")
    client = LLMClient(url, models="fake-model", concurrency=concurrency, timeout=60)
    # All rules on, as in a real run; the bound uses the measured calls per candidate
    # (about 3: rewrite, equality judge, answer; fewer when a candidate is cut early).
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(), seeds=seeds(n))
    t = time.perf_counter()
    await evo.run(1)
    elapsed = time.perf_counter() - t
    calls = sum(client.tokens.calls.values())
    await client.aclose()
    store.close()
    return n / elapsed, calls


async def sequential_run(url: str, n: int, folder: Path) -> float:
    """One call at a time, like the original Evol-Instruct scripts."""
    return (await engine_run(url, n, 1, folder))[0]


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        plan = {0.0: [1, 16], 0.05: [16]}
        size = {0.0: 60, 0.05: 40, 0.5: 40}
        repeats = 1
    else:
        plan = {0.0: [1, 8, 32, 64], 0.05: [1, 16, 64, 256], 0.5: [16, 64, 256]}
        size = {0.0: 600, 0.05: 600, 0.5: 640}
        repeats = args.repeats
    print(f"machine: {machine()}")
    print(f"{'latency':>8} {'conc':>5} {'n':>5} {'cand/s':>8} {'bound':>8} {'ratio':>6} "
          f"{'seq cand/s':>10} {'vs seq':>7}")
    folder = Path(tempfile.mkdtemp(prefix="evz-bench-"))
    failures = 0
    for latency, concs in plan.items():
        proc, url = start_server(latency)
        try:
            n = size[latency]
            seq = statistics.median(asyncio.run(sequential_run(url, min(n, 60), folder))
                                    for _ in range(repeats))
            for c in concs:
                runs = [asyncio.run(engine_run(url, n, c, folder)) for _ in range(repeats)]
                rate = statistics.median(r[0] for r in runs)
                calls_per = runs[0][1] / n
                bound = c / calls_per / latency if latency else float("inf")
                ratio = rate / bound if latency else float("nan")
                # At zero latency there is no concurrency bound: "-", not inf/nan.
                bound_s = f"{bound:>8.1f}" if latency else f"{'-':>8}"
                ratio_s = f"{ratio:>6.2f}" if latency else f"{'-':>6}"
                print(f"{latency * 1000:>6.0f}ms {c:>5} {n:>5} {rate:>8.1f} "
                      f"{bound_s} {ratio_s} {seq:>10.1f} {rate / seq:>6.1f}x")
                if latency == 0.5 and c == 64 and ratio < 0.9:
                    failures += 1
                if latency == 0.0 and c >= 32 and rate < 150:
                    failures += 1
        finally:
            proc.terminate()
            proc.wait()
    if not args.quick:
        print("targets: >= 90% of bound at 500 ms / c=64; >= 150 cand/s at 0 ms "
              f"({'met' if not failures else f'{failures} missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
