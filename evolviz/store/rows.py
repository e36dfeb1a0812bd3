"""How the run store's records become rows and back (a candidate's columns and record, a
seed list's fingerprint), and the transaction every write runs in.

Apart from run_store.py to keep the writer's module about what it writes; all SQL still
stays in this package.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from typing import Protocol

from ..records import Candidate
from .schema import CANDIDATE_COLUMNS

__all__ = ["SeedLike", "candidate_from_row", "seeds_fingerprint"]


class SeedLike(Protocol):
    id: str
    instruction: str
    input: str
    source: str
    line: int


def seeds_fingerprint(seeds: Iterable[SeedLike]) -> str:
    """Identifies a seed list, so a resume with other seeds is refused, not mixed in."""
    h = hashlib.sha256()
    for s in seeds:
        h.update(json.dumps([s.id, s.instruction, s.input]).encode("utf-8"))
    return h.hexdigest()


_SELECT_CANDIDATE = "SELECT " + ", ".join(CANDIDATE_COLUMNS.values()) + ", record FROM candidates"


def candidate_from_row(row: sqlite3.Row) -> Candidate:
    """A candidate from its columns and its record: the columns win (version-1 stores
    repeated them in the record)."""
    data = json.loads(row["record"])
    for name, column in CANDIDATE_COLUMNS.items():
        data[name] = row[column]
    return Candidate.from_dict(data)


def _record_json(c: Candidate) -> str:
    data = c.to_dict()
    for name in CANDIDATE_COLUMNS:
        data.pop(name, None)
    return json.dumps(data, ensure_ascii=False)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error, so a record is all there or absent."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
