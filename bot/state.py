"""Persistent state in one SQLite file: the webhook delivery log, rate limits, conversations,
the question log and feedback for officials' analytics, and the Zalo token store.

`SharedState` is the part several instances must agree on (deliveries, rate limits,
conversations, tokens, the salt); `StateStore` implements it for one machine and
`bot.redis_state.RedisState` for many. Analytics always stay in the SQLite file.

One `StateStore` per process (open it after forking). Inside a process one connection is shared
by all threads behind a lock; across processes SQLite's own locking (WAL, `busy_timeout`) keeps
writes serialised. Raw user ids never reach the file: callers pass `hash_user` results, and
conversation keys (which usually embed a chat id) are hashed here.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.text import fold, syllables

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
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    channel TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    question TEXT NOT NULL,
    folded TEXT NOT NULL,
    mode TEXT NOT NULL,
    refused INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    answer_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at);
CREATE INDEX IF NOT EXISTS questions_folded ON questions (folded);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feedback_at ON feedback (at);
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
_PRUNED = ("deliveries", "rate_hits", "turns", "questions", "feedback")


class Claim(enum.Enum):
    """What `claim` found: a delivery to handle now, one already answered, or one another
    worker is handling (its lease not yet expired)."""

    NEW = "new"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Delivery:
    """A recorded webhook delivery whose handler has not finished."""

    channel: str
    update_id: str
    payload: str


class SharedState(Protocol):
    """The state every worker and instance of the service must share."""

    def hash_user(self, channel: str, user_id: str) -> str: ...

    def claim(self, channel: str, update_id: str, payload: str, lease_s: float) -> Claim: ...

    def renew(self, channel: str, update_id: str, lease_s: float) -> None: ...

    def complete(self, channel: str, update_id: str) -> None: ...

    def expired(self, lease_s: float, limit: int = 50) -> list[Delivery]: ...

    def allow(self, user_hash: str, limit: int = 20, window_s: float = 60.0) -> bool: ...

    def last_turn(self, conversation: str) -> tuple[str, str] | None: ...

    def remember_turn(self, conversation: str, question: str, mode: str) -> None: ...

    def tokens(self, name: str) -> dict[str, str] | None: ...

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TopQuestion:
    """A group of questions that fold to the same text."""

    folded: str
    example: str  # the commonest original spelling in the group
    count: int


@dataclass(frozen=True)
class Stats:
    """Usage over the last `days` days."""

    days: int
    total: int
    refused: int
    refused_share: float
    unique_users: int
    by_mode: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    top_questions: list[TopQuestion] = field(default_factory=list)
    top_declined: list[TopQuestion] = field(default_factory=list)
    top_unhelpful: list[TopQuestion] = field(default_factory=list)  # answers voted 👎
    feedback_up: int = 0
    feedback_down: int = 0


def question_key(question: str) -> str:
    """The grouping key of a question: folded syllables, so case, diacritics, spacing and
    punctuation don't split a group."""
    return " ".join(syllables(question)) or fold(question).strip()


class StateStore:
    """The SQLite-backed store; see the module docstring for the concurrency model."""

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

    # --- plumbing -----------------------------------------------------------------------------

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

    # --- identities and webhooks ----------------------------------------------------------------

    def hash_user(self, channel: str, user_id: str) -> str:
        """sha256(salt + channel + ":" + user_id), hex: the only form a user id is stored in."""
        return self._hash(channel, user_id)

    def claim(self, channel: str, update_id: str, payload: str, lease_s: float) -> Claim:
        """Record a webhook delivery with its payload before it is acknowledged.

        NEW: the caller handles it and calls `complete`; its lease lets another worker redo it
        (`expired`) if the caller dies first. DONE: answered already. BUSY: another worker
        holds a live lease. A delivery whose lease ran out is taken over (NEW)."""
        now = self._now()
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (channel, update_id, at, payload, done, "
                "lease_until) VALUES (?, ?, ?, ?, 0, ?)",
                (channel, str(update_id), now, payload, now + lease_s),
            )
            if cur.rowcount == 1:
                return Claim.NEW
            done, lease_until = db.execute(
                "SELECT done, lease_until FROM deliveries WHERE channel = ? AND update_id = ?",
                (channel, str(update_id)),
            ).fetchone()
            if done:
                return Claim.DONE
            if lease_until > now:
                return Claim.BUSY
            db.execute(
                "UPDATE deliveries SET lease_until = ? WHERE channel = ? AND update_id = ?",
                (now + lease_s, channel, str(update_id)),
            )
            return Claim.NEW

    def renew(self, channel: str, update_id: str, lease_s: float) -> None:
        """Extend the lease of a delivery still being handled (the handler's heartbeat)."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET lease_until = ? "
                "WHERE channel = ? AND update_id = ? AND done = 0",
                (self._now() + lease_s, channel, str(update_id)),
            )

    def complete(self, channel: str, update_id: str) -> None:
        """Mark a claimed delivery answered; its payload is dropped."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET done = 1, payload = '' WHERE channel = ? AND update_id = ?",
                (channel, str(update_id)),
            )

    def expired(self, lease_s: float, limit: int = 50) -> list[Delivery]:
        """Take over (renewing their lease) up to `limit` deliveries whose handler died."""
        now = self._now()
        with self._write() as db:
            rows = db.execute(
                "SELECT channel, update_id, payload FROM deliveries "
                "WHERE done = 0 AND lease_until <= ? ORDER BY lease_until LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE channel = ? AND update_id = ?",
                [(now + lease_s, channel, update_id) for channel, update_id, _ in rows],
            )
        return [Delivery(*row) for row in rows]

    def allow(
        self, user_hash: str, limit: int = 20, window_s: float = 60.0, now: float | None = None
    ) -> bool:
        """Sliding-window rate limit: True (and the hit recorded) while the user has fewer than
        `limit` hits in the last `window_s` seconds. Refused attempts are not recorded, so a
        user who keeps trying is let back in once the window has passed."""
        now = self._now(now)
        with self._write() as db:
            db.execute(
                "DELETE FROM rate_hits WHERE user_hash = ? AND at <= ?",
                (user_hash, now - window_s),
            )
            (hits,) = db.execute(
                "SELECT COUNT(*) FROM rate_hits WHERE user_hash = ?", (user_hash,)
            ).fetchone()
            if hits >= limit:
                return False
            db.execute("INSERT INTO rate_hits (user_hash, at) VALUES (?, ?)", (user_hash, now))
            return True

    # --- conversations --------------------------------------------------------------------------

    def last_turn(self, conversation: str) -> tuple[str, str] | None:
        """(question, mode) of the conversation's last turn, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT question, mode FROM turns WHERE conversation = ?",
                (self._hash("conversation", conversation),),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_turn(self, conversation: str, question: str, mode: str) -> None:
        """Replace the conversation's last turn."""
        with self._write() as db:
            db.execute(
                "INSERT INTO turns (conversation, question, mode, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation) DO UPDATE SET "
                "question = excluded.question, mode = excluded.mode, at = excluded.at",
                (self._hash("conversation", conversation), question, mode, self._now()),
            )

    # --- analytics ------------------------------------------------------------------------------

    def log_question(
        self,
        channel: str,
        user_hash: str,
        question: str,
        mode: str,
        refused: bool,
        latency_ms: float,
        answer_id: str,
    ) -> None:
        """Record one answered (or declined) question."""
        with self._write() as db:
            db.execute(
                "INSERT INTO questions (at, channel, user_hash, question, folded, mode, refused, "
                "latency_ms, answer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._now(),
                    channel,
                    user_hash,
                    question,
                    question_key(question),
                    mode,
                    int(refused),
                    float(latency_ms),
                    answer_id,
                ),
            )

    def feedback(self, answer_id: str, user_hash: str, helpful: bool) -> None:
        """One vote per (answer_id, user_hash); a second vote replaces the first."""
        with self._write() as db:
            db.execute(
                "INSERT INTO feedback (answer_id, user_hash, helpful, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_hash) DO UPDATE SET "
                "helpful = excluded.helpful, at = excluded.at",
                (answer_id, user_hash, int(helpful), self._now()),
            )

    def stats(self, days: int = 30, top: int = 10) -> Stats:
        """Usage over the last `days` days, in one consistent snapshot."""
        since = self._now() - days * DAY_S
        with self._read() as db:
            total, refused, users = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(refused), 0), COUNT(DISTINCT user_hash) "
                "FROM questions WHERE at >= ?",
                (since,),
            ).fetchone()
            up, down = db.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) "
                "FROM feedback WHERE at >= ?",
                (since,),
            ).fetchone()
            return Stats(
                days=days,
                total=total,
                refused=refused,
                refused_share=refused / total if total else 0.0,
                unique_users=users,
                by_mode=_counts(db, "mode", since),
                by_channel=_counts(db, "channel", since),
                top_questions=_top(db, since, top, ""),
                top_declined=_top(db, since, top, "AND refused = 1"),
                top_unhelpful=_top(db, since, top, _VOTED_DOWN),
                feedback_up=up,
                feedback_down=down,
            )

    # --- tokens ---------------------------------------------------------------------------------

    def tokens(self, name: str) -> dict[str, str] | None:
        """The token set saved under `name`, or None."""
        with self._lock:
            row = self._db.execute("SELECT data FROM tokens WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None:
        """Replace the whole token set in one transaction, so an access token and the refresh
        token that came with it are never split."""
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()):
            raise TypeError("tokens must map str to str")
        with self._write(durable=True) as db:
            db.execute(
                "INSERT INTO tokens (name, data, at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET data = excluded.data, at = excluded.at",
                (name, json.dumps(tokens, ensure_ascii=False), self._now()),
            )

    # --- housekeeping ---------------------------------------------------------------------------

    def prune(self, older_than_days: int) -> int:
        """Delete rows older than `older_than_days` days (tokens excepted); the count deleted."""
        cutoff = self._now() - older_than_days * DAY_S
        with self._write() as db:
            return sum(
                db.execute(f"DELETE FROM {table} WHERE at < ?", (cutoff,)).rowcount
                for table in _PRUNED
            )

    def close(self) -> None:
        """Close the connection; the last one out checkpoints the WAL into the main file."""
        with self._lock:
            self._db.close()


def _counts(db: sqlite3.Connection, column: str, since: float) -> dict[str, int]:
    rows = db.execute(
        f"SELECT {column}, COUNT(*) FROM questions WHERE at >= ? GROUP BY {column} "
        "ORDER BY COUNT(*) DESC, 1",
        (since,),
    )
    return dict(rows.fetchall())


_VOTED_DOWN = "AND answer_id IN (SELECT answer_id FROM feedback WHERE helpful = 0)"


def _top(db: sqlite3.Connection, since: float, top: int, condition: str) -> list[TopQuestion]:
    where = f"at >= ? {condition}"
    groups = db.execute(
        f"SELECT folded, COUNT(*) FROM questions WHERE {where} "
        "GROUP BY folded ORDER BY COUNT(*) DESC, folded LIMIT ?",
        (since, top),
    ).fetchall()
    return [
        TopQuestion(folded=folded, example=_example(db, where, since, folded), count=count)
        for folded, count in groups
    ]


def _example(db: sqlite3.Connection, where: str, since: float, folded: str) -> str:
    (question,) = db.execute(
        f"SELECT question FROM questions WHERE {where} AND folded = ? "
        "GROUP BY question ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT 1",
        (since, folded),
    ).fetchone()
    return question
