"""Peers on the same endpoint: N independent chat calls, 64 in flight, timed in-process.

Run by `bench_engine.py` with the interpreter of a separate venv where the peers are
installed (they pin other versions of openai and friends than evolviz does):

    python -m venv peers && peers/bin/pip install bespokelabs-curator distilabel
    python benchmarks/bench_engine.py --peers-python peers/bin/python

Prints one JSON line: {"tool": calls per second, or "error: ..." when it could not run}.
Each tool is given the same prompts and the same concurrency, and is timed from the call
that starts its batch to the moment it returns (imports and set-up excluded); what each
does around the calls (curator's dataset and cache files, distilabel's task objects) is
part of its time, as evolviz's store writes are part of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

# Peers phone home or cache by default; a benchmark does neither.
os.environ.setdefault("TELEMETRY_ENABLED", "false")
os.environ.setdefault("CURATOR_DISABLE_CACHE", "true")
os.environ.setdefault("CURATOR_DISABLE_RICH_DISPLAY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DISTILABEL_TELEMETRY", "0")


def prompts(n: int) -> list[str]:
    return [f"Rewrite this instruction to be harder: Explain topic number {i} simply."
            for i in range(n)]


class _StandInEncoding:
    """curator counts prompt tokens with tiktoken's cl100k_base, a file tiktoken downloads
    at run time, which this machine cannot. A whitespace split stands in: cheaper than
    the real encoder, so curator's figure here is if anything higher than it would be."""

    name = "stand-in"

    def encode(self, text, **_):
        return str(text).split()


def run_curator(url: str, n: int, conc: int) -> float:
    from bespokelabs import curator
    from bespokelabs.curator.request_processor.online import openai_online_request_processor

    openai_online_request_processor.OpenAIOnlineRequestProcessor.get_token_encoding = (
        lambda self: _StandInEncoding())

    class Rewrite(curator.LLM):
        def prompt(self, row):
            return row["text"]

        def parse(self, row, response):
            return {"text": row["text"], "out": response}

    os.environ["CURATOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="curator-")
    llm = Rewrite(model_name="fake-model", backend="openai",
                  backend_params={"base_url": url, "api_key": "none",
                                  "max_concurrent_requests": conc,
                                  "max_requests_per_minute": 10_000_000,
                                  "max_tokens_per_minute": 10_000_000_000,
                                  "max_retries": 1, "require_all_responses": False})
    rows = [{"text": p} for p in prompts(n)]
    t = time.perf_counter()
    out = llm(rows)
    elapsed = time.perf_counter() - t
    got = len(out.dataset) if hasattr(out, "dataset") else len(out)
    if got != n:
        raise RuntimeError(f"curator returned {got} of {n} rows")
    return n / elapsed


def run_distilabel(url: str, n: int, conc: int) -> float:
    from distilabel.models import OpenAILLM

    llm = OpenAILLM(model="fake-model", base_url=url, api_key="none", max_retries=1)
    llm.load()
    limit = asyncio.Semaphore(conc)

    async def one(text: str):
        async with limit:
            return await llm.agenerate(input=[{"role": "user", "content": text}])

    async def batch():
        return await asyncio.gather(*[one(p) for p in prompts(n)])

    t = time.perf_counter()
    out = asyncio.run(batch())
    elapsed = time.perf_counter() - t
    if len(out) != n:
        raise RuntimeError(f"distilabel returned {len(out)} of {n}")
    return n / elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--tool", choices=["curator", "distilabel"], required=True)
    args = ap.parse_args()
    run = {"curator": run_curator, "distilabel": run_distilabel}[args.tool]
    try:
        result: float | str = run(args.url, args.n, args.concurrency)
    except Exception as e:  # reported in the table, never invented
        result = f"error: {type(e).__name__}: {str(e)[:200]}"
    print(json.dumps({args.tool: result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
