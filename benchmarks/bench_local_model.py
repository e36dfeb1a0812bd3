"""How fast is the embedded local model, and does concurrency buy anything?

Runs the same fixed short prompts through the local llama-cpp-python server at concurrency
1 and 4 (asyncio + `openai.AsyncOpenAI`, greedy decoding so both passes generate the same
tokens), then one engine generation over `seeds/tiny.txt` at both concurrencies, and prints
one table plus the machine it ran on.

Why both numbers: llama-cpp-python's server decodes one request at a time (a lock around
the model), so extra concurrency should not add tokens/s; it only queues. The engine
numbers show what that means for candidates/min, where client-side overlap (building
prompts, judging, committing to SQLite) can still hide a little latency.

    python benchmarks/bench_local_model.py            # 16 prompts, 8 seeds, 3 repeats (~4 min)
    python benchmarks/bench_local_model.py --quick    # 4 prompts, 4 seeds (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import openai
from machine import cpu_model

from evolviz.local_model import LOCAL_SAMPLING, LocalModel

ROOT = Path(__file__).resolve().parent.parent

PROMPTS = [
    "Why is the sky blue?",
    "Explain what a variable is in programming.",
    "List three ways to reduce food waste at home.",
    "Write a two-line poem about rain on a tin roof.",
    "What is 15 multiplied by 12? Show your steps.",
    "Describe how to boil an egg so the yolk stays soft.",
    "Suggest a name for a small coffee shop near a railway station.",
    "Write a Python function that returns the largest number in a list.",
    "Give two tips for a first job interview.",
    "What is the difference between weather and climate?",
    "Summarise the plot of Cinderella in three sentences.",
    "How do plants make food from sunlight?",
    "Name three planets and one fact about each.",
    "Why do we need sleep?",
    "Write a short thank-you note to a neighbour who watered my plants.",
    "Explain recursion to a ten-year-old.",
]


@dataclass
class PassResult:
    concurrency: int
    requests: int
    wall_s: float
    completion_tokens: int
    per_request_tps: list[float]

    @property
    def median_tps(self) -> float:
        return statistics.median(self.per_request_tps)

    @property
    def aggregate_tps(self) -> float:
        return self.completion_tokens / self.wall_s

    @property
    def requests_per_min(self) -> float:
        return 60.0 * self.requests / self.wall_s


async def one_pass(base_url: str, model: str, prompts: list[str], concurrency: int,
                   max_tokens: int) -> PassResult:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", timeout=600, max_retries=0)
    sem = asyncio.Semaphore(concurrency)
    tps: list[float] = []
    tokens = 0

    async def ask(prompt: str) -> None:
        nonlocal tokens
        async with sem:
            t0 = time.perf_counter()
            r = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}],
                temperature=0.0, max_tokens=max_tokens, seed=0,
            )
            dt = time.perf_counter() - t0
        n = r.usage.completion_tokens if r.usage else 0
        tokens += n
        tps.append(n / dt)

    t0 = time.perf_counter()
    await asyncio.gather(*(ask(p) for p in prompts))
    wall = time.perf_counter() - t0
    await client.close()
    return PassResult(concurrency, len(prompts), wall, tokens, tps)


@dataclass
class EngineResult:
    concurrency: int
    candidates: int
    wall_s: float
    statuses: dict[str, int]
    completion_tokens: int

    @property
    def per_min(self) -> float:
        return 60.0 * self.candidates / self.wall_s


async def engine_pass(base_url: str, model: str, seeds_path: Path, n_seeds: int,
                      concurrency: int) -> EngineResult:
    """One generation through the real engine, no response cache, a fresh store."""
    from evolviz.config import RunConfig
    from evolviz.engine import Evolution
    from evolviz.llm import LLMClient
    from evolviz.seeds import load_seeds
    from evolviz.store import RunStore
    from evolviz.templates import TemplateSet

    seeds = load_seeds(seeds_path).seeds[:n_seeds]
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.db")
        client = LLMClient(base_url, api_key="none", models=model, concurrency=concurrency,
                           timeout=600, max_retries=1, cache=None)
        config = RunConfig(seed=1, sampling=dict(LOCAL_SAMPLING))
        evo = Evolution(store, client, TemplateSet.load(), config, seeds=seeds)
        t0 = time.perf_counter()
        try:
            await evo.run(1)
        finally:
            await client.aclose()
        wall = time.perf_counter() - t0
        cands = list(store.candidates(generation=1))
        statuses: dict[str, int] = {}
        for c in cands:
            statuses[c.status] = statuses.get(c.status, 0) + 1
        completion = sum(client.tokens.completion.values())
        store.close()
    return EngineResult(concurrency, len(cands), wall, statuses, completion)


def _sum_passes(ps: list[PassResult]) -> PassResult:
    return PassResult(ps[0].concurrency, sum(p.requests for p in ps),
                      sum(p.wall_s for p in ps), sum(p.completion_tokens for p in ps),
                      [t for p in ps for t in p.per_request_tps])


def _sum_engines(es: list[EngineResult]) -> EngineResult:
    statuses: dict[str, int] = {}
    for e in es:
        for k, v in e.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    return EngineResult(es[0].concurrency, sum(e.candidates for e in es),
                        sum(e.wall_s for e in es), statuses,
                        sum(e.completion_tokens for e in es))


def machine_notes() -> str:
    cpu = cpu_model()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    import llama_cpp

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {cpu}, nproc {usable}, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, llama-cpp-python {llama_cpp.__version__}; "
            f"load average at the end {load} (other work on the machine skews the numbers)")


def render(passes: list[PassResult], engines: list[EngineResult]) -> str:
    head = ["concurrency", "requests", "wall_s", "median_tok/s/req", "aggregate_tok/s",
            "requests/min"]
    rows = [[p.concurrency, p.requests, f"{p.wall_s:.1f}", f"{p.median_tps:.1f}",
             f"{p.aggregate_tps:.1f}", f"{p.requests_per_min:.1f}"] for p in passes]
    if len(passes) == 2:
        a, b = passes
        rows.append([f"ratio {b.concurrency}/{a.concurrency}", "", "",
                     f"{b.median_tps / a.median_tps:.2f}",
                     f"{b.aggregate_tps / a.aggregate_tps:.2f}",
                     f"{b.requests_per_min / a.requests_per_min:.2f}"])
    out = [_table(head, rows)]
    if engines:
        head = ["concurrency", "candidates", "wall_s", "candidates/min", "completion_tok",
                "statuses"]
        rows = [[e.concurrency, e.candidates, f"{e.wall_s:.1f}", f"{e.per_min:.1f}",
                 e.completion_tokens,
                 " ".join(f"{k}={v}" for k, v in sorted(e.statuses.items()))]
                for e in engines]
        if len(engines) == 2:
            a, b = engines
            rows.append([f"ratio {b.concurrency}/{a.concurrency}", "", "",
                         f"{b.per_min / a.per_min:.2f}", "", ""])
        out += ["", "engine, one generation (rewrite + judge + answer per candidate):",
                _table(head, rows)]
    return "\n".join(out)


def _table(head: list[str], rows: list[list[object]]) -> str:
    cols = list(zip(head, *rows, strict=False))
    widths = [max(len(str(x)) for x in col) for col in cols]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(head, widths, strict=True))]
    lines += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    prompts = PROMPTS[:4] if args.quick else PROMPTS
    max_tokens = 48 if args.quick else args.max_tokens
    n_seeds = 4 if args.quick else 8
    repeats = 1 if args.quick else args.repeats
    levels = [1, args.concurrency]

    lm: LocalModel | None = None
    if args.base_url:
        base_url, model = args.base_url, args.model
    else:
        t0 = time.perf_counter()
        lm = await asyncio.to_thread(LocalModel(n_threads=args.threads).start)
        print(f"local model {lm.model_name} at {lm.base_url} "
              f"(ready in {time.perf_counter() - t0:.1f} s, {lm.n_threads} threads)",
              file=sys.stderr)
        base_url, model = lm.base_url, lm.model_name
    try:
        await one_pass(base_url, model, prompts[:1], 1, 8)  # warm-up, not measured
        # Alternate the order each repeat so that drift (other load, a VM's CPU steal)
        # does not all land on one concurrency level; results are summed per level.
        raw: dict[int, list[PassResult]] = {c: [] for c in levels}
        eng: dict[int, list[EngineResult]] = {c: [] for c in levels}
        run_engine = not args.no_engine
        if run_engine:
            try:
                import evolviz.engine  # noqa: F401
            except ImportError as e:
                print(f"engine part skipped: {e}", file=sys.stderr)
                run_engine = False
        for r in range(repeats):
            order = levels if r % 2 == 0 else levels[::-1]
            for c in order:
                raw[c].append(await one_pass(base_url, model, prompts, c, max_tokens))
                print(f"  repeat {r + 1}: raw pass c={c} done", file=sys.stderr)
            if run_engine:
                for c in order:
                    eng[c].append(await engine_pass(base_url, model, args.seeds, n_seeds, c))
                    print(f"  repeat {r + 1}: engine pass c={c} done", file=sys.stderr)
        passes = [_sum_passes(raw[c]) for c in levels]
        engines = [_sum_engines(eng[c]) for c in levels] if run_engine else []
    finally:
        if lm is not None:
            lm.stop()

    print(f"chat completions, {len(prompts)} prompts x {repeats} repeats, greedy, "
          f"max_tokens {max_tokens}:")
    print(render(passes, engines))
    print(machine_notes())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 prompts, 48 tokens, 4 seeds")
    p.add_argument("--concurrency", type=int, default=4, help="the level compared with 1")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="alternating passes per level")
    p.add_argument("--threads", type=int, default=None, help="server threads (default: all)")
    p.add_argument("--no-engine", action="store_true", help="skip the engine measurement")
    p.add_argument("--seeds", type=Path, default=ROOT / "seeds" / "tiny.txt")
    p.add_argument("--base-url", help="measure an already-running server instead")
    p.add_argument("--model", default="smollm2-135m-instruct", help="with --base-url")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
