"""Batch mode's ledger: the `batches` and `batch_requests` tables of a run store.

Why a ledger and not just the response cache: a batch is paid for when the provider runs
it, hours before its results reach any candidate. So every step that commits money is
written down before anything waits on it, in this order: the batch's row and its lines
(`prepare`), the uploaded file's id (`uploaded`), the provider's batch id (`submitted`).
A run killed between any two of them resumes from the last one written: it polls a batch
it knows, adopts one it created but had not yet recorded (found by its input file), or
re-plans lines that never left. Results are written, with the batch marked collected, in
one transaction (`collect`), so a result that came back is never paid for twice.

Line states: queued (in a batch being submitted), submitted (in a batch out there), done
(answered), failed (an error answer; retried while `attempts` allow), unsent (never
answered: its batch expired, was cancelled or never left; sent again, not counted as an
attempt), refused (the endpoint refused its structured-output request: sent again
without one, as a live call is).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .run_store import RunStore

__all__ = ["TERMINAL", "BatchLedger", "BatchRow", "LineOutcome", "LinePlan", "LineRow"]

#: Provider states after which a batch changes no more.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})

_BATCH_COLUMNS = ("key", "batch_id", "generation", "stage", "file_name", "input_file_id",
                  "output_file_id", "error_file_id", "state", "collected", "requests", "bytes",
                  "completed", "failed", "prompt_tokens", "completion_tokens", "error",
                  "created", "updated")


@dataclass
class BatchRow:
    """One request file and the batch made of it, as far as this run knows it."""

    key: int
    batch_id: str | None
    generation: int
    stage: str
    file_name: str
    input_file_id: str | None
    output_file_id: str | None
    error_file_id: str | None
    state: str
    collected: bool
    requests: int
    bytes: int
    completed: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    error: str | None
    created: float
    updated: float

    @property
    def open(self) -> bool:
        """Not yet collected: its lines are out there (or about to be)."""
        return not self.collected

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _BATCH_COLUMNS}


@dataclass(frozen=True)
class LinePlan:
    """A line about to go out: which call it is and which request it answers."""

    custom_id: str
    owner: str
    name: str
    key: str
    sent_format: bool


@dataclass
class LineRow:
    custom_id: str
    generation: int
    owner: str
    name: str
    key: str
    batch_key: int | None
    state: str
    sent_format: bool
    attempts: int
    submissions: int
    result: dict[str, Any] | None


@dataclass
class LineOutcome:
    """What a collected batch says about one of its lines."""

    custom_id: str
    state: str  # done, failed, unsent or refused
    result: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    counts_as_attempt: bool = False


@dataclass
class _Totals:
    prompt: int = 0
    completion: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


class BatchLedger:
    """The two tables, read and written through the store's own connection."""

    def __init__(self, store: RunStore):
        self.store = store
        self.conn = store.conn

    def exists(self) -> bool:
        """Whether the store has batch tables (a read-only old store has not)."""
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name='batches'").fetchone() is not None

    # -- the run -------------------------------------------------------------------------

    def mark_batch_run(self) -> None:
        self.store.set_meta("batch_mode", True)

    def is_batch_run(self) -> bool:
        return bool(self.store.get_meta("batch_mode", False))

    # -- writing, in the order money is committed ----------------------------------------

    def prepare(self, generation: int, stage: str, lines: Sequence[LinePlan],
                nbytes: int) -> tuple[int, str]:
        """Write a batch's row and put its lines in it, before the file leaves; its key
        and the name its request file is uploaded under (unique in the run)."""
        now = time.time()
        with self.store.transaction():
            cur = self.conn.execute(
                "INSERT INTO batches (generation, stage, file_name, state, requests, bytes, "
                "created, updated) VALUES (?,?,'',?,?,?,?,?)",
                (generation, stage, "preparing", len(lines), nbytes, now, now))
            key = int(cur.lastrowid or 0)
            file_name = f"evolviz-g{generation}-{stage}-{key:05d}.jsonl"
            self.conn.execute("UPDATE batches SET file_name=? WHERE key=?", (file_name, key))
            self.conn.executemany(
                """
                INSERT INTO batch_requests (custom_id, generation, owner, name, key,
                    batch_key, state, sent_format, updated)
                VALUES (?,?,?,?,?,?,'queued',?,?)
                ON CONFLICT(custom_id) DO UPDATE SET key=excluded.key,
                    batch_key=excluded.batch_key, state='queued',
                    sent_format=excluded.sent_format, updated=excluded.updated,
                    attempts=CASE WHEN batch_requests.key=excluded.key
                                  THEN batch_requests.attempts ELSE 0 END
                """,
                [(ln.custom_id, generation, ln.owner, ln.name, ln.key, key, int(ln.sent_format),
                  now) for ln in lines])
        return key, file_name

    def uploaded(self, key: int, file_id: str) -> None:
        self.conn.execute("UPDATE batches SET input_file_id=?, state='uploaded', updated=? "
                          "WHERE key=?", (file_id, time.time(), key))

    def submitted(self, key: int, batch_id: str, state: str) -> None:
        """The provider has the batch: its id, and its lines are out there."""
        now = time.time()
        with self.store.transaction():
            self.conn.execute("UPDATE batches SET batch_id=?, state=?, updated=? WHERE key=?",
                              (batch_id, state, now, key))
            self.conn.execute(
                "UPDATE batch_requests SET state='submitted', submissions=submissions+1, "
                "updated=? WHERE batch_key=? AND state='queued'", (now, key))

    def abandon(self, key: int, error: str | None = None) -> None:
        """A batch that never reached the provider: its lines are unsent, its row goes."""
        with self.store.transaction():
            self.conn.execute("UPDATE batch_requests SET state='unsent', updated=? "
                              "WHERE batch_key=? AND state='queued'", (time.time(), key))
            self.conn.execute("DELETE FROM batches WHERE key=?", (key,))

    def update(self, key: int, state: str, completed: int, failed: int) -> None:
        """What a poll said, so `evolviz batches` and the panel show progress."""
        self.conn.execute("UPDATE batches SET state=?, completed=?, failed=?, updated=? "
                          "WHERE key=?", (state, completed, failed, time.time(), key))

    def collect(self, key: int, *, state: str, output_file_id: str | None,
                error_file_id: str | None, outcomes: Iterable[LineOutcome],
                error: str | None = None) -> _Totals:
        """File every line's outcome and mark the batch collected, in one transaction."""
        now, totals = time.time(), _Totals()
        with self.store.transaction():
            for o in outcomes:
                self.conn.execute(
                    "UPDATE batch_requests SET state=?, result=?, prompt_tokens=?, "
                    "completion_tokens=?, attempts=attempts+?, updated=? "
                    "WHERE custom_id=? AND batch_key=?",
                    (o.state, None if o.result is None else json.dumps(o.result,
                                                                        ensure_ascii=False),
                     o.prompt_tokens, o.completion_tokens, int(o.counts_as_attempt), now,
                     o.custom_id, key))
                totals.prompt += o.prompt_tokens
                totals.completion += o.completion_tokens
                totals.by_state[o.state] = totals.by_state.get(o.state, 0) + 1
            # A line the batch never mentioned was not answered: send it again.
            self.conn.execute("UPDATE batch_requests SET state='unsent', updated=? "
                              "WHERE batch_key=? AND state IN ('submitted','queued')",
                              (now, key))
            self.conn.execute(
                "UPDATE batches SET state=?, collected=1, output_file_id=?, error_file_id=?, "
                "completed=?, failed=?, prompt_tokens=?, completion_tokens=?, error=?, "
                "updated=? WHERE key=?",
                (state, output_file_id, error_file_id, totals.by_state.get("done", 0),
                 totals.by_state.get("failed", 0) + totals.by_state.get("refused", 0),
                 totals.prompt, totals.completion, error, now, key))
        return totals

    def forget_results(self, owner: str) -> None:
        """Drop the texts of a committed owner's results: its record holds them now.
        States, tokens and batch keys stay (what `batches` and the budget count)."""
        self.conn.execute("UPDATE batch_requests SET result=NULL WHERE owner=? "
                          "AND result IS NOT NULL", (owner,))

    # -- reading -------------------------------------------------------------------------

    def batches(self, *, generation: int | None = None,
                open_only: bool = False) -> list[BatchRow]:
        if not self.exists():
            return []
        where, args = [], []
        if generation is not None:
            where.append("generation=?")
            args.append(generation)
        if open_only:
            where.append("collected=0")
        sql = f"SELECT {', '.join(_BATCH_COLUMNS)} FROM batches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql + " ORDER BY key", args).fetchall()
        return [BatchRow(*[bool(r[i]) if c == "collected" else r[i]
                           for i, c in enumerate(_BATCH_COLUMNS)]) for r in rows]

    def lines_of(self, owner: str) -> dict[str, LineRow]:
        """An owner's (candidate's or seed's) lines by call name."""
        rows = self.conn.execute(
            "SELECT custom_id, generation, owner, name, key, batch_key, state, sent_format, "
            "attempts, submissions, result FROM batch_requests WHERE owner=?",
            (owner,)).fetchall()
        return {r[3]: LineRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8],
                              r[9], None if r[10] is None else json.loads(r[10]))
                for r in rows}

    def lines_in(self, key: int) -> dict[str, LineRow]:
        """A batch's lines still waiting for its results, by custom id."""
        rows = self.conn.execute(
            "SELECT custom_id, generation, owner, name, key, batch_key, state, sent_format, "
            "attempts, submissions, result FROM batch_requests WHERE batch_key=? AND state "
            "IN ('submitted','queued')", (key,)).fetchall()
        return {r[0]: LineRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8],
                              r[9], None if r[10] is None else json.loads(r[10]))
                for r in rows}

    def owners_in(self, key: int) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT DISTINCT owner FROM batch_requests WHERE batch_key=?", (key,))}

    def first_created(self, generation: int) -> float | None:
        row = self.conn.execute("SELECT min(created) FROM batches WHERE generation=?",
                                (generation,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def paid_tokens(self) -> tuple[int, int]:
        """Prompt and completion tokens of every answered batch line (what the provider
        billed at the batch price), committed to a candidate or not yet."""
        if not self.exists():
            return 0, 0
        row = self.conn.execute("SELECT sum(prompt_tokens), sum(completion_tokens) "
                                "FROM batch_requests WHERE state='done'").fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def live_tokens(self) -> tuple[int, int]:
        """Prompt and completion tokens the stored candidates paid for in live calls (no
        batch id, not cached): with `paid_tokens`, what a budget counts as spent."""
        row = self.conn.execute(
            "SELECT sum(json_extract(c.value, '$.prompt_tokens')), "
            "sum(json_extract(c.value, '$.completion_tokens')) "
            "FROM candidates, json_each(candidates.record, '$.calls') AS c "
            "WHERE NOT coalesce(json_extract(c.value, '$.cached'), 0) "
            "AND json_extract(c.value, '$.batch_id') IS NULL").fetchone()
        return int(row[0] or 0), int(row[1] or 0)
