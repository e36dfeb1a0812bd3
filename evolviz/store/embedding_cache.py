"""The embedding cache: vectors by model and text hash, in an SQLite file of their own.

Shared across runs (a reference set is embedded once per machine, not per run), so it is
not in a run store; but it is SQL, and all of evolviz's SQL lives in this package.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["EmbeddingCache"]

#: SQLite's default limit on bound parameters is 999 in old builds.
LOOKUP_CHUNK = 900


class EmbeddingCache:
    """Raw vector bytes by (model, key); the caller decides dtype and shape."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, key BLOB NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
        )

    def lookup(self, model: str, keys: list[bytes]) -> Iterator[tuple[bytes, bytes]]:
        """(key, vector bytes) for each of `keys` the cache holds."""
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                    f"SELECT key, vec FROM emb WHERE model=? AND key IN ({marks})",
                    [model, *chunk]):
                yield bytes(key), blob

    def put(self, model: str, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Store vectors in one transaction: all of them or none."""
        rows = [(model, k, v) for k, v in items]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO emb (model, key, vec) VALUES (?,?,?)",
                                 rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
