"""Verdict accuracy per class on tests/verdict_corpus, before and after issue 11.

"after" runs every case end to end: the real engine and store against the scripted
OpenAI-compatible server over loopback sockets. "before" applies the old rules (kept
verbatim in verdicts_before.py) in the old engine's order to the same scripted replies.
A case counts as right when status, rule and any pinned evidence (cause, extracted
instruction, difficulty) match what a careful person gave. ("before" had no causes for
most verdicts, so a case that pins a cause the old code did not name counts as wrong.)

    python benchmarks/bench_verdicts.py            # every case
    python benchmarks/bench_verdicts.py --quick    # CI: every third case
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from verdicts_before import judge_before

from evolviz.templates import TemplateSet
from evolviz.testing.corpus import load_cases, run_cases

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every third case only")
    args = parser.parse_args(argv)
    templates = TemplateSet.load()
    cases = load_cases(ROOT / "tests" / "verdict_corpus", list(templates.operators))
    if args.quick:
        cases = cases[::3]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        after = asyncio.run(run_cases(cases, workdir, templates=templates))
    took = time.perf_counter() - started
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # before, after, total
    wrong_after = []
    for outcome in after:
        case = outcome.case
        old = judge_before(case.replies, case.parent, templates.operators[case.operator],
                           templates.markers())
        row = right[case.cls]
        row[0] += not case.check(old)
        row[1] += not outcome.wrong
        row[2] += 1
        if outcome.wrong:
            wrong_after.append((case.id, outcome.wrong))
    width = max(len(c) for c in right) + 2
    print(f"{'class':{width}} {'cases':>5}  {'before':>7}  {'after':>7}")
    totals = [0, 0, 0]
    for cls in sorted(right):
        b, a, n = right[cls]
        totals = [totals[0] + b, totals[1] + a, totals[2] + n]
        print(f"{cls:{width}} {n:5d}  {b / n:7.0%}  {a / n:7.0%}")
    b, a, n = totals
    print(f"{'all':{width}} {n:5d}  {b / n:7.0%}  {a / n:7.0%}")
    print(f"verdict accuracy: before {b}/{n} ({b / n:.1%}), after {a}/{n} ({a / n:.1%}); "
          f"end-to-end run of {n} candidates in {took:.1f} s")
    for cid, why in wrong_after:
        print(f"  after, wrong: {cid}: {'; '.join(why)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
