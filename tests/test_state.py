"""The SQLite state store, on real files: de-duplication across processes, rate limits,
hashing, conversations, tokens, pruning and concurrent writers."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.database import DAY_S
from bot.state.sqlite import StateStore

SALT = "test-salt"


class Clock:
    """A settable clock for the store."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    s = StateStore(db_path, salt=SALT)
    yield s
    s.close()


def test_rate_limit_sliding_window(store: StateStore) -> None:
    user = store.hash_user("telegram", "42")
    assert all(store.allow(user, limit=3, window_s=60, now=t) for t in (0.0, 1.0, 2.0))
    assert store.allow(user, limit=3, window_s=60, now=3.0) is False
    assert store.allow(store.hash_user("telegram", "43"), limit=3, window_s=60, now=3.0)
    assert store.allow(user, limit=3, window_s=60, now=60.5) is True  # the hit at 0 expired
    assert store.allow(user, limit=3, window_s=60, now=60.6) is False


def test_user_ids_never_stored(db_path: Path) -> None:
    raw = "8412345678"
    store = StateStore(db_path, salt=SALT)
    user = store.hash_user("zalo", raw)
    assert raw not in user and user == store.hash_user("zalo", raw)
    assert user != store.hash_user("telegram", raw)
    assert user == hashlib.sha256(f"{SALT}zalo:{raw}".encode()).hexdigest()
    store.allow(user)
    question = "Xã Tân Lập giờ là xã nào?"
    store.remember_turn(f"zalo:{raw}", question, "unit_lookup")
    assert store.last_turn(f"zalo:{raw}") == (question, "unit_lookup")
    store.close()
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert all(raw.encode() not in p.read_bytes() for p in files)


def test_empty_salt_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError):
        StateStore(db_path, salt="")






def test_tokens_persist_across_reopen(db_path: Path) -> None:
    store = StateStore(db_path, salt=SALT)
    assert store.tokens("zalo") is None
    store.save_tokens("zalo", {"access_token": "A1", "refresh_token": "R1"})
    store.save_tokens("zalo", {"access_token": "A2", "refresh_token": "R2"})
    store.close()
    reopened = StateStore(db_path, salt=SALT)
    assert reopened.tokens("zalo") == {"access_token": "A2", "refresh_token": "R2"}
    reopened.close()


def test_prune_removes_old_rows(db_path: Path) -> None:
    clock = Clock()
    store = StateStore(db_path, salt=SALT, clock=clock)
    user = store.hash_user("telegram", "1")
    clock.now -= 10 * DAY_S
    store.add("telegram", "old", "{}")
    store.allow(user)
    store.remember_turn("old", "q", "general")
    store.save_tokens("zalo", {"refresh_token": "R"})
    clock.now += 10 * DAY_S
    store.add("telegram", "new", "{}")

    assert store.prune(older_than_days=7) == 3
    assert store.add("telegram", "old", "{}") is True  # forgotten: a new delivery
    assert store.add("telegram", "new", "{}") is False
    assert store.last_turn("old") is None
    assert store.tokens("zalo") == {"refresh_token": "R"}
    store.close()


def test_concurrent_writes_from_threads(db_path: Path) -> None:
    shared = StateStore(db_path, salt=SALT)
    errors: list[Exception] = []

    def work(n: int, store: StateStore) -> None:
        try:
            for i in range(100):
                user = store.hash_user("telegram", str(n))
                store.add("telegram", f"{n}-{i}", "{}")
                store.allow(user, limit=1000)
                store.remember_turn(f"{n}-{i}", f"câu {i}", "general")
        except Exception as exc:  # surfaced in the main thread
            errors.append(exc)

    # Two threads share one store, two open their own: both in-process paths.
    stores = [shared, shared, StateStore(db_path, salt=SALT), StateStore(db_path, salt=SALT)]
    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert shared.last_turn("3-99") == ("câu 99", "general")
    for s in {id(s): s for s in stores}.values():
        s.close()


def test_wal_mode_and_schema_version(store: StateStore, db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]


def test_a_version_1_file_is_migrated_and_its_deliveries_count_as_answered(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.executescript(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);"
            "INSERT INTO schema_version VALUES (1);"
            "CREATE TABLE deliveries (channel TEXT NOT NULL, update_id TEXT NOT NULL, "
            "at REAL NOT NULL, PRIMARY KEY (channel, update_id)) WITHOUT ROWID;"
            "INSERT INTO deliveries VALUES ('telegram', '5', 1.0);"
        )
    store = StateStore(db_path, salt=SALT)
    assert store.add("telegram", "5", "{}") is False
    assert store.add("telegram", "6", "{}") is True
    assert [d.update_id for d in store.take("w", 10, 60)] == ["6"]  # 5 counts as answered
    store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
