"""The LLM composer against a fake OpenAI-compatible server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fake_openai import create_app
from servers import running

from bot.answer.llm import NO_ANSWER, SYSTEM_PROMPT, LLMComposer, LLMSettings, rejection, validate
from bot.answer.models import Citation

KEY = "sk-test-7f3a9c"

CITATIONS = [
    Citation(
        n=1,
        doc="001_d71f2da037f574f8.txt",
        title="Kế hoạch thông tin, tuyên truyền về thực hiện sắp xếp đơn vị hành chính "
        "giai đoạn 2023-2025 trên địa bàn quận Thanh Xuân",
        number="/KH-UBND",
        date="2024-03",
        issuer="UBND quận Thanh Xuân",
        section="III. Tổ chức thực hiện, 3. Phòng Nội vụ quận",
        text="Phòng Nội vụ quận: Chủ trì, cung cấp tài liệu, các văn bản chỉ đạo, Phương án, "
        "Đề án sắp xếp… về phòng Văn hóa và Thông tin quận để tổ chức thông tin, tuyên truyền. "
        "Phối hợp các đơn vị liên quan, UBND các phường để triển khai tuyên truyền.",
        score=0.81,
    ),
    Citation(
        n=2,
        doc="1656_NQ-UBTVQH15.md",
        title="Nghị quyết về việc sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội "
        "năm 2025",
        number="1656/NQ-UBTVQH15",
        date="2025-06-16",
        issuer="Ủy ban Thường vụ Quốc hội",
        section="Điều 1, khoản 22",
        text="Sắp xếp một phần diện tích tự nhiên, quy mô dân số của các phường Nhân Chính, "
        "Thanh Xuân Bắc, Thanh Xuân Trung, Thượng Đình, Trung Hoà và Trung Văn thành phường "
        "mới có tên gọi là phường Thanh Xuân.",
        score=0.64,
    ),
]
QUESTION = "Phòng Nội vụ quận Thanh Xuân có nhiệm vụ gì trong tuyên truyền sắp xếp?"
GOOD = (
    "Phòng Nội vụ quận: Chủ trì, cung cấp tài liệu, các văn bản chỉ đạo, Phương án, "
    "Đề án sắp xếp… về phòng Văn hóa và Thông tin quận để tổ chức thông tin, tuyên truyền [1]."
)


@dataclass
class FakeServer:
    base_url: str
    requests: list[dict[str, Any]]

    def composer(self, model: str, **settings: Any) -> LLMComposer:
        return LLMComposer(LLMSettings(base_url=self.base_url, model=model, **settings))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    app = create_app()
    with running(app) as url:
        yield FakeServer(f"{url}/v1", app.state.requests)


def test_good_answer_non_streaming(fake: FakeServer) -> None:
    text = fake.composer("good", api_key=KEY).compose(QUESTION, "duty_lookup", CITATIONS)
    assert text == GOOD
    request = fake.requests[-1]
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert not body.get("stream")
    assert body["temperature"] == 0
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert QUESTION in user["content"]
    assert (
        "[2] Nghị quyết về việc sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội năm "
        "2025 (1656/NQ-UBTVQH15, 2025-06-16), Điều 1, khoản 22:\nSắp xếp một phần diện tích"
    ) in user["content"]
    assert CITATIONS[0].text in user["content"]


def test_good_answer_streaming_with_placeholder_key(fake: FakeServer) -> None:
    text = fake.composer("good", stream=True).compose(QUESTION, "duty_lookup", CITATIONS)
    assert text == GOOD
    request = fake.requests[-1]
    assert request["body"]["stream"] is True
    assert request["headers"]["authorization"] == "Bearer none"


def assert_warned(caplog: pytest.LogCaptureFixture, reason: str) -> None:
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "sapxep.llm" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, "a failure must be logged once"
    assert reason in warnings[0]
    assert KEY not in caplog.text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("bad-citation", "outside [1]..[2]"),
        ("uncited", "a sentence has no [n]"),
        ("error500", "Error code: 500"),
        ("empty", "empty"),
        ("leak", "repeats the system prompt"),
    ],
)
def test_misbehaviour_gives_none(
    fake: FakeServer, caplog: pytest.LogCaptureFixture, model: str, reason: str, stream: bool
) -> None:
    composer = fake.composer(model, api_key=KEY, stream=stream)
    with caplog.at_level(logging.WARNING, logger="sapxep.llm"):
        assert composer.compose(QUESTION, "duty_lookup", CITATIONS) is None
    assert_warned(caplog, reason)


@pytest.mark.parametrize(
    ("model", "stream"), [("slow", False), ("slow-stream", True), ("trickle", True)]
)
def test_timeout_covers_the_whole_call(
    fake: FakeServer, caplog: pytest.LogCaptureFixture, model: str, stream: bool
) -> None:
    composer = fake.composer(model, api_key=KEY, stream=stream, timeout_s=1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="sapxep.llm"):
        assert composer.compose(QUESTION, "duty_lookup", CITATIONS) is None
    assert time.monotonic() - started < 1.6
    assert_warned(caplog, "no complete answer within 1 s")


def test_connection_refused_gives_none(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    composer = LLMComposer(LLMSettings(f"http://127.0.0.1:{port}/v1", "good", api_key=KEY))
    with caplog.at_level(logging.WARNING, logger="sapxep.llm"):
        assert composer.compose(QUESTION, "general", CITATIONS) is None
    assert_warned(caplog, "Connection error")


def test_no_answer_sentence_gives_none(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    assert NO_ANSWER in SYSTEM_PROMPT
    with caplog.at_level(logging.INFO, logger="sapxep.llm"):
        assert fake.composer("no-answer").compose(QUESTION, "general", CITATIONS) is None
    assert "found no answer" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, True),
        (f"  {GOOD}\n", True),
        ("Phường Thanh Xuân được lập từ sáu phường [2]. Phòng Nội vụ chủ trì [1].", True),
        ("Phòng Nội vụ chủ trì cung cấp tài liệu. [1]", True),
        ("Hai nguồn cùng nêu việc này [1][2].", True),
        ("Hai nguồn cùng nêu việc này [1, 2].", True),
        ("Phòng Nội vụ quận:\n- Chủ trì cung cấp tài liệu [1]\n- Phối hợp tuyên truyền [1]", True),
        ("**Nhiệm vụ:**\n1. Chủ trì cung cấp tài liệu [1].\n2. Phối hợp tuyên truyền [1].", True),
        ("Thành lập phường Thanh Xuân từ ngày 16.6.2025 [2].", True),
        ("Việc sắp xếp ở TP. Hồ Chí Minh không được nêu trong Nghị quyết này [2].", True),
        ("Phòng Nội vụ chủ trì [1]; phòng Văn hóa tổ chức tuyên truyền [1].", True),
        ("", False),
        ("   \n", False),
        ("Phòng Nội vụ chủ trì cung cấp tài liệu.", False),
        ("Phòng Nội vụ chủ trì [3].", False),
        ("Phòng Nội vụ chủ trì [0].", False),
        ("Hai nguồn cùng nêu việc này [1, 7].", False),
        ("Hai nguồn cùng nêu việc này [1-2].", False),
        ("Phòng Nội vụ chủ trì [1]. Hạn chót là ngày 30/6/2025.", False),
        ("Phòng Nội vụ chủ trì [1]; hạn chót là ngày 30/6/2025.", False),
        ("Phòng Nội vụ quận:\n- Chủ trì cung cấp tài liệu [1]\n- Phối hợp tuyên truyền", False),
        ("Phòng Nội vụ chủ trì [1]!\nHạn chót là ngày 30/6/2025 ư?", False),
        ("Phòng Nội vụ chủ trì cung cấp tài liệu [1]. " * 40, False),
        (f"{SYSTEM_PROMPT[:40]} [1].", False),
        (f"Theo hướng dẫn: {' '.join(SYSTEM_PROMPT.split()).upper()[:60]} [1].", False),
        (f"{unicodedata.normalize('NFD', SYSTEM_PROMPT.splitlines()[-1])} [1].", False),
    ],
)
def test_validate(text: str, expected: bool) -> None:
    assert validate(text, 2) is expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Phòng Nội vụ quận:", "no [n] marker"),
        ("Phòng Nội vụ chủ trì [1–2].", "a bracket is not a [n] marker"),
        (GOOD.replace("[1]", "[3]"), "cites a passage outside [1]..[2]"),
        (f"{GOOD} Hạn chót là ngày 30/6/2025.", "a sentence has no [n]"),
        (GOOD, None),
    ],
)
def test_rejection_reason(text: str, reason: str | None) -> None:
    assert rejection(text, 2) == reason


def test_validate_without_citations() -> None:
    assert not validate(GOOD, 0)
