"""Telegram and Zalo webhooks mounted on the HTTP service, over the one responder."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from telegram.ext import Application

from prometheus_client import Counter, Histogram

from bot.answer import Answer
from bot.config import Settings
from index.retriever import Filters
from prompts import template
from bot.responder import Responder
from bot.state import StateStore
from bot.telegram_bot import build_application, handle_webhook_update
from bot.zalo import ZaloBot, ZaloClient, ZaloSettings, zalo_router

log = logging.getLogger("sapxep.channels")

QUESTIONS = Counter("sapxep_questions_total", "Câu hỏi đã trả lời", ["channel", "mode", "refused"])
LATENCY = Histogram(
    "sapxep_answer_seconds", "Thời gian trả lời", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
)


def open_state(settings: Settings) -> StateStore:
    """The SQLite store, with a salt for user ids made once per data directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return StateStore(settings.data_dir / "state.sqlite3", salt=_salt(settings.data_dir / "salt"))


def _salt(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(16), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


class StoredConversations:
    """Conversation memory in the SQLite store, shared by every worker."""

    def __init__(self, store: StateStore):
        self.store = store

    def last(self, conversation: str) -> str | None:
        turn = self.store.last_turn(conversation)
        return turn[0] if turn else None

    def remember(self, conversation: str, question: str, mode: str) -> None:
        self.store.remember_turn(conversation, question, mode)


class LoggedResponder:
    """The responder as the channels use it: a per-conversation rate limit, and every question
    logged (user hashed) for officials' statistics."""

    def __init__(self, responder: Responder, store: StateStore, limit: int = 20, window_s: float = 60):
        self.responder = responder
        self.store = store
        self.limit = limit
        self.window_s = window_s

    def ask(self, question: str, conversation: str | None = None, filters: Filters | None = None) -> Answer:
        channel = conversation.split(":", 1)[0] if conversation and ":" in conversation else "web"
        user = self.store.hash_user(channel, conversation or "ẩn danh")
        if conversation and not self.store.allow(user, self.limit, self.window_s):
            return Answer(question=question, answer=template("refusal.rate_limited"), refused=True)
        answer = self.responder.ask(question, conversation, filters)
        self.store.log_question(
            channel,
            user,
            question,
            answer.mode,
            answer.refused,
            answer.latency_ms,
            answer_id=f"{abs(hash((question, answer.latency_ms))):x}",
        )
        QUESTIONS.labels(channel=channel, mode=answer.mode, refused=str(answer.refused).lower()).inc()
        LATENCY.observe(answer.latency_ms / 1000)
        return answer


def telegram_router(bot: Application, settings: Settings, store: StateStore) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/telegram", include_in_schema=False)
    async def webhook(request: Request) -> dict[str, bool]:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = settings.telegram_webhook_secret
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status_code=403, detail="secret token không đúng")
        try:
            payload: dict[str, Any] = await request.json()
            update_id = str(payload["update_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPException(status_code=400, detail="update không hợp lệ") from exc
        # recorded before it is acknowledged: a retry of the same update is answered once
        if store.first_delivery("telegram", update_id):
            await handle_webhook_update(bot, payload)
        return {"ok": True}

    return router


def mount_channels(app: FastAPI, settings: Settings, responder: LoggedResponder) -> None:
    """Add the configured channels' webhooks, and start/stop them with the app."""
    store = responder.store
    telegram = _telegram(settings, responder, store)
    zalo = _zalo(settings, responder, store)
    if telegram is not None:
        app.include_router(telegram_router(telegram, settings, store))
    if zalo is not None:
        app.include_router(zalo_router(zalo[0], zalo[2]))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if telegram is not None:
            await telegram.initialize()
        try:
            yield
        finally:
            if telegram is not None:
                await telegram.shutdown()
            if zalo is not None:
                await zalo[1].aclose()
            store.close()

    app.router.lifespan_context = lifespan


def _telegram(settings: Settings, responder: LoggedResponder, store: StateStore) -> Application | None:
    if not settings.telegram_bot_token:
        return None

    def feedback(answer_id: str, user_id: int, helpful: bool) -> None:
        store.feedback(answer_id, store.hash_user("telegram", str(user_id)), helpful)

    return build_application(
        settings.telegram_bot_token,
        responder,
        base_url=settings.telegram_api_base_url,
        documents=lambda: _documents(responder),
        on_feedback=feedback,
    )


def _zalo(
    settings: Settings, responder: LoggedResponder, store: StateStore
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
    client = ZaloClient(zalo, store)
    return ZaloBot(responder, client, store), client, zalo


def _documents(responder: LoggedResponder) -> list[str]:
    index = responder.responder.engine.live.get()
    return [
        f"{f.document.doc_type.capitalize()} {f.document.number or ''} — {f.document.title}".strip()
        for f in sorted(index.files.values(), key=lambda f: f.document.doc_id)
    ]
