"""The question log officials read, on SQLite and on a real PostgreSQL server: votes, statistics
grouped with and without diacritics, pruning, concurrent writers, numbered Alembic migrations up
and down, a server restart ridden out, and two instances that see the same figures."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from bot.state.migrations import current, downgrade, migrate
from bot.state.questionlog import DAY_S, QuestionLog


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(url: str, clock: Clock) -> Iterator[QuestionLog]:
    opened = QuestionLog(url, clock=clock)
    yield opened
    opened.close()


def test_a_second_vote_replaces_the_first(log: QuestionLog) -> None:
    log.feedback("a1", "alice", True)
    log.feedback("a1", "alice", False)
    log.feedback("a1", "bob", False)
    log.feedback("a2", "alice", True)
    stats = log.stats()
    assert (stats.feedback_up, stats.feedback_down) == (1, 2)


def test_stats_count_and_group_with_and_without_diacritics(log: QuestionLog, clock: Clock) -> None:
    asked = [
        ("telegram", "alice", "Xã Tân Lập giờ là xã nào?", "unit_lookup", False),
        ("zalo", "bob", "xa tan lap gio la xa nao", "unit_lookup", False),
        ("telegram", "bob", "XÃ TÂN LẬP  giờ là xã nào", "unit_lookup", False),
        ("zalo", "alice", "Giá vàng hôm nay?", "general", True),
        ("zalo", "bob", "gia vang hom nay", "general", True),
        ("telegram", "alice", "Ai ký Kế hoạch 47?", "document_facts", False),
    ]
    for channel, user, question, mode, refused in asked:
        log.log_question(channel, user, question, mode, refused, 20.0, f"a-{question}", answer="…")
    clock.now -= 40 * DAY_S  # outside the 30-day window
    log.log_question("telegram", "alice", "Câu cũ", "general", True, 1.0, "old")
    clock.now += 40 * DAY_S
    log.feedback("a-Ai ký Kế hoạch 47?", "bob", helpful=False)
    log.feedback("a-Xã Tân Lập giờ là xã nào?", "bob", helpful=True)

    stats = log.stats(days=30, top=2)
    assert (stats.total, stats.refused, stats.unique_users) == (6, 2, 2)
    assert stats.refused_share == pytest.approx(2 / 6)
    assert stats.by_mode == {"unit_lookup": 3, "general": 2, "document_facts": 1}
    assert stats.by_channel == {"telegram": 3, "zalo": 3}
    assert [(t.folded, t.count) for t in stats.top_questions] == [
        ("xa tan lap gio la xa nao", 3),
        ("gia vang hom nay", 2),
    ]
    assert stats.top_questions[0].example in {q for _, _, q, _, _ in asked}
    assert [(t.folded, t.count) for t in stats.top_declined] == [("gia vang hom nay", 2)]
    assert [t.example for t in stats.top_unhelpful] == ["Ai ký Kế hoạch 47?"]
    assert log.prune(older_than_days=35) == 1 and log.stats(days=365).total == 6


def test_an_empty_log(log: QuestionLog) -> None:
    stats = log.stats()
    assert (stats.total, stats.refused_share, stats.top_questions) == (0, 0.0, [])


def test_concurrent_writers(url: str) -> None:
    logs = [QuestionLog(url), QuestionLog(url)]  # two instances, two threads each
    errors: list[Exception] = []

    def work(n: int, log: QuestionLog) -> None:
        try:
            for i in range(50):
                log.log_question("telegram", f"u{n}", f"câu {i}", "general", False, 1.0, f"{n}-{i}")
                log.feedback(f"{n}-{i}", f"u{n}", i % 2 == 0)
        except Exception as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, logs[n % 2])) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert logs[0].stats().total == logs[1].stats().total == 200
    assert logs[1].stats().feedback_up == 100
    for log in logs:
        log.close()


def test_migrations_go_up_and_down(url: str) -> None:
    log = QuestionLog(url)
    assert current(log.engine) == "0003"
    columns = {c["name"] for c in inspect(log.engine).get_columns("questions")}
    assert "answer" in columns
    log.log_question("web", "u", "câu hỏi", "general", False, 1.0, "a1", answer="trả lời")
    downgrade(log.engine, "0001")
    assert current(log.engine) == "0001"
    assert "answer" not in {c["name"] for c in inspect(log.engine).get_columns("questions")}
    downgrade(log.engine, "base")
    assert not inspect(log.engine).has_table("questions")
    migrate(log.engine)
    assert current(log.engine) == "0003" and log.stats().total == 0
    log.close()


def test_questions_asked_while_postgresql_is_down_are_written_once_it_is_back(
    postgres_server,
) -> None:
    url = postgres_server.new_database()
    log = QuestionLog(url)
    log.log_question("web", "u", "trước", "general", False, 1.0, "a1")
    postgres_server.stop()
    try:
        with pytest.raises(OperationalError):  # the caller counts a state error and answers anyway
            log.log_question("web", "u", "trong lúc dừng", "general", False, 1.0, "a2")
    finally:
        postgres_server.start()
    log.log_question("web", "u", "sau", "general", False, 1.0, "a3")  # the pool reconnects
    assert log.ping()
    assert log.stats().total == 3 and log.stats().top_questions[0].count == 1
    log.close()


def test_a_database_down_at_start_is_migrated_when_it_answers(postgres_server) -> None:
    url = postgres_server.new_database()
    postgres_server.stop()
    try:
        log = QuestionLog(url)  # no exception: the service starts without its database
        with pytest.raises(OperationalError):
            log.ping()
    finally:
        postgres_server.start()
    assert log.ping() and current(log.engine) == "0003"
    log.log_question("web", "u", "câu", "general", False, 1.0, "a1")
    assert log.stats().total == 1
    log.close()


def test_a_logged_question_survives_the_process_being_killed(tmp_path: Path) -> None:
    """SQLite commits without an fsync per question (synchronous=NORMAL in WAL): a process
    killed right after answering still leaves its row."""
    url = f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    script = (
        "import os, signal, sys\n"
        "from bot.state.questionlog import QuestionLog\n"
        "log = QuestionLog(sys.argv[1])\n"
        "log.log_question('web', 'u1', 'Phường Quan Hoa giờ là phường nào?', 'unit_lookup',"
        " False, 3.0, 'a-killed')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, url], capture_output=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    log = QuestionLog(url)
    try:
        with log.engine.connect() as db:
            assert db.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert log.stats(days=3650).total == 1
    finally:
        log.close()
