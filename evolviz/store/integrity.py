"""`evolviz check`: what a store must satisfy, checked from its rows, not its summaries."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from .run_store import RunStore

__all__ = ["check_store"]


def check_store(store: RunStore) -> list[str]:
    """Every broken invariant, described; an empty list means the store is sound."""
    problems: list[str] = []
    conn = store.conn
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        problems.append(f"SQLite integrity check failed: {result}")
    seeds = store.seed_count()
    finished = store.finished_generations()
    for g in finished:
        s = store.count_generation(g)
        if s.pool_size != seeds:
            problems.append(f"generation {g}: pool holds {s.pool_size} members, not {seeds}")
        if s.done != s.pool_size:
            problems.append(f"generation {g}: {s.done} candidates for a pool of {s.pool_size}")
        row = conn.execute("SELECT accepted, failed FROM generations WHERE generation=?",
                           (g,)).fetchone()
        if row and (row[0] != s.accepted or row[1] != s.failed):
            problems.append(f"generation {g}: summary says {row[0]} accepted/{row[1]} failed "
                            f"but the rows say {s.accepted}/{s.failed}")
        nxt = conn.execute("SELECT count(*) FROM pool WHERE generation=?", (g + 1,)).fetchone()
        if nxt[0] != seeds:
            problems.append(f"generation {g + 1}: the pool after generation {g} is missing")
    if store.get_meta("optimize") is not None:
        # An `evolviz optimize` store: generation k holds step k's evaluation of the same
        # dev pool (generation 1's), one candidate per slot, not an evolution's generations.
        stray = conn.execute(
            "SELECT count(*) FROM candidates c LEFT JOIN pool p ON p.generation = 1 "
            "AND p.slot = c.slot WHERE p.member_id IS NULL OR p.member_id != c.parent_id"
        ).fetchone()[0]
        if stray:
            problems.append(f"{stray} optimize candidate(s) whose parent is not the dev pool "
                            f"member of their slot")
    else:
        # With no finished generation, only generation 1 may have candidates.
        open_generation = finished[-1] + 1 if finished else 1
        for (g,) in conn.execute("SELECT DISTINCT generation FROM candidates"):
            if g not in finished and g != open_generation:
                problems.append(f"generation {g}: candidates beyond the next unfinished "
                                f"generation")
    checks = list(_CANDIDATE_CHECKS) + ([_UNPLANNED] if store.plan_stored() else [])
    problems += _counted(conn, checks)
    problems += _batch_problems(store, finished)
    bad_json = 0
    for (record,) in conn.execute("SELECT record FROM candidates"):
        try:
            json.loads(record)
        except ValueError:
            bad_json += 1
    if bad_json:
        problems.append(f"{bad_json} candidate record(s) are not valid JSON")
    return problems


def _batch_problems(store: RunStore, finished: list[int]) -> list[str]:
    """Batch mode's ledger agrees with itself: a line counted as out there is in a batch
    still open, and a finished generation left no batch uncollected."""
    conn = store.conn
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='batch_requests'").fetchone() \
            is None:
        return []
    checks = [_STRAY]
    if finished:
        checks.append((f"SELECT count(*) FROM batches WHERE collected = 0 AND generation IN "
                       f"({','.join('?' * len(finished))})",
                       "{n} batch(es) of finished generations never collected", finished))
    return _counted(conn, checks)


# (a query counting rows that break a rule, what the rule's breach says, its arguments)
Check = tuple[str, str, Sequence[Any]]
_CANDIDATE_CHECKS: tuple[Check, ...] = (
    ("SELECT count(*) FROM candidates c WHERE c.parent_id NOT IN (SELECT id FROM seeds) "
     "AND c.parent_id NOT IN (SELECT id FROM candidates WHERE status='accepted')",
     "{n} candidate(s) whose parent is neither a seed nor accepted", ()),
    ("SELECT count(*) FROM candidates c JOIN pool p ON p.generation=c.generation "
     "AND p.slot=c.slot WHERE p.member_id != c.parent_id",
     "{n} candidate(s) whose parent is not the pool member of their slot", ()),
)
_UNPLANNED: Check = (
    "SELECT count(*) FROM candidates c JOIN pool p ON p.generation=c.generation "
    "AND p.slot=c.slot WHERE p.operator IS NOT NULL AND p.operator != c.operator",
    "{n} candidate(s) made with another operator than the one planned for their slot", ())
_STRAY: Check = (
    "SELECT count(*) FROM batch_requests r LEFT JOIN batches b ON b.key = r.batch_key "
    "WHERE r.state IN ('queued','submitted') AND (b.key IS NULL OR b.collected = 1)",
    "{n} batch request(s) marked as out there in no open batch", ())


def _counted(conn: sqlite3.Connection, checks: Sequence[Check]) -> list[str]:
    """The message of every check whose query counts any rows."""
    out = []
    for sql, message, args in checks:
        n = conn.execute(sql, tuple(args)).fetchone()[0]
        if n:
            out.append(message.format(n=n))
    return out
