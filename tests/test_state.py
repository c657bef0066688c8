"""The SQLite state store, on real files: de-duplication across processes, rate limits,
hashing, feedback, analytics, tokens, pruning and concurrent writers."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.contract import Claim
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
    store.log_question("zalo", user, question, "unit_lookup", False, 12.5, "a1")
    store.feedback("a1", user, True)
    assert store.last_turn(f"zalo:{raw}") == (question, "unit_lookup")
    store.close()
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert all(raw.encode() not in p.read_bytes() for p in files)


def test_empty_salt_is_refused(db_path: Path) -> None:
    with pytest.raises(ValueError):
        StateStore(db_path, salt="")


def test_feedback_second_vote_replaces_first(store: StateStore) -> None:
    alice, bob = store.hash_user("telegram", "1"), store.hash_user("telegram", "2")
    store.feedback("a1", alice, True)
    store.feedback("a1", alice, False)
    store.feedback("a1", bob, False)
    store.feedback("a2", alice, True)
    stats = store.stats()
    assert (stats.feedback_up, stats.feedback_down) == (1, 2)


def test_stats_counts_and_groups_with_and_without_diacritics(db_path: Path) -> None:
    clock = Clock()
    store = StateStore(db_path, salt=SALT, clock=clock)
    alice, bob = store.hash_user("telegram", "1"), store.hash_user("zalo", "2")
    log = [
        ("telegram", alice, "Xã Tân Lập giờ là xã nào?", "unit_lookup", False),
        ("zalo", bob, "xa tan lap gio la xa nao", "unit_lookup", False),
        ("telegram", bob, "XÃ TÂN LẬP  giờ là xã nào", "unit_lookup", False),
        ("zalo", alice, "Giá vàng hôm nay?", "general", True),
        ("zalo", bob, "gia vang hom nay", "general", True),
        ("telegram", alice, "Ai ký Kế hoạch 47?", "document_facts", False),
    ]
    for channel, user, question, mode, refused in log:
        store.log_question(channel, user, question, mode, refused, 20.0, f"a-{question}")
    clock.now -= 40 * DAY_S  # outside the 30-day window
    store.log_question("telegram", alice, "Câu cũ", "general", True, 1.0, "old")
    clock.now += 40 * DAY_S
    store.feedback("a-Ai ký Kế hoạch 47?", bob, helpful=False)
    store.feedback("a-Xã Tân Lập giờ là xã nào?", bob, helpful=True)

    stats = store.stats(days=30, top=2)
    store.close()
    assert (stats.total, stats.refused, stats.unique_users) == (6, 2, 2)
    assert stats.refused_share == pytest.approx(2 / 6)
    assert stats.by_mode == {"unit_lookup": 3, "general": 2, "document_facts": 1}
    assert stats.by_channel == {"telegram": 3, "zalo": 3}
    assert [(t.folded, t.count) for t in stats.top_questions] == [
        ("xa tan lap gio la xa nao", 3),
        ("gia vang hom nay", 2),
    ]
    assert stats.top_questions[0].example in {q for _, _, q, _, _ in log}
    assert [(t.folded, t.count) for t in stats.top_declined] == [("gia vang hom nay", 2)]
    assert [t.example for t in stats.top_unhelpful] == ["Ai ký Kế hoạch 47?"]


def test_stats_of_an_empty_store(store: StateStore) -> None:
    stats = store.stats()
    assert (stats.total, stats.refused_share, stats.top_questions) == (0, 0.0, [])


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
    store.claim("telegram", "old", "{}", 60)
    store.allow(user)
    store.remember_turn("old", "q", "general")
    store.log_question("telegram", user, "q", "general", False, 1.0, "a-old")
    store.feedback("a-old", user, True)
    store.save_tokens("zalo", {"refresh_token": "R"})
    clock.now += 10 * DAY_S
    store.claim("telegram", "new", "{}", 60)
    store.log_question("telegram", user, "q", "general", False, 1.0, "a-new")

    assert store.prune(older_than_days=7) == 5
    assert store.claim("telegram", "old", "{}", 60) is Claim.NEW
    assert store.claim("telegram", "new", "{}", 60) is Claim.BUSY
    assert store.last_turn("old") is None
    assert store.stats(days=365).total == 1
    assert store.tokens("zalo") == {"refresh_token": "R"}
    store.close()


def test_concurrent_writes_from_threads(db_path: Path) -> None:
    shared = StateStore(db_path, salt=SALT)
    errors: list[Exception] = []

    def work(n: int, store: StateStore) -> None:
        try:
            for i in range(100):
                user = store.hash_user("telegram", str(n))
                store.claim("telegram", f"{n}-{i}", "{}", 60)
                store.allow(user, limit=1000)
                store.log_question("telegram", user, f"câu {i}", "general", False, 1.0, f"{n}-{i}")
                store.feedback(f"{n}-{i}", user, i % 2 == 0)
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
    assert shared.stats().total == 400
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
    assert store.claim("telegram", "5", "{}", 60) is Claim.DONE
    assert store.claim("telegram", "6", "{}", 60) is Claim.NEW
    store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
