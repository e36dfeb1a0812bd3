"""Engine throughput against a loopback OpenAI-compatible server with a set latency.

Prints three tables, every figure a median of repeated runs made in this one process,
"before" and "after" interleaved so that a busy machine weighs on both alike:

1. candidates/s of a whole generation for each (latency, concurrency), with the chat
   requests over the fast path (after) and through `openai` (before, `fast_path=False`),
   CPU ms per call for both, the ratio to the bound (concurrency / calls per candidate /
   latency) and to a sequential loop in the style of the original scripts;
2. peers on the same endpoint at 50 ms and 64 in flight: N independent chat calls,
   calls/s, for evolviz's client and for curator and distilabel when `--peers-python`
   names a venv where they are installed (`benchmarks/peers.py`); a peer that cannot
   run here says so instead of a number;
3. a rate-limited endpoint (20 calls in flight, 429 above): `--concurrency 20` against
   256 with adaptive concurrency, seconds and the share of calls answered 429.

The server runs in a separate process so that its work does not count against the engine.

    python benchmarks/bench_engine.py            # full tables (several minutes)
    python benchmarks/bench_engine.py --quick    # CI: small sizes, checks it still runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from evolviz.run.llm import LLMClient, Sampling
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing.synthetic import synthetic_instructions

PEERS = Path(__file__).with_name("peers.py")


def start_server(latency: float, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolviz.testing.serve", "--port", "0", "--latency",
         str(latency), "--evol", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def seeds(n: int) -> list[Seed]:
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


async def engine_run(url: str, n: int, concurrency: int, folder: Path, *,
                     fast: bool = True) -> tuple[float, int, float]:
    """(candidates/s, calls, CPU ms per call) of one generation over `n` seeds."""
    store = RunStore(folder / f"e{concurrency}-{time.monotonic_ns()}.db")
    client = LLMClient(url, models="fake-model", concurrency=concurrency, timeout=60,
                       fast_path=fast)
    # All rules on, as in a real run; the bound uses the measured calls per candidate
    # (about 3: rewrite, equality judge, answer; fewer when a candidate is cut early).
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(), seeds=seeds(n))
    t, cpu = time.perf_counter(), time.process_time()
    await evo.run(1)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    calls = sum(client.tokens.calls.values())
    await client.aclose()
    store.close()
    return n / elapsed, calls, cpu * 1000 / max(1, calls)


async def client_batch(url: str, n: int, concurrency: int, fast: bool) -> float:
    """calls/s of `n` independent chat calls, as the peers are measured."""
    client = LLMClient(url, models="fake-model", concurrency=concurrency, timeout=60,
                       fast_path=fast)
    prompts = [f"Rewrite this instruction to be harder: Explain topic number {i} simply."
               for i in range(n)]
    t = time.perf_counter()
    await asyncio.gather(*[client.chat("evolver", [{"role": "user", "content": p}],
                                       Sampling(), sample=str(i))
                           for i, p in enumerate(prompts)])
    rate = n / (time.perf_counter() - t)
    await client.aclose()
    return rate


def peer(python: str, tool: str, url: str, n: int, concurrency: int) -> float | str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        r = subprocess.run([python, str(PEERS), "--url", url, "-n", str(n), "--concurrency",
                            str(concurrency), "--tool", tool], capture_output=True, text=True,
                           timeout=900, env=env, cwd=tempfile.mkdtemp(prefix="peer-"))
        return json.loads(r.stdout.strip().splitlines()[-1])[tool]
    except Exception as e:  # the table says why, never a made-up figure
        return f"error: {type(e).__name__}: {e}"[:120]


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


def median_pairs(runs: list[tuple]) -> tuple:
    return tuple(statistics.median(r[i] for r in runs) for i in range(len(runs[0])))


def engine_table(plan, size, repeats, folder) -> list[str]:
    print(f"{'latency':>8} {'conc':>5} {'n':>5} {'before':>8} {'after':>8} {'after/':>7} "
          f"{'cpu ms/call':>12} {'bound':>7} {'ratio':>6} {'seq':>6} {'vs seq':>7}")
    print(f"{'':>8} {'':>5} {'':>5} {'cand/s':>8} {'cand/s':>8} {'before':>7} "
          f"{'bef -> aft':>12}")
    missed = []
    for latency, concs in plan.items():
        proc, url = start_server(latency)
        try:
            n = size[latency]
            seq_n = 16 if latency >= 0.5 else 60  # one call at a time: keep it short
            seq = statistics.median(asyncio.run(engine_run(url, seq_n, 1, folder))[0]
                                    for _ in range(repeats))
            for c in concs:
                before, after = [], []
                for _ in range(repeats):  # interleaved: a busy moment hits both
                    before.append(asyncio.run(engine_run(url, n, c, folder, fast=False)))
                    after.append(asyncio.run(engine_run(url, n, c, folder)))
                b_rate, _, b_cpu = median_pairs(before)
                a_rate, calls, a_cpu = median_pairs(after)
                calls_per = calls / n
                bound = c / calls_per / latency if latency else float("inf")
                bound_s = f"{bound:>7.1f}" if latency else f"{'-':>7}"
                ratio_s = f"{a_rate / bound:>6.2f}" if latency else f"{'-':>6}"
                print(f"{latency * 1000:>6.0f}ms {c:>5} {n:>5} {b_rate:>8.1f} {a_rate:>8.1f} "
                      f"{a_rate / b_rate:>6.2f}x {b_cpu:>5.2f} -> {a_cpu:<4.2f} {bound_s} "
                      f"{ratio_s} {seq:>6.1f} {a_rate / seq:>6.1f}x")
                if latency == 0.05 and c == 64 and a_rate < 1.5 * b_rate:
                    missed.append(f"50 ms x 64: {a_rate / b_rate:.2f}x of before (target 1.5x)")
                if latency == 0.5 and c == 64 and a_rate / bound < 0.9:
                    missed.append(f"500 ms x 64: {a_rate / bound:.2f} of the bound (0.9)")
        finally:
            proc.terminate()
            proc.wait()
    return missed


def peers_table(n: int, repeats: int, peers_python: str | None) -> None:
    proc, url = start_server(0.05)
    rows: dict[str, list] = {"evolviz client (after)": [], "evolviz client (before)": [],
                             "curator": [], "distilabel": []}
    try:
        for _ in range(repeats):
            rows["evolviz client (after)"].append(asyncio.run(client_batch(url, n, 64, True)))
            rows["evolviz client (before)"].append(asyncio.run(client_batch(url, n, 64,
                                                                            False)))
            for tool in ("curator", "distilabel"):
                rows[tool].append(peer(peers_python, tool, url, n, 64) if peers_python else
                                  "not measured: pass --peers-python (a venv with it)")
    finally:
        proc.terminate()
        proc.wait()
    print(f"\npeers, 50 ms latency, 64 in flight, {n} independent chat calls "
          f"(medians of {repeats})")
    print(f"{'tool':<26} {'calls/s':>9} {'vs curator':>11}")
    medians = {k: (statistics.median(v) if all(isinstance(x, float) for x in v) else
                   next(x for x in v if isinstance(x, str))) for k, v in rows.items()}
    cur = medians["curator"]
    for tool, value in medians.items():
        if isinstance(value, float):
            vs = f"{value / cur:>10.2f}x" if isinstance(cur, float) else f"{'-':>11}"
            print(f"{tool:<26} {value:>9.1f} {vs}")
        else:
            print(f"{tool:<26} {value}")


def rate_limited_table(n: int, repeats: int, folder: Path) -> None:
    proc, url = start_server(0.05, "--max-in-flight", "20")
    results: dict[int, list[tuple[float, float]]] = {20: [], 256: []}
    try:
        for _ in range(repeats):
            for c in (20, 256):
                client = LLMClient(url, models="fake-model", concurrency=c, timeout=60)
                store = RunStore(folder / f"rl{c}-{time.monotonic_ns()}.db")
                evo = Evolution(store, client, TemplateSet.load(), RunConfig(),
                                seeds=seeds(n))
                t = time.perf_counter()
                asyncio.run(evo.run(1))
                elapsed = time.perf_counter() - t
                attempts = sum(call.attempts for cand in store.candidates()
                               for call in cand.calls.values())
                limited = client.pacer.rate_limited
                results[c].append((elapsed, limited / max(1, attempts)))
                store.close()
    finally:
        proc.terminate()
        proc.wait()
    print(f"\nrate-limited endpoint: 20 calls in flight allowed (429 above), 50 ms, {n} seeds "
          f"(medians of {repeats})")
    print(f"{'--concurrency':>13} {'seconds':>8} {'429 share':>10} {'time vs 20':>11}")
    base = statistics.median(r[0] for r in results[20])
    for c, rows in results.items():
        secs = statistics.median(r[0] for r in rows)
        share = statistics.median(r[1] for r in rows)
        print(f"{c:>13} {secs:>8.2f} {share:>9.1%} {secs / base:>10.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers-python", help="python of a venv with bespokelabs-curator and "
                                           "distilabel installed (table 2)")
    args = ap.parse_args()
    if args.quick:
        plan = {0.0: [16], 0.05: [64]}
        size = {0.0: 60, 0.05: 60, 0.5: 40}
        repeats, peer_n, limited_n = 1, 100, 30
    else:
        plan = {0.0: [8, 64], 0.05: [16, 64, 256], 0.5: [64]}
        size = {0.0: 600, 0.05: 600, 0.5: 640}
        repeats, peer_n, limited_n = args.repeats, 1000, 300
    print(f"machine: {machine()}")
    folder = Path(tempfile.mkdtemp(prefix="evz-bench-"))
    missed = engine_table(plan, size, repeats, folder)
    peers_table(peer_n, repeats, args.peers_python)
    rate_limited_table(limited_n, repeats, folder)
    if not args.quick:
        print("\ntargets: after >= 1.5x before at 50 ms x 64; >= 0.9 of the bound at "
              f"500 ms x 64 ({'met' if not missed else '; '.join(missed)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
