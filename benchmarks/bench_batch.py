"""Batch mode's own cost, beside the live engine's, on the same loopback server.

A batch provider takes hours; what evolviz adds on its side is CPU (building request
lines, judging each candidate again once per stage round, parsing result lines, the
ledger's writes) and store space (the ledger). This prints, for one generation of N
seeds at zero latency (batches complete at once, polled every 10 ms):

- live and batch: wall seconds, evolviz CPU ms per candidate, batches, store KB per
  candidate, and the batch/live ratio of CPU;
- the line format alone: encoding request lines and reading result lines, µs per line,
  and what that is for the paper-sized run's ~600K calls.

The server runs in its own process (`python -m evolviz.testing.serve --evol
--batch-delay 0`) so its work does not count against evolviz.

    python benchmarks/bench_batch.py            # N = 2000, medians of 3
    python benchmarks/bench_batch.py --quick    # CI: N = 150, once
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

from evolviz.calls import Sampling
from evolviz.config import RunConfig
from evolviz.run.batch import BatchRun, BatchSettings
from evolviz.run.batch_api import OpenAIBatches
from evolviz.run.batch_lines import Line, outcome_of, split_files
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient, ResponseCache
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.store.batches import LineRow
from evolviz.templates import TemplateSet
from evolviz.testing.synthetic import synthetic_instructions


def start_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolviz.testing.serve", "--port", "0", "--evol",
         "--batch-delay", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def seeds(n: int) -> list[Seed]:
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


async def one_run(url: str, n: int, folder: Path, batch: bool) -> dict[str, float]:
    path = folder / f"{'b' if batch else 'l'}{time.monotonic_ns()}.db"
    store = RunStore(path)
    client = LLMClient(url, models="fake-model", concurrency=16, timeout=60,
                       cache=ResponseCache(path))
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(), seeds=seeds(n))
    batches = 0
    t, cpu = time.perf_counter(), time.process_time()
    if batch:
        api = OpenAIBatches(url)
        runner = BatchRun(evo, client, api, BatchSettings(poll_interval=0.01))
        await runner.run(1)
        await api.aclose()
        batches = runner.report.submitted
    else:
        await evo.run(1)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    calls = sum(client.tokens.calls.values())
    await client.aclose()
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    client.cache.close()
    size = path.stat().st_size
    return {"wall": wall, "cpu_ms": 1000 * cpu / n, "calls": calls / n, "batches": batches,
            "kb": size / 1024 / n}


def line_costs(k: int) -> tuple[float, float]:
    """µs per request line encoded (and split into files), and per result line read."""
    messages = [{"role": "user", "content": "Rewrite the task below into a harder one. " * 8}]
    lines = [Line(f"g1-{i:06d}/rewrite", f"g1-{i:06d}", "rewrite", "k" * 64, "rewrite",
                  {"model": "m", "messages": messages, "temperature": 0.7, "top_p": 1.0,
                   "max_tokens": 384, "seed": i}, "evolver", messages, Sampling())
             for i in range(k)]
    t = time.perf_counter()
    files = list(split_files(lines, 50_000, 200_000_000))
    encode = (time.perf_counter() - t) / k * 1e6
    assert sum(len(p) for p, _ in files) == k
    body = {"choices": [{"message": {"content": "An answer of some forty words. " * 6},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40}}
    objs = [json.dumps({"custom_id": ln.custom_id, "response": {"status_code": 200,
                                                                "body": body}})
            for ln in lines]
    row = LineRow("x", 1, "o", "rewrite", "k", 1, "submitted", False, 0, 1, None)
    t = time.perf_counter()
    for raw in objs:
        outcome_of(json.loads(raw), row, "batch_1", 1.0)
    parse = (time.perf_counter() - t) / k * 1e6
    return encode, parse


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, repeats, k = (150, 1, 5_000) if args.quick else (2000, args.repeats, 50_000)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python "
          f"{platform.python_version()}")
    folder = Path(tempfile.mkdtemp(prefix="evz-bench-batch-"))
    proc, url = start_server()
    try:
        rows = {}
        for mode in ("live", "batch"):
            runs = [asyncio.run(one_run(url, n, folder, mode == "batch"))
                    for _ in range(repeats)]
            rows[mode] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    finally:
        proc.terminate()
        proc.wait()
    print(f"{'mode':>6} {'n':>5} {'wall_s':>7} {'cpu_ms/cand':>11} {'calls/cand':>10} "
          f"{'batches':>7} {'store_kb/cand':>13} {'cpu vs live':>11}")
    for mode, r in rows.items():
        print(f"{mode:>6} {n:>5} {r['wall']:>7.2f} {r['cpu_ms']:>11.2f} {r['calls']:>10.2f} "
              f"{r['batches']:>7.0f} {r['kb']:>13.2f} "
              f"{r['cpu_ms'] / rows['live']['cpu_ms']:>10.2f}x")
    encode, parse = line_costs(k)
    print(f"{'line format':>12} {'lines':>7} {'us/line':>8} {'600K calls, s':>14}")
    print(f"{'encode+split':>12} {k:>7} {encode:>8.1f} {encode * 600_000 / 1e6:>14.1f}")
    print(f"{'read result':>12} {k:>7} {parse:>8.1f} {parse * 600_000 / 1e6:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
