"""The question log and feedback, and the statistics officials read from them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from bot.state.database import DAY_S, Database
from ingest.text import fold, syllables


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


class Analytics(Database):
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
