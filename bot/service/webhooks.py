"""The configured channels' webhooks mounted on the HTTP service, over the one responder: the
answer threads, the delivery sweeper and the acknowledgement timer start and stop with the app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from telegram.ext import Application

from bot.channels.facebook import FacebookBot, FacebookClient, FacebookSettings, facebook_router
from bot.channels.inbox import Inbox, StateUnavailable
from bot.channels.logged import LoggedResponder
from bot.channels.telegram import build_application, handle_webhook_update, telegram_router
from bot.channels.zalo import ZaloBot, ZaloClient, ZaloSettings, zalo_router
from bot.config import Settings
from bot.service.health import Health, bring_up, probe, watch
from bot.service.security import route_path
from bot.state import State

# Answers are CPU-bound and hold the GIL much of the time: two threads keep a worker's cores
# busy while its event loop stays free to acknowledge webhooks. Scale with workers, not threads.
ANSWER_THREADS = 2
# ...and below the event loop's OS priority (Linux nice is per thread): when the CPU is full,
# acknowledging a webhook goes first, answers still take every idle cycle.
ANSWER_NICENESS = 10
# Deliveries a worker handles at once: its answer threads busy, one more waiting for each.
HANDLERS_PER_WORKER = 2 * ANSWER_THREADS
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
    inbox = Inbox(state.shared, lease_s=settings.delivery_lease_s, capacity=HANDLERS_PER_WORKER)
    telegram = _telegram(settings, responder, state)
    zalo = _zalo(settings, responder, state)
    health: Health = app.state.health
    facebook = _facebook(settings, health)
    if telegram is not None:

        async def answer_telegram(payload: dict[str, Any]) -> None:
            await health.event("telegram").wait()  # a delivery waits (its lease renewed) for the bot
            await handle_webhook_update(telegram, payload)

        inbox.register("telegram", answer_telegram, settings.telegram_bot_token)
        app.include_router(
            telegram_router(
                settings.telegram_webhook_secret,
                telegram,
                lambda *a: receive(inbox, *a),
                ready=lambda: health.ready("telegram"),
            )
        )
    if zalo is not None:
        inbox.register("zalo", zalo[0].handle, settings.zalo_oa_secret_key)
        app.include_router(zalo_router(zalo[2], lambda *a: receive(inbox, *a)))
    if facebook is not None:
        bot = FacebookBot(responder, facebook[0], on_feedback=_feedback(state, "facebook"))
        inbox.register("facebook", bot.handle, settings.facebook_app_secret)
        app.include_router(facebook_router(facebook[1], lambda *a: receive(inbox, *a)))
    health.set("telegram", "degraded" if telegram is not None else "off")
    health.set("zalo", "ok" if zalo is not None else "off")
    health.set("facebook", "ok" if facebook is not None else "off")
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
        checks = {"state": state.shared.ping, "database": state.log.ping}
        await asyncio.gather(*(probe(part, check, health) for part, check in checks.items()))
        background = [
            asyncio.create_task(inbox.run_sweeper()),
            asyncio.create_task(watch_loop()),
            *(asyncio.create_task(watch(part, check, health)) for part, check in checks.items()),
        ]
        if telegram is not None:  # Telegram unreachable must not keep the web and API down
            background.append(asyncio.create_task(bring_up("telegram", telegram.initialize, health)))
        if facebook is not None:
            background.append(asyncio.create_task(facebook[0].probe()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await inbox.drain(timeout_s=10)
            if telegram is not None and health.ready("telegram"):
                await telegram.shutdown()
            if zalo is not None:
                await zalo[1].aclose()
            if facebook is not None:
                await facebook[0].aclose()
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


def _feedback(state: State, channel: str) -> Callable[[str, int | str, bool], None]:
    """Record a 👍/👎 of `channel`'s user, whose id is stored salted and hashed."""

    def feedback(answer_id: str, user_id: int | str, helpful: bool) -> None:
        state.log.feedback(answer_id, state.shared.hash_user(channel, str(user_id)), helpful)

    return feedback


def _telegram(settings: Settings, responder: LoggedResponder, state: State) -> Application | None:
    if not settings.telegram_bot_token:
        return None
    return build_application(
        settings.telegram_bot_token,
        responder,
        base_url=settings.telegram_api_base_url,
        documents=lambda: _documents(responder),
        on_feedback=_feedback(state, "telegram"),
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


def _facebook(settings: Settings, health: Health) -> tuple[FacebookClient, FacebookSettings] | None:
    if not settings.facebook_page_access_token:
        return None
    facebook = FacebookSettings(
        page_access_token=settings.facebook_page_access_token,
        app_secret=settings.facebook_app_secret,
        verify_token=settings.facebook_verify_token,
        api_base_url=settings.facebook_api_base_url,
    )
    return FacebookClient(facebook, report=lambda status: health.set("facebook", status)), facebook


def _documents(responder: LoggedResponder) -> list[str]:
    index = responder.responder.engine.live.get()
    return [
        f"{f.document.doc_type.capitalize()} {f.document.number or ''} — {f.document.title}".strip()
        for f in sorted(index.files.values(), key=lambda f: f.document.doc_id)
    ]
