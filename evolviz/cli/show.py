"""`evolviz show` and `evolviz check`: a run for a person, and its integrity."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputError

__all__ = ["cmd_check", "cmd_show", "render_candidate", "render_table"]


def render_table(store) -> str:
    from ..gates import GATE_RULES
    from ..rules import RULE_IDS

    # The candidate rules, then the dataset gates.
    rules = (*[r for r in RULE_IDS if r not in GATE_RULES], *GATE_RULES)
    short = {"rewrite_invalid": "invalid", "no_information_gain": "r1_nogain",
             "sorry_short_answer": "r2_sorry", "stopwords_only_answer": "r3_stopw",
             "copied_prompt_wording": "r4_copied", "answer_refusal": "x_refusal",
             "answer_truncated": "x_trunc", "answer_filtered": "x_filter",
             "judge_unclear": "x_unclear", "not_a_task": "x_notask",
             "off_topic": "x_offtopic", "answer_echo": "x_echo",
             "contaminated": "contam", "duplicate": "dup"}
    head = ["gen", "pool", "done", "accepted", *[short[r] for r in rules], "failed",
            "tokens", "time_s", "state"]
    rows = []
    for s in store.generation_stats():
        rows.append([s.generation, s.pool_size, s.done, s.accepted,
                     *[s.rejected.get(r, 0) for r in rules], s.failed, s.tokens,
                     f"{s.wall_time:.1f}", "done" if s.finished else "partial"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(head, widths, strict=True))]
    lines += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("r1-r4: the paper's rules; x_*: rules beyond it (--paper-rules switches "
                 "them off); contam, dup: the dataset gates")
    failed = {}
    for s in store.generation_stats():
        for k, v in s.failed_by.items():
            failed[k] = failed.get(k, 0) + v
    if failed:
        lines.append("failed by error class: " + ", ".join(f"{k}={v}" for k, v in
                                                          sorted(failed.items())))
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from ..store import RunStore

    with RunStore(args.store, create=False) as store:
        if args.candidate:
            cand = store.candidate(args.candidate)
            if cand is None:
                raise InputError(f"{args.store}: no candidate {args.candidate!r}")
            print(render_candidate(cand))
        else:
            print(render_table(store))
    return 0


def render_candidate(c: Any) -> str:
    """A candidate for the terminal; every stored string passes through `inert`."""
    from ..textsafe import inert

    lines = [f"{c.id}  generation {c.generation}  operator {c.operator}  status {c.status}"
             + (f"  rejected by {c.rejected_by}" if c.rejected_by else "")
             + (f"  error {c.error_class}" if c.error_class else ""),
             f"parent {c.parent_id}: {inert(c.parent_instruction)}",
             f"instruction: {inert(c.instruction)}",
             f"answer: {inert(c.answer)}", "verdicts:"]
    for v in c.verdicts:
        lines.append(f"  {'pass' if v.passed else 'FAIL'} {v.rule}: {inert(v.reason)}")
        if v.detail:  # the evidence: words matched, judge text read, finish reason
            lines.append("      evidence: " + "; ".join(
                f"{k}={inert(str(val))[:200]}" for k, val in v.detail.items()))
    for name, call in c.calls.items():
        lines.append(f"--- {name} ({call.model}, {call.prompt_tokens}+{call.completion_tokens}"
                     f" tokens, finish {call.finish_reason}) ---")
        for m in call.messages:
            lines.append(f"[{m['role']}] {inert(m['content'])}")
        lines.append(f"[response] {inert(call.content)}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from ..store import RunStore, check_store

    with RunStore(args.store, create=False) as store:
        problems = check_store(store)
    if problems:
        for p in problems:
            print(f"{args.store}: {p}")
        return 1
    print(f"{args.store}: ok")
    return 0
