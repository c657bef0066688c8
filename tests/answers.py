"""Hand-built Answers and a fake Asker (the seam every channel adapts), for the channel tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.answer.models import Answer, Citation

CITATION = Citation(
    n=1,
    doc="1656_NQ-UBTVQH15.md",
    title="Nghị quyết về việc sắp xếp các ĐVHC cấp xã của thành phố Hà Nội",
    number="1656/NQ-UBTVQH15",
    date="2025-06-16",
    issuer="Ủy ban Thường vụ Quốc hội",
    section="Điều 1, khoản 22",
    text="Sắp xếp toàn bộ diện tích tự nhiên, quy mô dân số của các phường …",
    score=0.9,
)
ANSWER = Answer(
    question="phường Thanh Xuân Bắc giờ là phường gì?",
    answer="Phường Thanh Xuân Bắc được sắp xếp vào phường Thanh Xuân [1].",
    mode="unit_lookup",
    citations=[CITATION],
)
SENTENCE = "Phường Thanh Xuân Bắc, phường Thanh Xuân Trung hợp thành phường Thanh Xuân [1]. "
LONG_ANSWER = ANSWER.model_copy(update={"answer": SENTENCE * 62})  # about 5,000 characters


class FixedAsker:
    """Returns one hand-built Answer after `delay` seconds and records (question, conversation)."""

    def __init__(self, answer: Answer = ANSWER, fail: bool = False, delay: float = 0.0) -> None:
        self.answer, self.fail, self.delay = answer, fail, delay
        self.asked: list[tuple[str, str | None]] = []
        self.messages: list[str | None] = []

    def ask(self, question: str, conversation: str | None = None, message: str | None = None) -> Answer:
        self.asked.append((question, conversation))
        self.messages.append(message)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("responder down")
        return self.answer


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the background work"
        time.sleep(0.02)
