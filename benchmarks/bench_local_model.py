"""How fast is a local Step, on llama-server and on llama-cpp-python's server?

Two measurements, one table each, plus the machine:

- the same fixed short prompts through the best server built (llama-server when
  `.ci/build-llama-server.sh` has run) at one request in flight, then at as many as the
  server decodes at once (asyncio + `openai.AsyncOpenAI`, greedy, so both passes generate
  the same tokens): what batching buys in tokens/s;
- a Step as the panel runs it (the first generation of a fresh run over `seeds/tiny.txt`,
  every rule on, `LOCAL_SAMPLING`), in each prompt style: "chat" (the first build's: the
  paper's editing instructions, rule 1 asked of the model's judge) and "few-shot" (the
  default now: worked examples to continue, rule 1 and not_a_task by the checks), with the
  difficulty judge off and on, alternated per repeat, as many calls in flight as the server
  decodes at once: seconds per Step, medians and the chat/few-shot ratio side by side.

Why both: llama-cpp-python's server decodes one request at a time behind a lock, so extra
concurrency only queues; llama-server batches its slots' calls and caches prompts. The
Step numbers are what a classroom waits for after pressing Step.

    python benchmarks/bench_local_model.py            # 16 prompts, 8 seeds, 3 repeats (~6 min)
    python benchmarks/bench_local_model.py --quick    # 4 prompts, 4 seeds, 1 repeat (CI)
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
from evolviz.local_model.programs import find_llama_server

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


#: The prompt styles a Step is measured in: (templates, who decides rule 1).
STYLES = {"chat": ("chat", "model"), "few-shot": ("few_shot", "check")}


@dataclass
class StepResult:
    program: str
    style: str
    difficulty: bool
    concurrency: int
    seconds: list[float]
    completion_tokens: list[int]
    statuses: dict[str, int]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


async def step_pass(base_url: str, model: str, seeds_path: Path, n_seeds: int,
                    concurrency: int, seed: int, difficulty: bool,
                    style: str = "few-shot") -> tuple[float, int, dict[str, int]]:
    """One Step as the panel runs it: the first generation of a fresh run, every rule on
    (the panel's default), in a prompt style, with or without the difficulty judge (which
    also rates the seeds in it), no response cache."""
    from evolviz.config import RunConfig
    from evolviz.run.engine import Evolution
    from evolviz.run.llm import LLMClient
    from evolviz.seeds import load_seeds
    from evolviz.store import RunStore
    from evolviz.templates import TemplateSet

    seeds = load_seeds(seeds_path).seeds[:n_seeds]
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.db")
        client = LLMClient(base_url, api_key="none", models=model, concurrency=concurrency,
                           timeout=600, max_retries=1, cache=None,
                           structured_style="llama_cpp")
        templates, judge = STYLES[style]
        config = RunConfig(seed=seed, sampling=dict(LOCAL_SAMPLING), judge=judge,
                           judge_difficulty=difficulty)
        evo = Evolution(store, client, TemplateSet.load(style=templates), config, seeds=seeds)
        t0 = time.perf_counter()
        try:
            await evo.run(1)
        finally:
            await client.aclose()
        wall = time.perf_counter() - t0
        statuses: dict[str, int] = {}
        for c in store.candidates(generation=1):
            statuses[c.status] = statuses.get(c.status, 0) + 1
        completion = sum(client.tokens.completion.values())
        store.close()
    return wall, completion, statuses


def _sum_passes(ps: list[PassResult]) -> PassResult:
    return PassResult(ps[0].concurrency, sum(p.requests for p in ps),
                      sum(p.wall_s for p in ps), sum(p.completion_tokens for p in ps),
                      [t for p in ps for t in p.per_request_tps])


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


def render(passes: list[PassResult], steps: list[StepResult]) -> str:
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
    if steps:
        head = ["server", "style", "difficulty_judge", "in_flight", "steps", "median_s",
                "min_s", "max_s", "median_completion_tok", "statuses"]
        rows = [[st.program, st.style, "on" if st.difficulty else "off", st.concurrency,
                 len(st.seconds), f"{st.median_s:.1f}",
                 f"{min(st.seconds):.1f}", f"{max(st.seconds):.1f}",
                 int(statistics.median(st.completion_tokens)),
                 " ".join(f"{k}={v}" for k, v in sorted(st.statuses.items()))]
                for st in steps]
        for program in dict.fromkeys(st.program for st in steps):
            for flag in (False, True):
                pair = {st.style: st for st in steps
                        if st.program == program and st.difficulty == flag}
                if len(pair) == 2:
                    rows.append([program, "ratio chat/few-shot", "on" if flag else "off", "",
                                 "", f"{pair['chat'].median_s / pair['few-shot'].median_s:.2f}",
                                 "", "", "", ""])
        out += ["", "Step: one generation of a fresh run (rewrite, every rule, answer; with "
                "the difficulty judge also the seeds' and candidates' ratings):",
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

    if args.base_url:
        servers = {"given": (args.base_url, args.model, args.concurrency or 1)}
        started: list[LocalModel] = []
    else:
        programs = ["llama-server"] if find_llama_server() else ["python"]
        if args.program:
            programs = ["python", "llama-server"] if args.program == "both" else [args.program]
        started = []
        servers = {}
        for name in programs:
            t0 = time.perf_counter()
            lm = await asyncio.to_thread(
                LocalModel(n_threads=args.threads, program=name, use_env=False).start)
            started.append(lm)
            assert lm.program is not None
            print(f"{lm.program.name}: {lm.model_name} at {lm.base_url} (ready in "
                  f"{time.perf_counter() - t0:.1f} s, {lm.n_threads} threads, "
                  f"{lm.slots} slot(s))", file=sys.stderr)
            servers[lm.program.name] = (lm.base_url, lm.model_name, lm.slots)
    try:
        # The raw passes on the best server found: one request at a time, then as many
        # as it decodes at once.
        base_url, model, slots = list(servers.values())[-1]
        levels = [1, args.concurrency or max(slots, 2)]
        await one_pass(base_url, model, prompts[:1], 1, 8)  # warm-up, not measured
        raw: dict[int, list[PassResult]] = {c: [] for c in levels}
        styles = ["few-shot"] if args.quick else list(STYLES)
        steps = {(name, style, flag): StepResult(name, style, flag, conc, [], [], {})
                 for name, (_u, _m, conc) in servers.items() for style in styles
                 for flag in (False, True)}
        for r in range(repeats):
            # Alternate the order each repeat so that drift (other load, a VM's CPU steal)
            # does not all land on one level or one server.
            order = levels if r % 2 == 0 else levels[::-1]
            for c in order:
                raw[c].append(await one_pass(base_url, model, prompts, c, max_tokens))
                print(f"  repeat {r + 1}: raw pass c={c} done", file=sys.stderr)
            if args.no_engine:
                continue
            keys = list(steps) if r % 2 == 0 else list(steps)[::-1]
            for name, style, flag in keys:
                url, mdl, conc = servers[name]
                wall, tokens, statuses = await step_pass(url, mdl, args.seeds, n_seeds, conc,
                                                         seed=r + 1, difficulty=flag,
                                                         style=style)
                st = steps[name, style, flag]
                st.seconds.append(wall)
                st.completion_tokens.append(tokens)
                for k, v in statuses.items():
                    st.statuses[k] = st.statuses.get(k, 0) + v
                print(f"  repeat {r + 1}: Step on {name}, {style}, difficulty judge "
                      f"{'on' if flag else 'off'}: {wall:.1f} s", file=sys.stderr)
        passes = [_sum_passes(raw[c]) for c in levels]
    finally:
        for lm in started:
            lm.stop()

    print(f"chat completions on {list(servers)[-1]}, {len(prompts)} prompts x {repeats} "
          f"repeats, greedy, max_tokens {max_tokens}:")
    print(render(passes, [] if args.no_engine else list(steps.values())))
    print(machine_notes())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 prompts, 48 tokens, 4 seeds, 1 repeat")
    p.add_argument("--concurrency", type=int, default=None,
                   help="the level compared with 1 (default: the server's slots)")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="alternating passes per level")
    p.add_argument("--threads", type=int, default=None, help="server threads (default: all)")
    p.add_argument("--no-engine", action="store_true", help="skip the Step measurement")
    p.add_argument("--program", choices=["python", "llama-server", "both"],
                   help="which server program (default: llama-server when built)")
    p.add_argument("--seeds", type=Path, default=ROOT / "seeds" / "tiny.txt")
    p.add_argument("--base-url", help="measure an already-running server instead")
    p.add_argument("--model", default="smollm2-135m-instruct", help="with --base-url")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
