"""What the officials' dashboard shows, computed by the SQL database over the question log:
questions per day and channel, what is asked most (by kind, then by the unit, province or
document named), what the documents do not answer (declines by missing topic, with examples),
👎 answers with the answer given, 👍/👎 per kind, latency and refusal rate. Days are Vietnam's
(UTC+7). Every panel is a list of flat rows, so it is also a CSV table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.engine import Connection

from bot.state.questionlog import DAY_S, QuestionLog, count_where, feedback, questions
from ingest.text import one_line
from prompts import template

UTC_OFFSET_S = 7 * 3600
VIETNAM = timedelta(seconds=UTC_OFFSET_S)
PANELS = ("daily", "kinds", "subjects", "declined", "unhelpful", "latency")
EXAMPLE_CHARS = 200  # a question quoted as an example: one line
TEXT_CHARS = 300  # any text of a panel (a table cell, a CSV field)
# declined as unreadable (empty, too long) or as trying to change the instructions: one row
HOSTILE_TOPICS = ("topic.unreadable", "topic.injection")
Row = dict[str, object]


@dataclass(frozen=True)
class Period:
    days: int = 30
    channel: str = ""  # "" = every channel
    until: float | None = None  # epoch seconds; None = now

    def bounds(self) -> tuple[float, float]:
        until = time.time() if self.until is None else self.until
        return until - self.days * DAY_S, until


class Insights:
    def __init__(self, log: QuestionLog):
        self.log = log

    def panels(self, period: Period) -> dict[str, list[Row]]:
        with self.log.reading() as db:
            return {name: _bounded(getattr(self, name)(db, period)) for name in PANELS}

    def panel(self, name: str, period: Period) -> list[Row]:
        if name not in PANELS:
            raise KeyError(name)
        with self.log.reading() as db:
            return _bounded(getattr(self, name)(db, period))

    def _where(self, period: Period):
        since, until = period.bounds()
        where = and_(questions.c.at >= since, questions.c.at < until)
        return and_(where, questions.c.channel == period.channel) if period.channel else where

    def daily(self, db: Connection, period: Period) -> list[Row]:
        day = self._day(db)
        rows = db.execute(
            select(day.label("day"), questions.c.channel, func.count(), _refused())
            .where(self._where(period)).group_by(day, questions.c.channel).order_by(day, questions.c.channel)
        )  # fmt: skip
        return [
            {"ngay": _date(d), "kenh": channel, "cau_hoi": n, "tu_choi": int(refused)}
            for d, channel, n, refused in rows
        ]

    def kinds(self, db: Connection, period: Period) -> list[Row]:
        where = self._where(period)
        asked = db.execute(
            select(questions.c.mode, func.count(), _refused(), func.avg(questions.c.latency_ms))
            .where(where).group_by(questions.c.mode)
        ).all()  # fmt: skip
        voted = db.execute(
            select(questions.c.mode, count_where(feedback.c.helpful), count_where(~feedback.c.helpful))
            .select_from(feedback.join(questions, questions.c.answer_id == feedback.c.answer_id))
            .where(where).group_by(questions.c.mode)
        )  # fmt: skip
        votes = {mode: (int(up), int(down)) for mode, up, down in voted}
        out = []
        for mode, n, refused, avg_ms in sorted(asked, key=lambda r: (-r[1], r[0])):
            up, down = votes.get(mode, (0, 0))
            share = round(up / (up + down), 3) if up + down else None
            out.append({"loai": mode, "cau_hoi": n, "tu_choi": int(refused), "ms_tb": round(avg_ms or 0, 1),
                        "thich": up, "khong_thich": down, "ti_le_thich": share})  # fmt: skip
        return out

    def subjects(self, db: Connection, period: Period, top: int = 15) -> list[Row]:
        n = func.count().label("n")
        rows = db.execute(
            select(questions.c.mode, questions.c.subject, n)
            .where(and_(self._where(period), questions.c.subject != ""))
            .group_by(questions.c.mode, questions.c.subject).order_by(n.desc(), questions.c.subject).limit(top)
        )  # fmt: skip
        return [{"loai": mode, "doi_tuong": subject, "cau_hoi": count} for mode, subject, count in rows]

    def declined(self, db: Connection, period: Period, top: int = 15, examples: int = 3) -> list[Row]:
        """Declines by what the documents lack, with the newest examples; every unreadable or
        instruction-changing input in one row."""
        asked = (
            select(_topic().label("topic"), questions.c.question, questions.c.at)
            .where(and_(self._where(period), questions.c.refused.is_(True))).subquery()
        )  # fmt: skip
        n = func.count().label("n")
        groups = db.execute(
            select(asked.c.topic, n).group_by(asked.c.topic).order_by(n.desc(), asked.c.topic).limit(top)
        ).all()  # fmt: skip
        newest = func.row_number().over(partition_by=asked.c.topic, order_by=asked.c.at.desc())
        ranked = (
            select(asked.c.topic, asked.c.question, newest.label("k"))
            .where(asked.c.topic.in_([t for t, _ in groups])).subquery()
        )  # fmt: skip
        said: dict[str, list[str]] = {}
        shown = select(ranked.c.topic, ranked.c.question).where(ranked.c.k <= examples).order_by(ranked.c.k)
        for topic, question in db.execute(shown):
            said.setdefault(topic, []).append(question)
        return [
            {"chu_de": topic or "không rõ", "cau_hoi": count, "vi_du": _examples(said.get(topic, []))}
            for topic, count in groups
        ]

    def unhelpful(self, db: Connection, period: Period, limit: int = 50) -> list[Row]:
        rows = db.execute(
            select(feedback.c.at, questions.c.mode, questions.c.question, questions.c.answer)
            .select_from(feedback.join(questions, questions.c.answer_id == feedback.c.answer_id))
            .where(and_(self._where(period), feedback.c.helpful.is_(False)))
            .order_by(feedback.c.at.desc()).limit(limit)
        )  # fmt: skip
        return [
            {"luc": _moment(at), "loai": mode, "cau_hoi": one_line(question, EXAMPLE_CHARS),
             "tra_loi": answer}
            for at, mode, question, answer in rows
        ]  # fmt: skip

    def latency(self, db: Connection, period: Period) -> list[Row]:
        where = self._where(period)
        total, refused = db.execute(select(func.count(), _refused()).where(where)).one()
        row = {"cau_hoi": total, "tu_choi": int(refused),
               "ti_le_tu_choi": round(int(refused) / total, 3) if total else 0.0}  # fmt: skip
        for q in (50, 95):
            offset = int(q / 100 * (total - 1)) if total else 0
            value = db.execute(
                select(questions.c.latency_ms).where(where).order_by(questions.c.latency_ms).offset(offset).limit(1)
            ).scalar()  # fmt: skip
            row[f"p{q}_ms"] = round(value, 1) if value is not None else None
        return [row]

    def _day(self, db: Connection):
        shifted = (questions.c.at + UTC_OFFSET_S) / DAY_S
        return func.floor(shifted) if db.dialect.name == "postgresql" else cast(shifted, Integer)


def _refused():
    return count_where(questions.c.refused)


def _topic():
    """SQL: a declined question's topic, the hostile ones under one name."""
    hostile = questions.c.topic.in_([template(key) for key in HOSTILE_TOPICS])
    return case((hostile, template("topic.hostile")), else_=questions.c.topic)


def _examples(asked: list[str]) -> str:
    """The examples, each as one line, as many as fit in one field."""
    shown = ""
    for question in asked:
        line = one_line(question, EXAMPLE_CHARS)
        joined = f"{shown} | {line}" if shown else line
        if len(joined) > TEXT_CHARS:
            break
        shown = joined
    return shown


def _bounded(rows: list[Row]) -> list[Row]:
    """Every text of a panel as one line of at most TEXT_CHARS: nothing a resident typed can
    stretch the page or a spreadsheet."""
    return [
        {key: one_line(v, TEXT_CHARS) if isinstance(v, str) else v for key, v in row.items()}
        for row in rows
    ]


def _date(day: float) -> str:
    return (datetime(1970, 1, 1) + timedelta(days=int(day))).date().isoformat()


def _moment(at: float) -> str:
    return (datetime.fromtimestamp(at, UTC) + VIETNAM).strftime("%Y-%m-%d %H:%M")
