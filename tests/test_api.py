"""The HTTP service over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import running

from bot.config import Settings
from bot.service.app import create_app


@pytest.fixture(scope="module")
def base_url(engine, settings: Settings) -> Iterator[str]:
    with running(create_app(settings)) as url:
        yield url


def test_healthz(base_url: str) -> None:
    body = httpx.get(f"{base_url}/healthz").json()
    assert (body["status"], body["index"], body["documents"]) == ("ok", True, 42)
    assert body["parts"]["index"] == "ok" and body["parts"]["telegram"] == "off"
    assert body["parts"]["state"] == body["parts"]["database"] == "ok"


def test_documents_carry_their_metadata(base_url: str) -> None:
    docs = {d["doc_id"]: d for d in httpx.get(f"{base_url}/api/documents").json()}
    assert len(docs) == 42
    thai_binh = docs["002_6d727a2a5508cfde.txt"]
    assert thai_binh["number"] == "02-KH/BTGDUK"
    assert thai_binh["date"] == "2024-12-16"
    assert thai_binh["signer"] == "Vũ Văn Phóng"
    assert docs["1656_NQ-UBTVQH15.md"]["province"] == "Thành phố Hà Nội"


def test_without_an_index_documents_say_what_to_do(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(create_app(Settings(SAPXEP_DATA_DIR=tmp_path)))
    response = client.get("/api/documents")
    assert response.status_code == 503
    assert "sapxep ingest" in response.json()["detail"]
    assert client.get("/healthz").json()["index"] is False


def test_ask_over_http(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/api/ask",
        json={"question": "phuong thanh xuan bac gio la phuong gi", "conversation": "web-1"},
        timeout=60,
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["mode"] == "unit_lookup" and not answer["refused"]
    assert "Thanh Liệt" in answer["answer"]
    assert answer["citations"][0]["number"] == "1656/NQ-UBTVQH15"


def test_ask_with_a_province_filter(base_url: str) -> None:
    answer = httpx.post(
        f"{base_url}/api/ask",
        json={"question": "xã Tri Phương giờ thuộc xã nào", "provinces": ["Cao Bằng"]},
        timeout=60,
    ).json()
    assert {c["doc"] for c in answer["citations"]} == {"1657_NQ-UBTVQH15.md"}


def test_an_oversized_question_gets_a_polite_reply_and_an_absurd_one_a_clean_422(
    base_url: str,
) -> None:
    response = httpx.post(f"{base_url}/api/ask", json={"question": "xã " * 2000}, timeout=60)
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] and "1.000" in body["answer"] and body["citations"] == []
    response = httpx.post(f"{base_url}/api/ask", json={"question": "x" * 30_000}, timeout=60)
    assert response.status_code == 422
    assert "20.000" in response.text
