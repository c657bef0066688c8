"""How long each panel of the officials' dashboard takes on a large question log: a log of
`rows` questions over 90 days is generated in the given database (SQLite or PostgreSQL), then
every panel is read for the last 30 days, best of three."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from bot.state.insights import PANELS, Insights, Period
from bot.state.questionlog import DAY_S, QuestionLog, feedback, questions

MODES = ("unit_lookup", "province_lookup", "address", "unit_reverse", "unit_count", "general",
         "duty_lookup", "document_facts", "talking_points")  # fmt: skip
CHANNELS = ("web", "tg", "zalo")
SUBJECTS = [f"phường {n} (Thành phố Hồ Chí Minh)" for n in range(1, 300)]
ROWS = 100_000
TOPICS = [f"tài liệu chưa nói: chủ đề {n}" for n in range(60)]


@dataclass
class PanelTime:
    panel: str
    ms: float
    rows: int


def fill(log: QuestionLog, rows: int, seed: int = 7, batch: int = 5_000) -> None:
    rng = random.Random(seed)
    now = time.time()
    with log.engine.begin() as db:
        db.execute(questions.delete())
        db.execute(feedback.delete())
    for start in range(0, rows, batch):
        chunk, votes = [], []
        for i in range(start, min(rows, start + batch)):
            refused = rng.random() < 0.15
            mode = "general" if refused else rng.choice(MODES)
            chunk.append({
                "at": now - rng.random() * 90 * DAY_S, "channel": rng.choice(CHANNELS),
                "user_hash": f"{rng.getrandbits(128):032x}", "question": f"câu hỏi {i % 5000}",
                "folded": f"cau hoi {i % 5000}", "mode": mode, "refused": refused,
                "latency_ms": rng.expovariate(1 / 8), "answer_id": f"a{i}", "answer": "…",
                "subject": "" if refused else rng.choice(SUBJECTS), "topic": rng.choice(TOPICS) if refused else "",
            })  # fmt: skip
            if rng.random() < 0.05:
                votes.append({"answer_id": f"a{i}", "user_hash": "u", "helpful": rng.random() < 0.7,
                              "at": chunk[-1]["at"]})  # fmt: skip
        with log.engine.begin() as db:
            db.execute(questions.insert(), chunk)
            if votes:
                db.execute(feedback.insert(), votes)


def run(url: str, rows: int = ROWS) -> list[PanelTime]:
    log = QuestionLog(url)
    try:
        fill(log, rows)
        insights, period = Insights(log), Period(days=30)
        out = []
        for panel in PANELS:
            best, size = float("inf"), 0
            for _ in range(3):
                started = time.perf_counter()
                size = len(insights.panel(panel, period))
                best = min(best, (time.perf_counter() - started) * 1000)
            out.append(PanelTime(panel, best, size))
        return out
    finally:
        log.close()
