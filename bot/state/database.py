"""The SQLite file under every store of this package: schema, migrations, transactions.

One file per data directory, one `Database` object per process (open it after forking). Inside a
process one connection is shared by all threads behind a lock; across processes SQLite's own
locking (WAL, `busy_timeout`) keeps writes serialised. Raw user ids never reach the file:
callers pass `hash_user` results, and conversation keys (which usually embed a chat id) are
hashed here.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 10_000
DAY_S = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    update_id TEXT NOT NULL,
    at REAL NOT NULL,
    payload TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 1,
    lease_until REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, update_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at);
CREATE TABLE IF NOT EXISTS rate_hits (user_hash TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS rate_hits_user_at ON rate_hits (user_hash, at);
CREATE INDEX IF NOT EXISTS rate_hits_at ON rate_hits (at);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    mode TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_at ON turns (at);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    at REAL NOT NULL
);
"""

_MIGRATIONS = {
    # 1 -> 2: deliveries became a log with a payload and a lease, so a crash is redone
    1: (
        "ALTER TABLE deliveries ADD COLUMN payload TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE deliveries ADD COLUMN done INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE deliveries ADD COLUMN lease_until REAL NOT NULL DEFAULT 0",
    ),
}
_PENDING_INDEX = "CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (done, lease_until)"

# Tables `prune` trims, each with its timestamp column `at`; tokens are never pruned.
_PRUNED = ("deliveries", "rate_hits", "turns")


class Database:
    """One SQLite file, its schema and transactions; see the module docstring for the
    concurrency model. The stores in this package add what they hold."""

    def __init__(
        self, path: Path, *, salt: str, clock: Callable[[], float] = time.time
    ) -> None:
        if not salt:
            raise ValueError("a non-empty salt is required: unsalted ids are trivially reversed")
        self.path = Path(path)
        self._salt = salt
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The file holds refresh tokens; SQLite gives -wal/-shm the same mode.
        self.path.touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._enable_wal()
        # NORMAL never loses a commit when the process dies, only on power loss; FULL (an fsync
        # per commit) is kept for the writes that cannot be redone, see `_write(durable=True)`.
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so a concurrent
        writer waits on `busy_timeout` instead of failing on a read-to-write upgrade.
        `durable` fsyncs the commit (and every commit before it) to survive power loss."""
        with self._lock:
            if durable:
                self._db.execute("PRAGMA synchronous = FULL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    self._db.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-statement reads."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def _enable_wal(self) -> None:
        """Switch the file to WAL (a persistent setting). The switch needs an exclusive lock and
        SQLite does not wait on `busy_timeout` for it, so processes opening a fresh file at the
        same moment retry here until one of them has done it."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self) -> None:
        with self._write() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            (version,) = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if version is not None and version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than {SCHEMA_VERSION}"
                )
            for step in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(_PENDING_INDEX)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256((self._salt + ":".join(parts)).encode("utf-8")).hexdigest()

    def _now(self, now: float | None = None) -> float:
        return self._clock() if now is None else now

    def hash_user(self, channel: str, user_id: str) -> str:
        """sha256(salt + channel + ":" + user_id), hex: the only form a user id is stored in."""
        return self._hash(channel, user_id)

    def prune(self, older_than_days: int) -> int:
        """Delete rows older than `older_than_days` days (tokens excepted); the count deleted."""
        cutoff = self._now() - older_than_days * DAY_S
        with self._write() as db:
            return sum(
                db.execute(f"DELETE FROM {table} WHERE at < ?", (cutoff,)).rowcount
                for table in _PRUNED
            )

    def ping(self) -> bool:
        with self._lock:
            self._db.execute("SELECT 1")
        return True

    def close(self) -> None:
        """Close the connection; the last one out checkpoints the WAL into the main file."""
        with self._lock:
            self._db.close()
