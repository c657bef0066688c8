"""What officials read, in one SQL database for every instance: each question asked (channel,
hashed user, mode, declined or not, latency, the answer given), the 👍/👎 votes, and the
statistics drawn from them. SQLAlchemy Core over SQLite by default, PostgreSQL with
`SAPXEP_DATABASE_URL`; the schema is Alembic's (`bot/state/migrations/`), applied at start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.state.migrations import migrate
from ingest.text import fold, syllables

log = logging.getLogger(__name__)
DAY_S = 86_400.0
PENDING_ROWS = 100_000  # questions kept in memory while the database is down
# what the database (or the way to it) being down looks like; a wrong query is none of them
OUTAGE = (OperationalError, InterfaceError, PoolTimeout, OSError)
metadata = MetaData()
questions = Table(
    "questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("user_hash", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("folded", Text, nullable=False, index=True),
    Column("mode", String(40), nullable=False),
    Column("refused", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("answer_id", String(40), nullable=False, unique=True),
    Column("answer", Text, nullable=False, server_default=""),
    Column("subject", Text, nullable=False, server_default=""),
    Column("topic", Text, nullable=False, server_default=""),
)
feedback = Table(
    "feedback",
    metadata,
    Column("answer_id", String(40), primary_key=True),
    Column("user_hash", String(64), primary_key=True),
    Column("helpful", Boolean, nullable=False),
    Column("at", Float, nullable=False, index=True),
)


class DatabaseUnavailable(Exception):
    """The question database cannot be reached now (`/healthz` says `database: degraded`)."""


@contextmanager
def reached() -> Iterator[None]:
    """Raise DatabaseUnavailable for an outage inside the block, so a reader can say so."""
    try:
        yield
    except OUTAGE as exc:
        raise DatabaseUnavailable(type(exc).__name__) from exc


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


def open_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # the answer threads and the event loop share it; SQLite serialises the writes, and
        # WAL lets the workers of one machine read while another writes. synchronous=NORMAL:
        # a commit survives the process being killed, and no fsync per question (which cost
        # more than answering it); only a power cut can take the last few rows.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _wal)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4, pool_timeout=5)


def _wal(db: Any, _record: Any) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")


class QuestionLog:
    def __init__(self, url: str, clock: Callable[[], float] = time.time):
        self.engine = open_engine(url)
        self._clock = clock
        self._migrated = False
        self._pending: deque[dict[str, object]] = deque(maxlen=PENDING_ROWS)
        self._flushing = threading.Lock()
        try:  # a database down at start must not keep the service down: retried on use
            self._migrate()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("question database unavailable at start: %s", type(exc).__name__)

    def _migrate(self) -> None:
        if not self._migrated:
            migrate(self.engine)
            self._migrated = True

    def log_question(
        self,
        channel: str,
        user_hash: str,
        question: str,
        mode: str,
        refused: bool,
        latency_ms: float,
        answer_id: str,
        answer: str = "",
        subject: str = "",
        topic: str = "",
    ) -> None:
        """Record one answered (or declined) question; `subject`: the unit, province or document
        it names, `topic`: for a declined one, what the documents lack."""
        row = {
            "at": self._clock(), "channel": channel, "user_hash": user_hash, "question": question,
            "folded": question_key(question), "mode": mode, "refused": bool(refused),
            "latency_ms": float(latency_ms), "answer_id": answer_id, "answer": answer,
            "subject": subject, "topic": topic,
        }  # fmt: skip
        self._pending.append(row)
        self._flush()

    def _flush(self) -> None:
        """Write the questions not yet written, once each (keyed by answer_id): a row whose
        write failed (the database restarting) stays queued for the next write or `ping`."""
        with self._flushing:
            if not self._pending:
                return
            rows = list(self._pending)
            self._migrate()
            with self.engine.begin() as db:
                db.execute(self._insert(questions).on_conflict_do_nothing(index_elements=["answer_id"]), rows)
            for _ in rows:
                self._pending.popleft()

    def _insert(self, table: Table):
        """INSERT with this database's ON CONFLICT clauses."""
        return (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(table)

    def feedback(self, answer_id: str, user_hash: str, helpful: bool) -> None:
        """One vote per (answer_id, user_hash); a second vote replaces the first."""
        values = {
            "answer_id": answer_id,
            "user_hash": user_hash,
            "helpful": bool(helpful),
            "at": self._clock(),
        }
        insert = self._insert(feedback)
        upsert = insert.values(values).on_conflict_do_update(
            index_elements=["answer_id", "user_hash"],
            set_={"helpful": insert.excluded.helpful, "at": insert.excluded.at},
        )
        with reached():
            self._migrate()
            with self.engine.begin() as db:
                db.execute(upsert)

    def stats(self, days: int = 30, top: int = 10) -> Stats:
        """Usage over the last `days` days."""
        since = self._clock() - days * DAY_S
        recent = questions.c.at >= since
        with self.reading() as db:
            total, declined, users = db.execute(
                select(func.count(), count_where(questions.c.refused), func.count(questions.c.user_hash.distinct()))
                .where(recent)
            ).one()  # fmt: skip
            up, down = db.execute(
                select(count_where(feedback.c.helpful), count_where(~feedback.c.helpful)).where(feedback.c.at >= since)
            ).one()
            voted_down = select(feedback.c.answer_id).where(feedback.c.helpful.is_(False))
            return Stats(
                days=days,
                total=total,
                refused=int(declined),
                refused_share=int(declined) / total if total else 0.0,
                unique_users=users,
                by_mode=_counts(db, questions.c.mode, recent),
                by_channel=_counts(db, questions.c.channel, recent),
                top_questions=_top(db, recent, top),
                top_declined=_top(db, recent & questions.c.refused.is_(True), top),
                top_unhelpful=_top(db, recent & questions.c.answer_id.in_(voted_down), top),
                feedback_up=int(up),
                feedback_down=int(down),
            )

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reading (the statistics, the dashboard), the schema brought up to
        date first; DatabaseUnavailable while the database is down."""
        with reached():
            self._migrate()
            with self.engine.connect() as db:
                yield db

    def prune(self, older_than_days: int) -> int:
        cutoff = self._clock() - older_than_days * DAY_S
        with self.engine.begin() as db:
            return sum(
                db.execute(t.delete().where(t.c.at < cutoff)).rowcount
                for t in (questions, feedback)
            )

    def ping(self) -> bool:
        self._migrate()
        with self.engine.connect() as db:
            db.execute(select(1))
        self._flush()
        return True

    def close(self) -> None:
        self.engine.dispose()


def count_where(condition):
    """SQL: how many rows meet `condition` (0 when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts(db: Connection, column, where) -> dict[str, int]:
    n = func.count().label("n")
    rows = db.execute(select(column, n).where(where).group_by(column).order_by(n.desc(), column))
    return {key: count for key, count in rows}


def _top(db: Connection, where, top: int) -> list[TopQuestion]:
    n = func.count().label("n")
    groups = db.execute(
        select(questions.c.folded, n).where(where).group_by(questions.c.folded)
        .order_by(n.desc(), questions.c.folded).limit(top)
    ).all()  # fmt: skip
    return [TopQuestion(folded, _example(db, where, folded), count) for folded, count in groups]


def _example(db: Connection, where, folded: str) -> str:
    n = func.count().label("n")
    return db.execute(
        select(questions.c.question).where(where & (questions.c.folded == folded))
        .group_by(questions.c.question).order_by(n.desc(), func.max(questions.c.at).desc()).limit(1)
    ).scalar_one()  # fmt: skip
