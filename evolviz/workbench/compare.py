"""Two runs side by side: did the template change make things better, or is it noise?

A person editing a template re-runs it and sees different numbers; the question is whether
the difference is larger than chance. So every rate comes with its 95% interval, each
difference is tested, and the tests are corrected together (Holm) because a report checks a
dozen operators and rules at once and would otherwise "find" something every time.

When both runs evolved the same seeds with the same `--seed`, they drew the same operator
for every (generation, slot): the comparison is then paired, candidate by candidate
(McNemar), which removes the seed-to-seed variation and is far more sensitive; the seeds
whose outcome flipped are listed, which is where a person looks first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..records import Candidate
from ..rules import RULE_IDS
from ..store import RunStore
from .stats import bootstrap, fisher_exact, holm, mcnemar_exact, wilson

__all__ = ["ALPHA", "Row", "compare_stores", "load_rows", "render_comparison"]

ALPHA = 0.05


@dataclass(frozen=True)
class Row:
    """What comparing needs from one candidate (the record without its texts)."""

    generation: int
    slot: int
    seed_id: str
    operator: str
    status: str
    rejected_by: str | None
    difficulty: float | None
    prompt_tokens: int
    completion_tokens: int
    # Of those, the tokens of calls answered in a batch (paid at the batch price).
    batch_prompt_tokens: int = 0
    batch_completion_tokens: int = 0

    @classmethod
    def of(cls, c: Candidate) -> Row:
        calls = [x for x in c.calls.values() if not x.cached]
        batched = [x for x in calls if x.batch_id is not None]
        return cls(c.generation, c.slot, c.seed_id, c.operator, c.status, c.rejected_by,
                   c.difficulty, sum(x.prompt_tokens for x in calls),
                   sum(x.completion_tokens for x in calls),
                   sum(x.prompt_tokens for x in batched),
                   sum(x.completion_tokens for x in batched))


def load_rows(store: RunStore) -> list[Row]:
    return [Row.of(c) for c in store.candidates()]


def _cost(r: Row, prices: tuple[float, float] | None, discount: float = 0.5) -> float:
    """Tokens without prices; with them, USD, a batch call's tokens at `discount` x."""
    if prices is None:
        return float(r.prompt_tokens + r.completion_tokens)
    full = (r.prompt_tokens * prices[0] + r.completion_tokens * prices[1]) / 1e6
    batch = (r.batch_prompt_tokens * prices[0] + r.batch_completion_tokens * prices[1]) / 1e6
    return full - (1 - discount) * batch


def _per_accepted(rows: Sequence[Row], prices: tuple[float, float] | None,
                  discount: float = 0.5) -> float | None:
    accepted = sum(r.status == "accepted" for r in rows)
    return sum(_cost(r, prices, discount) for r in rows) / accepted if accepted else None


def _mean_difficulty(rows: Sequence[Row]) -> float | None:
    vals = [r.difficulty for r in rows if r.difficulty is not None]
    return sum(vals) / len(vals) if vals else None


def _test(name: str, kind: str, metric: str, pred: Callable[[Row], bool],
          select: Callable[[Row], bool], a: list[Row], b: list[Row],
          pairs: list[tuple[Row, Row]] | None) -> dict[str, Any]:
    """One rate in both runs, its intervals and an unadjusted p-value."""
    sa, sb = [r for r in a if select(r)], [r for r in b if select(r)]
    ka, kb = sum(map(pred, sa)), sum(map(pred, sb))
    out: dict[str, Any] = {"kind": kind, "name": name, "metric": metric,
                           "a": wilson(ka, len(sa)).to_dict(), "n_a": len(sa), "k_a": ka,
                           "b": wilson(kb, len(sb)).to_dict(), "n_b": len(sb), "k_b": kb}
    if pairs is not None:
        mine = [(x, y) for x, y in pairs if select(x)]
        only_a = sum(pred(x) and not pred(y) for x, y in mine)
        only_b = sum(pred(y) and not pred(x) for x, y in mine)
        out.update(test="mcnemar", pairs=len(mine), only_a=only_a, only_b=only_b,
                   p=mcnemar_exact(only_a, only_b))
    else:
        out.update(test="fisher", p=fisher_exact(ka, len(sa), kb, len(sb)))
    return out


def _pairing(sa: RunStore, sb: RunStore) -> tuple[bool, str]:
    fa, fb = sa.get_meta("seeds_fingerprint"), sb.get_meta("seeds_fingerprint")
    if fa is None or fa != fb:
        return False, "the runs evolved different seeds"
    seed_a = (sa.get_meta("config") or {}).get("seed")
    seed_b = (sb.get_meta("config") or {}).get("seed")
    if seed_a != seed_b:
        return False, f"the runs used different --seed ({seed_a} and {seed_b})"
    return True, f"same seeds and --seed {seed_a}: candidates compared slot by slot"


def compare_stores(a: RunStore, b: RunStore, *,
                   prices: tuple[float, float] | None = None,
                   batch_discount: float = 0.5) -> dict[str, Any]:
    """The comparison as plain data (what `evolviz compare --json` prints). With prices,
    a call answered in a batch costs `batch_discount` of the live price."""
    rows_a, rows_b = load_rows(a), load_rows(b)
    paired, why = _pairing(a, b)
    pairs: list[tuple[Row, Row]] | None = None
    unmatched = 0
    if paired:
        by_slot = {(r.generation, r.slot): r for r in rows_b}
        pairs = []
        for r in rows_a:
            other = by_slot.get((r.generation, r.slot))
            if other is not None and other.operator == r.operator:
                pairs.append((r, other))
            else:
                unmatched += 1
        if not pairs:
            paired, pairs, why = False, None, "no candidate slot with the same operator"

    every = lambda r: True  # noqa: E731
    tests = []
    operators = sorted({r.operator for r in rows_a} | {r.operator for r in rows_b})
    for op in operators:
        tests.append(_test(op, "operator", "acceptance", lambda r: r.status == "accepted",
                           lambda r, op=op: r.operator == op, rows_a, rows_b, pairs))
    rules = [r for r in RULE_IDS] + sorted(
        {r.rejected_by for r in rows_a + rows_b if r.rejected_by} - set(RULE_IDS))
    for rule in rules:
        tests.append(_test(rule, "rule", "rejection", lambda r, rule=rule:
                           r.rejected_by == rule, every, rows_a, rows_b, pairs))
    tests.append(_test("all", "failures", "failure", lambda r: r.status == "failed", every,
                       rows_a, rows_b, pairs))
    for t, p_adj in zip(tests, holm([t["p"] for t in tests]), strict=True):
        t["p_adjusted"] = p_adj
        t["significant"] = p_adj < ALPHA
    significant = [{"kind": t["kind"], "name": t["name"], "metric": t["metric"],
                    "a": t["a"]["value"], "b": t["b"]["value"], "p_adjusted": t["p_adjusted"],
                    "direction": "higher in B" if (t["b"]["value"] or 0) > (t["a"]["value"] or 0)
                    else "lower in B"} for t in tests if t["significant"]]

    generations = sorted({r.generation for r in rows_a} | {r.generation for r in rows_b})
    difficulty = []
    for g in generations:
        da = bootstrap([r for r in rows_a if r.generation == g], _mean_difficulty)
        db = bootstrap([r for r in rows_b if r.generation == g], _mean_difficulty)
        if da.value is not None or db.value is not None:
            difficulty.append({"generation": g, "a": da.to_dict(), "b": db.to_dict()})

    flipped = []
    for x, y in pairs or []:
        if (x.status == "accepted") != (y.status == "accepted"):
            flipped.append({"seed_id": x.seed_id, "generation": x.generation, "slot": x.slot,
                            "operator": x.operator, "a": x.rejected_by or x.status,
                            "b": y.rejected_by or y.status})

    def side(store: RunStore, rows: list[Row]) -> dict[str, Any]:
        accepted = sum(r.status == "accepted" for r in rows)
        return {"store": str(store.path), "candidates": len(rows), "accepted": accepted,
                "acceptance": wilson(accepted, len(rows)).to_dict(),
                "seed": (store.get_meta("config") or {}).get("seed"),
                "prompt_tokens": sum(r.prompt_tokens for r in rows),
                "completion_tokens": sum(r.completion_tokens for r in rows),
                "batch_tokens": sum(r.batch_prompt_tokens + r.batch_completion_tokens
                                    for r in rows)}

    return {
        "a": side(a, rows_a), "b": side(b, rows_b),
        "paired": paired, "pairing": why, "pairs": len(pairs or []),
        "unpaired_candidates": unmatched, "alpha": ALPHA, "correction": "holm",
        "tests": tests, "significant": significant,
        "difficulty_by_generation": difficulty,
        "tokens_per_accepted": {
            "a": bootstrap(rows_a, lambda rs: _per_accepted(rs, None)).to_dict(),
            "b": bootstrap(rows_b, lambda rs: _per_accepted(rs, None)).to_dict()},
        "cost_per_accepted": None if prices is None else {
            "price_in": prices[0], "price_out": prices[1], "unit": "USD",
            "batch_discount": batch_discount,
            "a": bootstrap(rows_a, lambda rs: _per_accepted(rs, prices, batch_discount)
                           ).to_dict(),
            "b": bootstrap(rows_b, lambda rs: _per_accepted(rs, prices, batch_discount)
                           ).to_dict()},
        "flipped": flipped,
    }


def _iv(d: dict[str, Any], pct: bool = False, digits: int = 1) -> str:
    if d["value"] is None:
        return "-"
    f = (lambda v: f"{100 * v:.{digits}f}%") if pct else (lambda v: f"{v:.{digits}f}")
    lo = "?" if d["low"] is None else f(d["low"])
    hi = "?" if d["high"] is None else f(d["high"])
    return f"{f(d['value'])} [{lo}, {hi}]"


def render_comparison(report: dict[str, Any]) -> str:
    """The report for a terminal; the only stored strings shown (ids) pass through `inert`."""
    from ..textsafe import inert

    a, b = report["a"], report["b"]
    lines = [f"A: {a['store']}  ({a['candidates']} candidates, {a['accepted']} accepted)",
             f"B: {b['store']}  ({b['candidates']} candidates, {b['accepted']} accepted)",
             ("paired: " if report["paired"] else "unpaired: ") + report["pairing"],
             "", f"{'':28}{'A (95% CI)':>26}{'B (95% CI)':>26}  {'test':8}{'p adj':>8}"]
    for t in report["tests"]:
        if t["k_a"] == t["k_b"] == 0 and t["kind"] != "operator":
            continue
        label = inert(f"{t['kind']} {t['name']}")[:27]
        mark = "  *" if t["significant"] else ""
        lines.append(f"{label:28}{_iv(t['a'], True):>26}{_iv(t['b'], True):>26}  "
                     f"{t['test']:8}{t['p_adjusted']:>8.3g}{mark}")
    for d in report["difficulty_by_generation"]:
        lines.append(f"{'difficulty gen ' + str(d['generation']):28}{_iv(d['a']):>26}"
                     f"{_iv(d['b']):>26}")
    tpa = report["tokens_per_accepted"]
    lines.append(f"{'tokens per accepted':28}{_iv(tpa['a'], digits=0):>26}"
                 f"{_iv(tpa['b'], digits=0):>26}")
    if report["cost_per_accepted"]:
        cpa = report["cost_per_accepted"]
        lines.append(f"{'USD per accepted':28}{_iv(cpa['a'], digits=6):>26}"
                     f"{_iv(cpa['b'], digits=6):>26}")
        if a.get("batch_tokens") or b.get("batch_tokens"):
            lines.append(f"{'':28}calls answered in batches at {cpa['batch_discount']:g} x "
                         f"the live price")
    lines.append("")
    if report["significant"]:
        lines.append("significant (Holm-adjusted p < 0.05): " + "; ".join(
            f"{s['kind']} {s['name']} {s['metric']} {s['direction']}"
            for s in report["significant"]))
    else:
        lines.append("no significant difference (Holm-adjusted p < 0.05)")
    flipped = report["flipped"]
    if flipped:
        lines.append(f"{len(flipped)} candidates flipped between accepted and not:")
        lines += [f"  {inert(f['seed_id'])} gen {f['generation']} {inert(f['operator'])}: "
                  f"A {f['a']} / B {f['b']}" for f in flipped[:20]]
        if len(flipped) > 20:
            lines.append(f"  ... and {len(flipped) - 20} more (--json lists all)")
    return "\n".join(lines)
