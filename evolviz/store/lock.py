"""One writer per store: a lock recorded in the store itself.

Why in the store and not beside it: the store is the one file people copy, move and look
at; the lock names who holds it (pid, host, start time, what it is) so that a refused
writer can say whom to wait for, and `evolviz show` or the panel can read it. Readers
never look at it, so they are never blocked.

Why not an OS file lock: SQLite holds POSIX locks on the same file, and a process that
opens and closes the file a second time drops them; and a lock that vanishes with its
process says nothing about who held it. A recorded lock outlives a `kill -9`, so a holder
that is gone must be recognised: on the same host, its pid no longer runs, or runs a
process that started at another time (the pid was reused). A holder on another host
cannot be checked from here, so it is respected.

Taking the lock is one `BEGIN IMMEDIATE` transaction (check, then write), so two writers
starting together cannot both win; a refused writer rolls back and has written nothing.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import StoreLockedError

__all__ = ["LOCK_TABLE", "WriterLock", "acquire", "holder", "release"]

LOCK_TABLE = """
CREATE TABLE IF NOT EXISTS writer_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, pid INTEGER NOT NULL,
    host TEXT NOT NULL, started_at REAL NOT NULL, purpose TEXT, process_start TEXT
);
"""


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), which tells a reused pid from
    the original; None where /proc is not there to ask."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22, counted after the comm field


def _gone(row: dict[str, Any]) -> bool:
    """Whether the holder is certainly no longer running (never guessed for other hosts)."""
    if row["host"] != socket.gethostname():
        return False
    pid = int(row["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # someone else's process, but alive
    started = _process_start(pid)
    return bool(row.get("process_start") and started and started != row["process_start"])


def holder(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """Who holds the lock, as recorded (None: nobody, or a store older than the lock)."""
    try:
        row = conn.execute("SELECT token, pid, host, started_at, purpose, process_start "
                           "FROM writer_lock WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # no such table: a store from before the lock
        return None
    if row is None:
        return None
    keys = ("token", "pid", "host", "started_at", "purpose", "process_start")
    return dict(zip(keys, tuple(row), strict=True))


def acquire(conn: sqlite3.Connection, path: str, purpose: str
            ) -> tuple[str, dict[str, Any] | None]:
    """Take the lock for this process: returns its token and the stale holder it replaced
    (None if it was free). Raises `StoreLockedError` if a live process holds it."""
    pid = os.getpid()
    token = uuid.uuid4().hex
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = holder(conn)
        if current is not None and not _gone(current):
            raise StoreLockedError(path, current)
        conn.execute(LOCK_TABLE)
        conn.execute(
            "INSERT OR REPLACE INTO writer_lock (id, token, pid, host, started_at, purpose, "
            "process_start) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (token, pid, socket.gethostname(), time.time(), purpose, _process_start(pid)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return token, current


def release(conn: sqlite3.Connection, token: str) -> None:
    """Give the lock up (only ours: a writer that took over a lock we lost keeps it)."""
    conn.execute("DELETE FROM writer_lock WHERE token = ?", (token,))


class WriterLock:
    """The lock as `RunStore` methods (a store has `conn` and `path`)."""

    conn: sqlite3.Connection
    path: Path
    _lock_token: str | None = None
    _lock_depth: int = 0

    def acquire_writer(self, purpose: str = "a run") -> dict[str, Any] | None:
        """Become the store's one writer before writing anything (re-entrant).

        Raises `StoreLockedError` naming the holder when another live process writes it,
        having written nothing; returns the record of a holder that was gone and whose
        lock was taken over (None otherwise), so the caller can say so."""
        if self._lock_token is not None:
            self._lock_depth += 1
            return None
        self._lock_token, stale = acquire(self.conn, str(self.path), purpose)
        self._lock_depth = 1
        return stale

    def release_writer(self, *, all_of_it: bool = False) -> None:
        if self._lock_token is None:
            return
        self._lock_depth = 0 if all_of_it else self._lock_depth - 1
        if self._lock_depth <= 0:
            token, self._lock_token = self._lock_token, None
            try:
                release(self.conn, token)
            except sqlite3.Error:
                pass  # a closed or broken store: the lock is then stale, and taken over

    def writer(self) -> dict[str, Any] | None:
        """Who is writing the store now, as recorded (None: nobody)."""
        return holder(self.conn)
