"""The responder as every channel uses it: conversation memory in the shared state, a
per-conversation rate limit, and every question logged (user hashed) for officials."""

from __future__ import annotations

import logging
import uuid

from prometheus_client import Counter, Histogram

from bot.answer.models import Answer
from bot.answer.responder import Responder
from bot.state import State
from bot.state.contract import SharedState
from index.retriever import Filters
from prompts import template

log = logging.getLogger("sapxep.channels")

QUESTIONS = Counter("sapxep_questions_total", "Câu hỏi đã trả lời", ["channel", "mode", "refused"])
LATENCY = Histogram(
    "sapxep_answer_seconds", "Thời gian trả lời", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
)
STATE_ERRORS = Counter(
    "sapxep_state_errors_total", "Lỗi khi đọc/ghi trạng thái dùng chung (Redis/SQLite)", ["operation"]
)


class StoredConversations:
    """Conversation memory in the shared state. Memory is a convenience: when the state cannot
    be reached the question is answered on its own."""

    def __init__(self, state: SharedState):
        self.state = state

    def last(self, conversation: str) -> str | None:
        try:
            turn = self.state.last_turn(conversation)
        except Exception as exc:  # noqa: BLE001 (any backend's failure)
            _state_error("last_turn", exc)
            return None
        return turn[0] if turn else None

    def remember(self, conversation: str, question: str, mode: str) -> None:
        try:
            self.state.remember_turn(conversation, question, mode)
        except Exception as exc:  # noqa: BLE001 (any backend's failure)
            _state_error("remember_turn", exc)


def _state_error(operation: str, exc: Exception) -> None:
    STATE_ERRORS.labels(operation=operation).inc()
    log.warning("state %s failed: %s", operation, type(exc).__name__)


class LoggedResponder:
    """The responder as the channels use it: a per-conversation rate limit, and every question
    logged (user hashed) for officials' statistics."""

    def __init__(self, responder: Responder, state: State, limit: int = 20, window_s: float = 60):
        self.responder = responder
        self.state = state
        self.limit = limit
        self.window_s = window_s

    def ask(
        self,
        question: str,
        conversation: str | None = None,
        message: str | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        channel = conversation.split(":", 1)[0] if conversation and ":" in conversation else "web"
        user = self.state.shared.hash_user(channel, conversation or "ẩn danh")
        if conversation and not self._allowed(user):
            text, topic = template("refusal.rate_limited"), template("topic.rate_limited")
            return Answer(question=question, answer=text, refused=True, topic=topic)
        answer = self.responder.ask(question, conversation, filters)
        # a message answered again (its worker died) keeps its id: logged once, salted-hashed
        answer.answer_id = self.state.shared.hash_user(channel, message)[:16] if message else uuid.uuid4().hex[:16]
        try:
            self.state.log.log_question(
                channel,
                user,
                answer.question,
                answer.mode,
                answer.refused,
                answer.latency_ms,
                answer_id=answer.answer_id,
                answer=answer.answer,
                subject=answer.subject,
                topic=answer.topic,
            )
        except Exception as exc:  # noqa: BLE001 — the answer matters more than its statistics
            _state_error("log_question", exc)
        QUESTIONS.labels(channel=channel, mode=answer.mode, refused=str(answer.refused).lower()).inc()
        LATENCY.observe(answer.latency_ms / 1000)
        return answer

    def _allowed(self, user: str) -> bool:
        """The rate limit fails open: an outage of the state must not silence the assistant."""
        try:
            return self.state.shared.allow(user, self.limit, self.window_s)
        except Exception as exc:  # noqa: BLE001 (any backend's failure)
            _state_error("allow", exc)
            return True
