"""No outside service takes the assistant down: the real `sapxep serve` starts and answers on
the web API while Telegram is down or Redis unreachable, `/healthz` says which part is
degraded, webhooks answer 503 (the platform retries) until their part is back, and the bot
comes up by itself once Telegram answers."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fake_telegram import CHAT, TOKEN, message_update
from redis_server import free_port
from service import Service
from telegram_sender import SECRET

QUESTION = "phường Thượng Đình quận Thanh Xuân giờ là phường gì"


def health(service: Service) -> dict:
    reply = httpx.get(f"{service.url}/healthz", timeout=5)
    assert reply.status_code == 200
    return reply.json()


def post_update(service: Service, update_id: int) -> httpx.Response:
    return httpx.post(
        f"{service.url}/webhooks/telegram",
        json=message_update(update_id, QUESTION),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        timeout=10,
    )


@pytest.fixture
def telegram_down(telegram_app):
    telegram_app.state.down = 3  # getMe fails three times: tries at 0, 1, 3 s, up at 7 s
    yield telegram_app
    telegram_app.state.down = 0


def with_telegram(settings, telegram_app, **more: str) -> dict[str, str]:
    return {"SAPXEP_EMBEDDING_MODEL": settings.embedding_model, "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE_URL": f"{telegram_app.state.url}/bot",
            **more}  # fmt: skip


def test_telegram_down_at_start(index_root: Path, settings, tmp_path: Path, telegram_down) -> None:
    service = Service(index_root, tmp_path, with_telegram(settings, telegram_down))
    service.start()
    try:
        first = health(service)
        assert first["parts"]["telegram"] == "degraded" and first["status"] == "degraded"
        answer = httpx.post(f"{service.url}/api/ask", json={"question": QUESTION}, timeout=30)
        assert answer.status_code == 200 and "Thượng Đình" in answer.json()["answer"]
        assert post_update(service, 910_001).status_code == 503
        deadline = time.monotonic() + 30
        while health(service)["parts"]["telegram"] != "ok":
            assert time.monotonic() < deadline, "the bot never reached Telegram"
            time.sleep(0.5)
        assert health(service)["status"] == "ok"
        assert post_update(service, 910_002).status_code == 200
        deadline = time.monotonic() + 30
        while not any(c["method"] == "sendMessage" and c["params"].get("chat_id") in (CHAT["id"], str(CHAT["id"]))
                      for c in telegram_down.state.calls):  # fmt: skip
            assert time.monotonic() < deadline, "the update was never answered"
            time.sleep(0.2)
        metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
        assert 'sapxep_retries_total{part="telegram"} 3.0' in metrics
    finally:
        service.stop()


def test_redis_unreachable_at_start(
    index_root: Path, settings, tmp_path: Path, telegram_app
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    service = Service(index_root, tmp_path, with_telegram(settings, telegram_app, SAPXEP_REDIS_URL=unreachable))
    service.start()
    try:
        answer = httpx.post(f"{service.url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert answer.status_code == 200 and not answer.json()["refused"]
        deadline = time.monotonic() + 30
        while health(service)["parts"].get("state") != "degraded":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert post_update(service, 910_003).status_code == 503
    finally:
        service.stop()
