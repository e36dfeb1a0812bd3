"""The run store's writer: one SQLite file holding a whole run, committed candidate by
candidate.

Why SQLite in WAL mode: every finished candidate is one small transaction, so a run killed
at any moment (kill -9 included) keeps everything it finished and paid for; readers (the
panel, `evolviz show`) can look at a store while a run writes it. The tables are described
in `evolviz.store.schema`; what people read goes through `evolviz.store.read.RunView`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import NotAStoreError, StoreError, StoreVersionError
from ..records import Candidate, GenerationStats, PoolMember, seed_text
from . import lock
from .rows import (
    _SELECT_CANDIDATE,
    SeedLike,
    _record_json,
    _Transaction,
    candidate_from_row,
    seeds_fingerprint,
)
from .schema import (
    APPLICATION_ID,
    REQUIRED_TABLES,
    SCHEMA,
    SCHEMA_VERSION,
    has_plan_column,
    migrate,
)

__all__ = ["RunStore", "candidate_from_row", "seeds_fingerprint"]


class RunStore(lock.WriterLock):
    """Read and write one run's SQLite file."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False):
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise StoreError(f"{self.path}: no such run store")
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_magic()
        if readonly:
            uri = f"file:{self.path.resolve()}?mode=ro"
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                        check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), isolation_level=None,
                                        check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA busy_timeout=10000")
            # Read through SQLite, not the file's bytes: after a kill -9 the header page
            # may still sit in the -wal file, which only SQLite knows to look in.
            has_tables = self.conn.execute(
                "SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
            if has_tables:
                self._check_schema()
            if not readonly and has_tables:
                migrate(self.conn, self.conn.execute("PRAGMA user_version").fetchone()[0])
            self._plans = not has_tables or has_plan_column(self.conn)
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                # Every table, new ones too, on every opening for writing: tables added
                # since a store was made (batch mode's) appear in it then (IF NOT EXISTS).
                self.conn.executescript(SCHEMA)
                if not has_tables:
                    self.conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    self.set_meta("created_at", time.time())
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise NotAStoreError(f"{self.path}: not a usable evolviz run store ({e})") from None

    # -- opening -------------------------------------------------------------------------

    def _check_magic(self) -> None:
        with open(self.path, "rb") as f:
            head = f.read(16)
        if head != b"SQLite format 3\x00":
            raise NotAStoreError(f"{self.path}: not an evolviz run store (not an SQLite file)")

    def _check_schema(self) -> None:
        app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            self.conn.close()
            raise NotAStoreError(
                f"{self.path}: an SQLite file, but not an evolviz run store "
                f"(application_id {app_id:#x})"
            )
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self.conn.close()
            raise StoreVersionError(
                f"{self.path}: written by a newer evolviz (store schema {version}, this "
                f"evolviz reads up to {SCHEMA_VERSION}); upgrade evolviz to open it"
            )
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        missing = REQUIRED_TABLES - tables
        if missing:
            self.conn.close()
            raise NotAStoreError(f"{self.path}: the store lacks table(s) {sorted(missing)}")

    def close(self) -> None:
        self.release_writer(all_of_it=True)
        self.conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    # -- meta ----------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- seeds and pool ------------------------------------------------------------------

    def has_seeds(self) -> bool:
        return self.conn.execute("SELECT 1 FROM seeds LIMIT 1").fetchone() is not None

    def add_seeds(self, seeds: Sequence[SeedLike]) -> None:
        """Write generation 0 and the first pool in one transaction."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO seeds (idx, id, instruction, input, source, line) "
                "VALUES (?,?,?,?,?,?)",
                [(i, s.id, s.instruction, s.input, s.source, s.line) for i, s in
                 enumerate(seeds)],
            )
            self.conn.executemany(
                "INSERT INTO pool (generation, slot, member_id) VALUES (1, ?, ?)",
                [(i, s.id) for i, s in enumerate(seeds)],
            )
            self.set_meta("seeds_fingerprint", seeds_fingerprint(seeds))
            self.set_meta("seed_count", len(seeds))

    def seed_rows(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM seeds ORDER BY idx").fetchall()

    def seed_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM seeds").fetchone()[0]

    def set_seed_difficulty(self, seed_id: str, difficulty: float | None, raw: str) -> None:
        self.conn.execute("UPDATE seeds SET difficulty=?, difficulty_raw=? WHERE id=?",
                          (difficulty, raw, seed_id))

    def pool(self, generation: int) -> list[PoolMember] | None:
        """The pool at the start of `generation`, or None if not yet decided."""
        rows = self.conn.execute(
            """
            SELECT p.slot, p.member_id,
                   s.instruction AS s_inst, s.input AS s_input, s.id AS s_id,
                   c.instruction AS c_inst, c.seed_id AS c_seed, c.generation AS c_gen
            FROM pool p
            LEFT JOIN seeds s ON s.id = p.member_id
            LEFT JOIN candidates c ON c.id = p.member_id
            WHERE p.generation = ? ORDER BY p.slot
            """,
            (generation,),
        ).fetchall()
        if not rows:
            return None
        out = []
        for r in rows:
            if r["s_id"] is not None:
                out.append(PoolMember(r["member_id"], r["s_id"], 0,
                                      seed_text(r["s_inst"], r["s_input"])))
            elif r["c_inst"] is not None:
                out.append(PoolMember(r["member_id"], r["c_seed"], r["c_gen"], r["c_inst"]))
            else:
                raise StoreError(
                    f"{self.path}: pool of generation {generation} slot {r['slot']} names "
                    f"{r['member_id']!r}, which is neither a seed nor a stored candidate"
                )
        return out

    def plan_stored(self) -> bool:
        """Whether this store records planned operators (version 2, or upgraded)."""
        return self._plans

    def plan(self, generation: int) -> list[str] | None:
        """The operator planned for each slot of `generation`, or None if not yet planned
        (or the store predates planning and is open read-only)."""
        if not self._plans:
            return None
        ops = [r[0] for r in self.conn.execute(
            "SELECT operator FROM pool WHERE generation=? ORDER BY slot", (generation,))]
        return ops if ops and all(op is not None for op in ops) else None

    def set_plan(self, generation: int, operators: Sequence[str]) -> None:
        """Fix the operators of `generation` before its first candidate starts; later
        changes of weights or templates apply from the next generation on."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE pool SET operator=? WHERE generation=? AND slot=?",
                [(op, generation, slot) for slot, op in enumerate(operators)])

    def close_generation(self, generation: int, stats: GenerationStats,
                         judged: Sequence[Candidate] = ()) -> GenerationStats:
        """Apply the dataset stage's verdicts (`judged`: candidates re-recorded with them)
        and close `generation`, in one transaction: a kill -9 leaves either both or
        neither, and a candidate the stage rejected never replaces its parent. Returns the
        counts as recomputed after the verdicts.

        An accepted candidate replaces its parent in its slot; after a rejection or a
        failure the parent stays, to be evolved again (the paper's pool semantics).
        """
        with self.transaction():
            for c in judged:
                self.replace_candidate(c)
            counted = self.count_generation(generation)
            counted.wall_time = stats.wall_time
            self._write_next_pool(generation, counted)
        counted.finished = True
        return counted

    def accepted_instructions(self, before_generation: int) -> list[tuple[str, str, str]]:
        """(id, parent id, instruction) of the dataset so far, in (generation, slot) order:
        what the dataset stage compares a new generation with, without parsing records."""
        return [(r[0], r[1], r[2]) for r in self.conn.execute(
            "SELECT id, parent_id, instruction FROM candidates WHERE status='accepted' "
            "AND generation < ? ORDER BY generation, slot", (before_generation,))]

    def _write_next_pool(self, generation: int, stats: GenerationStats) -> None:
        self.conn.execute(
            """
            INSERT INTO pool (generation, slot, member_id)
            SELECT ?, p.slot, COALESCE(c.id, p.member_id)
            FROM pool p LEFT JOIN candidates c
              ON c.generation = p.generation AND c.slot = p.slot AND c.status = 'accepted'
            WHERE p.generation = ?
            """,
            (generation + 1, generation),
        )
        self.conn.execute(
            """
            INSERT INTO generations (generation, pool_size, accepted, rejected, failed,
                failed_by, tokens, wall_time, finished_at)
            VALUES (?,?,?,?,?,?,?,?,?)
            ON CONFLICT(generation) DO UPDATE SET pool_size=excluded.pool_size,
                accepted=excluded.accepted, rejected=excluded.rejected,
                failed=excluded.failed, failed_by=excluded.failed_by,
                tokens=excluded.tokens, wall_time=excluded.wall_time,
                finished_at=excluded.finished_at
            """,
            (generation, stats.pool_size, stats.accepted, json.dumps(stats.rejected),
             stats.failed, json.dumps(stats.failed_by), stats.tokens, stats.wall_time,
             time.time()),
        )

    # -- candidates ----------------------------------------------------------------------

    def done_slots(self, generation: int) -> set[int]:
        return {r[0] for r in self.conn.execute(
            "SELECT slot FROM candidates WHERE generation=?", (generation,))}

    def add_candidate(self, c: Candidate, *, elapsed: float | None = None) -> None:
        """Commit one finished candidate (and the generation's running time) at once."""
        with self.transaction():
            self.conn.execute(
                """
                INSERT INTO candidates (id, generation, slot, parent_id, seed_id, operator,
                    status, rejected_by, error_class, instruction, answer, difficulty,
                    tokens, latency, finished_at, record)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                """,
                (c.id, c.generation, c.slot, c.parent_id, c.seed_id, c.operator, c.status,
                 c.rejected_by, c.error_class, c.instruction, c.answer, c.difficulty,
                 c.tokens, c.latency_s, c.finished_at, _record_json(c)),
            )
            if elapsed is not None:
                self._set_elapsed(c.generation, elapsed)

    def replace_candidate(self, c: Candidate) -> None:
        """Rewrite a stored candidate's verdicts and status (for re-judging a run)."""
        self.conn.execute(
            "UPDATE candidates SET status=?, rejected_by=?, record=? WHERE id=?",
            (c.status, c.rejected_by, _record_json(c), c.id),
        )

    def _set_elapsed(self, generation: int, elapsed: float) -> None:
        self.conn.execute(
            """
            INSERT INTO generations (generation, pool_size, wall_time, started_at)
            VALUES (?, 0, ?, ?)
            ON CONFLICT(generation) DO UPDATE SET wall_time=excluded.wall_time
            """,
            (generation, elapsed, time.time()),
        )

    def elapsed(self, generation: int) -> float:
        row = self.conn.execute("SELECT wall_time FROM generations WHERE generation=?",
                                (generation,)).fetchone()
        return float(row[0]) if row else 0.0

    def candidate(self, candidate_id: str) -> Candidate | None:
        row = self.conn.execute(f"{_SELECT_CANDIDATE} WHERE id=?", (candidate_id,)).fetchone()
        return None if row is None else candidate_from_row(row)

    def candidates(
        self,
        *,
        generation: int | None = None,
        status: str | None = None,
        batch: int = 1000,
    ) -> Iterator[Candidate]:
        """Stream candidates in (generation, slot) order without holding them all."""
        where, args = [], []
        if generation is not None:
            where.append("generation = ?")
            args.append(generation)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = _SELECT_CANDIDATE
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY generation, slot"
        cur = self.conn.execute(sql, args)
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for r in rows:
                yield candidate_from_row(r)

    def token_totals(self) -> tuple[int, int]:
        """Prompt and completion tokens the stored candidates paid for (cached calls are
        free); a budget counts from here so it means the same on every resume."""
        row = self.conn.execute(
            "SELECT sum(json_extract(c.value, '$.prompt_tokens')), "
            "sum(json_extract(c.value, '$.completion_tokens')) "
            "FROM candidates, json_each(candidates.record, '$.calls') AS c "
            "WHERE NOT coalesce(json_extract(c.value, '$.cached'), 0)").fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def candidate_count(self, generation: int | None = None) -> int:
        if generation is None:
            return self.conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
        return self.conn.execute("SELECT count(*) FROM candidates WHERE generation=?",
                                 (generation,)).fetchone()[0]

    # -- generations ---------------------------------------------------------------------

    def finished_generations(self) -> list[int]:
        return [r[0] for r in self.conn.execute(
            "SELECT generation FROM generations WHERE finished_at IS NOT NULL "
            "ORDER BY generation")]

    def count_generation(self, generation: int) -> GenerationStats:
        """Counts recomputed from the candidate rows: the truth, whatever a summary says."""
        pool_size = self.conn.execute(
            "SELECT count(*) FROM pool WHERE generation=?", (generation,)).fetchone()[0]
        stats = GenerationStats(generation=generation, pool_size=pool_size)
        for r in self.conn.execute(
            "SELECT status, rejected_by, error_class, count(*), sum(tokens) FROM candidates "
            "WHERE generation=? GROUP BY status, rejected_by, error_class", (generation,)
        ):
            status, rule, err, n, tokens = r[0], r[1], r[2], r[3], r[4] or 0
            stats.tokens += tokens
            if status == "accepted":
                stats.accepted += n
            elif status == "rejected":
                stats.rejected[rule or "unknown"] = stats.rejected.get(rule or "unknown", 0) + n
            else:
                stats.failed += n
                stats.failed_by[err or "unknown"] = stats.failed_by.get(err or "unknown", 0) + n
        stats.wall_time = self.elapsed(generation)
        stats.finished = generation in self.finished_generations()
        return stats

    def generation_stats(self) -> list[GenerationStats]:
        """Every generation that has a pool, finished or not."""
        gens = [r[0] for r in self.conn.execute(
            "SELECT DISTINCT generation FROM pool ORDER BY generation")]
        return [self.count_generation(g) for g in gens if g == 1 or self.candidate_count(g)
                or g in self.finished_generations()]
