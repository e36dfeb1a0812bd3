"""The run store's tables, its marks, and the one migration it knows.

Layout (schema version in `PRAGMA user_version`, our mark in `PRAGMA application_id`):

- ``meta``: the run's configuration (never an API key), its templates, the seeds'
  fingerprint.
- ``seeds``: generation 0.
- ``pool``: the pool at the start of each generation and the operator planned for each slot,
  written before any of its candidates, so a resumed generation evolves exactly the same
  members with the same operators, whatever settings changed since.
- ``candidates``: one row per finished candidate; the primary key (generation, slot) is
  what makes a resume unable to duplicate one. Each fact is stored once: the columns hold
  what is queried, `record` (JSON) holds the rest (messages, responses, verdicts).
- ``generations``: counts per finished generation, plus the time spent in unfinished ones.
- ``llm_cache``: responses by cache key (see `evolviz.store.cache.ResponseCache`).
- ``batches``: batch mode's batches, one row per request file, written before anything
  waits on it (its local key first, then the uploaded file's id, then the provider's batch
  id), so a resumed run polls what is out there instead of submitting it again.
- ``batch_requests``: one row per batched call (custom id = candidate or seed id + call
  name): which batch it is in, its state, and its answer once collected, so a result that
  came back is never paid for twice, whatever happens before its candidate is committed.
- ``writer_lock``: who is writing the store now (pid, host, start time, purpose), one row
  at most (see `evolviz.store.lock`); added without a version bump, created on first use
  in older stores.

Version 1 (the first build) stored every candidate field in `record` as well, and had no
planned operators; it is read as it is and upgraded in place when opened for writing.
"""

from __future__ import annotations

import sqlite3

from .lock import LOCK_TABLE

__all__ = ["APPLICATION_ID", "CANDIDATE_COLUMNS", "SCHEMA", "SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 2
APPLICATION_ID = 0x45564F4C  # "EVOL"

#: Candidate fields kept in columns (record field name -> column name); never in `record`.
CANDIDATE_COLUMNS = {
    "id": "id", "generation": "generation", "slot": "slot", "parent_id": "parent_id",
    "seed_id": "seed_id", "operator": "operator", "status": "status",
    "rejected_by": "rejected_by", "error_class": "error_class", "instruction": "instruction",
    "answer": "answer", "difficulty": "difficulty", "tokens": "tokens",
    "latency_s": "latency", "finished_at": "finished_at",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seeds (
    idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, instruction TEXT NOT NULL,
    input TEXT NOT NULL DEFAULT '', source TEXT, line INTEGER,
    difficulty REAL, difficulty_raw TEXT
);
CREATE TABLE IF NOT EXISTS pool (
    generation INTEGER NOT NULL, slot INTEGER NOT NULL, member_id TEXT NOT NULL,
    operator TEXT,
    PRIMARY KEY (generation, slot)
);
CREATE TABLE IF NOT EXISTS candidates (
    id TEXT NOT NULL UNIQUE, generation INTEGER NOT NULL, slot INTEGER NOT NULL,
    parent_id TEXT NOT NULL, seed_id TEXT NOT NULL, operator TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted','rejected','failed')),
    rejected_by TEXT, error_class TEXT, instruction TEXT, answer TEXT,
    difficulty REAL, tokens INTEGER NOT NULL DEFAULT 0, latency REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (generation, slot)
);
CREATE INDEX IF NOT EXISTS candidates_status ON candidates (generation, status);
CREATE INDEX IF NOT EXISTS candidates_seed ON candidates (seed_id);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY, pool_size INTEGER NOT NULL,
    accepted INTEGER, rejected TEXT, failed INTEGER, failed_by TEXT, tokens INTEGER,
    wall_time REAL NOT NULL DEFAULT 0, started_at REAL, finished_at REAL
);
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY, model TEXT, response TEXT NOT NULL, created REAL
);
CREATE TABLE IF NOT EXISTS batches (
    key INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT UNIQUE,
    generation INTEGER NOT NULL, stage TEXT NOT NULL, file_name TEXT NOT NULL,
    input_file_id TEXT, output_file_id TEXT, error_file_id TEXT,
    state TEXT NOT NULL, collected INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL, bytes INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    error TEXT, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    custom_id TEXT PRIMARY KEY, generation INTEGER NOT NULL, owner TEXT NOT NULL,
    name TEXT NOT NULL, key TEXT NOT NULL, batch_key INTEGER,
    state TEXT NOT NULL
        CHECK (state IN ('queued','submitted','done','failed','unsent','refused')),
    sent_format INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    submissions INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    result TEXT, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_requests_owner ON batch_requests (owner);
CREATE INDEX IF NOT EXISTS batch_requests_batch ON batch_requests (batch_key);
""" + LOCK_TABLE

REQUIRED_TABLES = frozenset({"meta", "seeds", "pool", "candidates", "generations"})


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a version-1 store up to date in one transaction (idempotent)."""
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(pool)")}
        if "operator" not in columns:
            conn.execute("ALTER TABLE pool ADD COLUMN operator TEXT")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def has_plan_column(conn: sqlite3.Connection) -> bool:
    return "operator" in {r[1] for r in conn.execute("PRAGMA table_info(pool)")}
