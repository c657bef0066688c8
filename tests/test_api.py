"""The HTTP service over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import running

from bot.api import create_app
from bot.config import Settings


@pytest.fixture(scope="module")
def base_url(index_root: Path) -> Iterator[str]:
    with running(create_app(Settings(SAPXEP_DATA_DIR=index_root.parent))) as url:
        yield url


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
