"""The HTTP service over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.api import create_app
from bot.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(index_root: Path) -> Iterator[str]:
    settings = Settings(SAPXEP_DATA_DIR=index_root.parent)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_healthz(base_url: str) -> None:
    body = httpx.get(f"{base_url}/healthz").json()
    assert body == {"status": "ok", "index": True, "documents": 41}


def test_documents_carry_their_metadata(base_url: str) -> None:
    docs = {d["doc_id"]: d for d in httpx.get(f"{base_url}/api/documents").json()}
    assert len(docs) == 41
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
