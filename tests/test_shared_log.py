"""One SQL database for what officials read: two instances of the real service over one real
PostgreSQL log every question once and show the same `/api/stats` and `sapxep stats`; a
database down at start leaves the service answering, and it is used once it is back."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from service import SAPXEP, Service

ADMIN = "admin-token-shared-log"
QUESTIONS = [
    "phường Thượng Đình quận Thanh Xuân giờ là phường gì",
    "Tỉnh Hà Giang cũ giờ là tỉnh nào?",
    "xã Tri Phương giờ là xã nào",
]


def ask(service: Service, question: str) -> None:
    reply = httpx.post(f"{service.url}/api/ask", json={"question": question}, timeout=60)
    assert reply.status_code == 200


def stats(service: Service) -> dict:
    reply = httpx.get(
        f"{service.url}/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    )
    assert reply.status_code == 200
    return reply.json()


@pytest.fixture
def env(settings, postgres_server) -> dict[str, str]:
    """A service over a fresh PostgreSQL database of its own."""
    return {"SAPXEP_EMBEDDING_MODEL": settings.embedding_model,
            "SAPXEP_DATABASE_URL": postgres_server.new_database(), "SAPXEP_ADMIN_TOKEN": ADMIN}  # fmt: skip


def test_two_instances_share_one_question_log(index_root: Path, tmp_path: Path, env) -> None:
    a, b = Service(index_root, tmp_path / "a", env), Service(index_root, tmp_path / "b", env)
    a.start()
    b.start()
    try:
        for question in QUESTIONS:
            ask(a, question)
        ask(b, QUESTIONS[0])
        ask(b, "Giá vàng hôm nay bao nhiêu?")
        seen_a, seen_b = stats(a), stats(b)
        assert seen_a == seen_b
        assert seen_a["total"] == 5 and seen_a["top_questions"][0]["count"] == 2
        cli = subprocess.run(
            [SAPXEP, "stats"], env={**os.environ, "SAPXEP_DATA_DIR": str(tmp_path / "c"), **env, "COLUMNS": "200"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.startswith("5 câu hỏi trong 30 ngày")
    finally:
        a.stop()
        b.stop()


def test_the_service_starts_without_its_database(
    index_root: Path, tmp_path: Path, postgres_server, env
) -> None:
    service = Service(index_root, tmp_path, env)
    postgres_server.stop()
    try:
        service.start()
        assert (
            httpx.get(f"{service.url}/healthz", timeout=5).json()["parts"]["database"] == "degraded"
        )
        ask(service, QUESTIONS[1])  # answered; its log line waits for the database
    finally:
        postgres_server.start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{service.url}/healthz", timeout=5).json()["parts"]["database"] != "ok":
            assert time.monotonic() < deadline, "the database never came back"
            time.sleep(0.5)
        ask(service, QUESTIONS[2])
        assert stats(service)["total"] == 2  # both, once each
    finally:
        service.stop()
