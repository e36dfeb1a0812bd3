"""The few statistics the workbench needs, in plain Python.

Why not scipy: these are a handful of closed forms over counts, and `evolviz compare` and
`evolviz estimate` must run wherever the engine runs, without a numeric stack. Every
function here is exact or a textbook approximation named in its docstring, so a reader can
check a number by hand.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Interval", "bootstrap", "fisher_exact", "holm", "mcnemar_exact", "wilson"]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A point value with its 95% interval (`low`/`high` are None when nothing was seen)."""

    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "low": self.low, "high": self.high}


def wilson(k: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for a rate k/n: unlike the normal one it stays inside [0, 1]
    and is honest at 0/n, which is exactly the broken-template case."""
    if n <= 0:
        return Interval(None, None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def _log_hypergeom(a: int, row1: int, col1: int, n: int) -> float:
    return (math.lgamma(row1 + 1) - math.lgamma(a + 1) - math.lgamma(row1 - a + 1)
            + math.lgamma(n - row1 + 1) - math.lgamma(col1 - a + 1)
            - math.lgamma(n - row1 - col1 + a + 1)
            - (math.lgamma(n + 1) - math.lgamma(col1 + 1) - math.lgamma(n - col1 + 1)))


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p-value for k1/n1 against k2/n2 (tables as or less likely
    than the one seen, with a small relative tolerance as R and scipy use)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    n, col1 = n1 + n2, k1 + k2
    lo, hi = max(0, col1 - n2), min(n1, col1)
    observed = _log_hypergeom(k1, n1, col1, n)
    total = 0.0
    for a in range(lo, hi + 1):
        lp = _log_hypergeom(a, n1, col1, n)
        if lp <= observed + 1e-7:
            total += math.exp(lp)
    return min(1.0, total)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar p-value: b and c are the discordant pairs (A yes/B no, A no/B yes);
    under no difference each discordant pair is a fair coin."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                        - n * math.log(2)) for i in range(k + 1))
    return min(1.0, 2 * tail)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given): controls the chance of any
    false flag across the whole family, which is what "flag the broken operator and no
    other" needs, without Bonferroni's full price."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def bootstrap(rows: Sequence[object], statistic: Callable[[Sequence[object]], float | None],
              *, resamples: int = 1000, seed: int = 0) -> Interval:
    """Percentile bootstrap of `statistic` over `rows` (resampled with replacement).

    Seeded, so a report is reproducible; rows are whole candidates, so ratios such as tokens
    per accepted instruction keep their numerator and denominator together.
    """
    point = statistic(rows) if rows else None
    if point is None:
        return Interval(None, None, None)
    rng = random.Random(seed)
    n = len(rows)
    values = []
    for _ in range(resamples):
        v = statistic([rows[rng.randrange(n)] for _ in range(n)])
        if v is not None:
            values.append(v)
    if not values:
        return Interval(point, None, None)
    values.sort()
    lo = values[int(0.025 * (len(values) - 1))]
    hi = values[math.ceil(0.975 * (len(values) - 1))]
    return Interval(point, min(lo, point), max(hi, point))
