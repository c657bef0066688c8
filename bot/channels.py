"""Telegram and Zalo webhooks mounted on the HTTP service, over the one responder."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from telegram.ext import Application

from bot.answer import Answer
from bot.config import Settings
from bot.inbox import Inbox, StateUnavailable
from bot.responder import Responder
from bot.security import route_path
from bot.state import SharedState, StateStore
from bot.telegram_bot import build_application, handle_webhook_update, parse_update
from bot.zalo import ZaloBot, ZaloClient, ZaloSettings, zalo_router
from index.retriever import Filters
from prompts import template

log = logging.getLogger("sapxep.channels")

QUESTIONS = Counter("sapxep_questions_total", "Câu hỏi đã trả lời", ["channel", "mode", "refused"])
LATENCY = Histogram(
    "sapxep_answer_seconds", "Thời gian trả lời", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
)
# Answers are CPU-bound and hold the GIL much of the time: two threads keep a worker's cores
# busy while its event loop stays free to acknowledge webhooks. Scale with workers, not threads.
ANSWER_THREADS = 2
# ...and below the event loop's OS priority (Linux nice is per thread): when the CPU is full,
# acknowledging a webhook goes first, answers still take every idle cycle.
ANSWER_NICENESS = 10
WEBHOOK_PREFIX = "/webhooks/"
ACK = Histogram(
    "sapxep_webhook_ack_seconds",
    "Thời gian từ khi nhận một webhook đến khi trả lời nền tảng (đã ghi nhận tin nhắn)",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOOP_LAG = Histogram(
    "sapxep_event_loop_lag_seconds",
    "Độ trễ vòng sự kiện của tiến trình (đo mỗi 0,25 giây): lớn là tiến trình không kịp báo nhận",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STATE_ERRORS = Counter(
    "sapxep_state_errors_total", "Lỗi khi đọc/ghi trạng thái dùng chung (Redis/SQLite)", ["operation"]
)


@dataclass
class State:
    """Where the service keeps what it must not lose: `store` (SQLite: analytics, feedback) and
    `shared` (what every worker and instance agrees on: the store itself, or Redis)."""

    store: StateStore
    shared: SharedState

    def close(self) -> None:
        if self.shared is not self.store:
            self.shared.close()
        self.store.close()


def open_state(settings: Settings) -> State:
    """The SQLite store, and Redis when SAPXEP_REDIS_URL is set. The salt of user hashes is made
    once per data directory; with Redis the first instance's salt is everybody's."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    salt = _salt(settings.data_dir / "salt")
    if not settings.redis_url:
        store = StateStore(settings.data_dir / "state.sqlite3", salt=salt)
        return State(store, store)
    from bot.redis_state import RedisState, connect

    shared = RedisState(connect(settings.redis_url), salt=salt)
    return State(StateStore(settings.data_dir / "state.sqlite3", salt=shared.salt), shared)


def _salt(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(16), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


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

    def ask(self, question: str, conversation: str | None = None, filters: Filters | None = None) -> Answer:
        channel = conversation.split(":", 1)[0] if conversation and ":" in conversation else "web"
        user = self.state.shared.hash_user(channel, conversation or "ẩn danh")
        if conversation and not self._allowed(user):
            return Answer(question=question, answer=template("refusal.rate_limited"), refused=True)
        answer = self.responder.ask(question, conversation, filters)
        answer.answer_id = uuid.uuid4().hex[:16]
        try:
            self.state.store.log_question(
                channel,
                user,
                answer.question,
                answer.mode,
                answer.refused,
                answer.latency_ms,
                answer_id=answer.answer_id,
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


_TELEGRAM_SCHEMA = {
    "parameters": [
        {"name": "X-Telegram-Bot-Api-Secret-Token", "in": "header", "required": True,
         "schema": {"type": "string"}, "description": "the secret_token given to setWebhook"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["update_id"],
        "properties": {
            "update_id": {"type": "integer", "minimum": 0, "maximum": 2**53},
            "message": {
                "type": "object",
                "required": ["message_id", "date", "chat"],
                "properties": {
                    "message_id": {"type": "integer", "minimum": 1, "maximum": 2**53},
                    "date": {"type": "integer", "minimum": 0, "maximum": 4_102_444_800},
                    "chat": {
                        "type": "object",
                        "required": ["id", "type"],
                        "properties": {
                            "id": {"type": "integer", "minimum": -(2**52), "maximum": 2**52},
                            "type": {"enum": ["private"]},
                        },
                        "additionalProperties": False,
                    },
                    "text": {"type": "string"},
                },
            },
        },
    }}}},
}  # fmt: skip
_TELEGRAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "không phải update hợp lệ"},
    403: {"description": "sai secret token"},
    503: {"description": "chưa ghi nhận được, Telegram sẽ gửi lại"},
}


def telegram_router(settings: Settings, bot: Application, inbox: Inbox) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/webhooks/telegram",
        openapi_extra=_TELEGRAM_SCHEMA,
        responses=_TELEGRAM_RESPONSES,
    )
    async def webhook(request: Request) -> dict[str, bool]:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = settings.telegram_webhook_secret
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status_code=403, detail="secret token không đúng")
        try:
            payload: dict[str, Any] = await request.json()
            update_id = str(int(payload["update_id"]))
            parse_update(bot, payload)
        except Exception as exc:  # PTB raises whatever a malformed field provokes
            raise HTTPException(status_code=400, detail="update không hợp lệ") from exc
        await receive(inbox, "telegram", update_id, payload)
        return {"ok": True}

    return router


async def receive(inbox: Inbox, channel: str, update_id: str, payload: dict[str, Any]) -> None:
    """Record a delivery before acknowledging it; 503 (the platform retries) if it can't be."""
    try:
        await inbox.receive(channel, update_id, payload)
    except StateUnavailable as exc:
        raise HTTPException(
            status_code=503, detail="tạm thời không ghi nhận được tin nhắn", headers={"Retry-After": "1"}
        ) from exc


class AckTimer:
    """ASGI middleware: how long each webhook waits for its status (`ACK`). Telegram and Zalo
    redeliver what is not acknowledged in time, so this is the latency that matters to them."""

    def __init__(self, app: ASGIApp, channels: tuple[str, ...]) -> None:
        self.app = app
        self.timers = {WEBHOOK_PREFIX + channel: ACK.labels(channel=channel) for channel in channels}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        timer = self.timers.get(route_path(scope)) if scope["type"] == "http" else None
        if timer is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                timer.observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)


def mount_channels(
    app: FastAPI,
    settings: Settings,
    responder: LoggedResponder,
    warm_up: Callable[[], None] | None = None,
) -> None:
    """Add the configured channels' webhooks, and start/stop them (and the sweeper that takes
    deliveries left by busy or crashed workers) with the app; `warm_up` runs before the first
    request."""
    state = responder.state
    # a few more handlers than answer threads, so the threads stay busy while replies are sent
    inbox = Inbox(state.shared, lease_s=settings.delivery_lease_s, capacity=2 * ANSWER_THREADS)
    telegram = _telegram(settings, responder, state)
    zalo = _zalo(settings, responder, state)
    if telegram is not None:
        inbox.register(
            "telegram",
            lambda payload: handle_webhook_update(telegram, payload),
            settings.telegram_bot_token,
        )
        app.include_router(telegram_router(settings, telegram, inbox))
    if zalo is not None:
        inbox.register("zalo", zalo[0].handle, settings.zalo_oa_secret_key)
        app.include_router(zalo_router(zalo[2], lambda *a: receive(inbox, *a)))
    app.state.inbox = inbox
    app.add_middleware(AckTimer, channels=tuple(inbox.channels))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(
                max_workers=ANSWER_THREADS, thread_name_prefix="sapxep-answer", initializer=_lowered
            )
        )
        if warm_up is not None:
            await asyncio.to_thread(warm_up)
        if telegram is not None:
            await telegram.initialize()
        background = [asyncio.create_task(inbox.run_sweeper()), asyncio.create_task(watch_loop())]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await inbox.drain(timeout_s=10)
            if telegram is not None:
                await telegram.shutdown()
            if zalo is not None:
                await zalo[1].aclose()
            state.close()

    app.router.lifespan_context = lifespan


async def watch_loop(observe: Callable[[float], None] = LOOP_LAG.observe, every_s: float = 0.25) -> None:
    """Report how late (s) the running event loop wakes up, every `every_s`, until cancelled."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(every_s)
        observe(max(0.0, time.perf_counter() - started - every_s))


def _lowered() -> None:
    thread = threading.get_native_id()
    with contextlib.suppress(AttributeError, OSError):  # where threads have no priority of their own
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + ANSWER_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))


def _telegram(settings: Settings, responder: LoggedResponder, state: State) -> Application | None:
    if not settings.telegram_bot_token:
        return None

    def feedback(answer_id: str, user_id: int, helpful: bool) -> None:
        state.store.feedback(answer_id, state.shared.hash_user("telegram", str(user_id)), helpful)

    return build_application(
        settings.telegram_bot_token,
        responder,
        base_url=settings.telegram_api_base_url,
        documents=lambda: _documents(responder),
        on_feedback=feedback,
    )


def _zalo(
    settings: Settings, responder: LoggedResponder, state: State
) -> tuple[ZaloBot, ZaloClient, ZaloSettings] | None:
    if not settings.zalo_app_id:
        return None
    zalo = ZaloSettings(
        app_id=settings.zalo_app_id,
        oa_secret_key=settings.zalo_oa_secret_key,
        app_secret=settings.zalo_app_secret,
        access_token=settings.zalo_access_token,
        refresh_token=settings.zalo_refresh_token,
        api_base_url=settings.zalo_api_base_url,
        oauth_base_url=settings.zalo_oauth_base_url,
    )
    client = ZaloClient(zalo, state.shared)
    return ZaloBot(responder, client), client, zalo


def _documents(responder: LoggedResponder) -> list[str]:
    index = responder.responder.engine.live.get()
    return [
        f"{f.document.doc_type.capitalize()} {f.document.number or ''} — {f.document.title}".strip()
        for f in sorted(index.files.values(), key=lambda f: f.document.doc_id)
    ]
