"""The Facebook Messenger channel from outside, as Facebook uses it: a stand-in Graph API
(tests/fake_facebook.py) on 127.0.0.1 and real HTTP both ways.

First the channel on a small app with a fake Asker (the seam) and the real StateStore and inbox;
then the real service (`sapxep serve` over the session's index), answering real questions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from answers import ANSWER, LONG_ANSWER, FixedAsker, wait_until
from fake_facebook import (
    APP_SECRET,
    ME_PATH,
    PAGE_TOKEN,
    PSID,
    VERIFY_TOKEN,
    VERSION,
    FakeFacebook,
    attachment_item,
    create_app,
    delivery_item,
    echo_item,
    postback_item,
    read_item,
    sign,
    signed,
    text_item,
    webhook_body,
)
from fastapi import FastAPI
from servers import running
from service import Service

import bot.channels.facebook as facebook
from bot.answer.models import Answer
from bot.channels.contract import APOLOGY
from bot.channels.facebook import (
    FACEBOOK_LIMIT,
    FacebookBot,
    FacebookClient,
    FacebookSettings,
    facebook_router,
)
from bot.channels.formatting import LABEL_CHARS, plain_text
from bot.channels.inbox import Inbox, Later
from bot.service.webhooks import receive
from bot.state.sqlite import StateStore
from prompts import template

SPLIT_FACTS = [{
    "input": "Phường Thanh Xuân Bắc", "status": "split",
    "old_unit": "Phường Thanh Xuân Bắc, Thành phố Hà Nội",
    "new_units": ["Phường Thanh Xuân", "Phường Thanh Liệt"],
    "new_address": ["Phường Thanh Xuân, Thành phố Hà Nội", "Phường Thanh Liệt, Thành phố Hà Nội"],
    "province": "Thành phố Hà Nội", "citation": "Nghị quyết 1656/NQ-UBTVQH15, Điều 1, khoản 22, 48",
}]  # fmt: skip
MARKDOWN = ("**", "__", "`", "](", "# ")


@pytest.fixture
def fake() -> FakeFacebook:
    return FakeFacebook()


@pytest.fixture
def page(fake: FakeFacebook) -> Iterator[FacebookSettings]:
    with running(create_app(fake)) as url:
        yield FacebookSettings(PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN, f"{url}/{VERSION}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore(tmp_path / "state.sqlite3", salt="test")
    yield state
    state.close()


@dataclass
class Channel:
    """The webhook's URL, and what the bot behind it reported."""

    url: str
    asker: FixedAsker
    statuses: list[str] = field(default_factory=list)
    votes: list[tuple[str, str, bool]] = field(default_factory=list)

    def post(self, body: dict[str, Any], secret: str = APP_SECRET) -> int:
        raw, headers = signed(body, secret)
        return httpx.post(self.url, content=raw, headers=headers, timeout=10).status_code


@pytest.fixture
def channel(page: FacebookSettings, store: StateStore) -> Iterator[Channel]:
    """Our webhook on a small app, its inbox swept as the service does (a lease of 1 s)."""
    channel = Channel("", FixedAsker())
    client = FacebookClient(page, report=channel.statuses.append)
    inbox = Inbox(store, lease_s=1.0)
    bot = FacebookBot(channel.asker, client, on_feedback=lambda *vote: channel.votes.append(vote))
    inbox.register("facebook", bot.handle, APP_SECRET)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(inbox.run_sweeper(interval_s=0.05))
        yield
        sweeper.cancel()
        await inbox.drain(timeout_s=10)
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(facebook_router(page, lambda *a: receive(inbox, *a)))
    with running(app) as url:
        channel.url = f"{url}/webhooks/facebook"
        yield channel


# --- the handshake and the signature --------------------------------------------------------------


def handshake(url: str, challenge: str = "1", **params: str) -> httpx.Response:
    query = {"hub.challenge": challenge, **{f"hub.{k}": v for k, v in params.items()}}
    return httpx.get(url, params=query, timeout=10)


def test_the_handshake_echoes_the_challenge_and_refuses_anything_else(channel: Channel) -> None:
    reply = handshake(channel.url, "1158201444", mode="subscribe", verify_token=VERIFY_TOKEN)
    assert (reply.status_code, reply.text) == (200, "1158201444")
    assert reply.headers["content-type"].startswith("text/plain")
    assert handshake(channel.url, mode="subscribe", verify_token="wrong-token").status_code == 403
    assert handshake(channel.url, mode="unsubscribe", verify_token=VERIFY_TOKEN).status_code == 403
    assert handshake(channel.url).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": "forged"}],
    ids=["unsigned", "zeros", "forged"],
)
def test_unsigned_or_forged_deliveries_are_refused_and_never_answered(
    channel: Channel, fake: FakeFacebook, headers: dict[str, str]
) -> None:
    raw, _ = signed(webhook_body([text_item("m1", "xã Tri Phương")]))
    assert httpx.post(channel.url, content=raw, headers=headers).status_code == 403
    time.sleep(0.3)
    assert fake.requests == [] and channel.asker.asked == []


def test_a_signature_under_another_secret_or_of_another_body_is_refused(
    channel: Channel, fake: FakeFacebook
) -> None:
    body = webhook_body([text_item("m1", "câu hỏi")])
    assert channel.post(body, secret="another-app-secret") == 403
    raw, headers = signed(body)
    tampered = raw.replace("câu hỏi".encode(), "câu khác".encode())
    assert httpx.post(channel.url, content=tampered, headers=headers).status_code == 403
    time.sleep(0.3)
    assert fake.requests == [] and channel.asker.asked == []


def test_signed_but_not_json_is_400(channel: Channel) -> None:
    raw = b"{not json"
    headers = {"X-Hub-Signature-256": sign(raw)}
    assert httpx.post(channel.url, content=raw, headers=headers).status_code == 400


# --- replies ------------------------------------------------------------------------------------


def test_a_message_is_acknowledged_at_once_then_answered(
    channel: Channel, fake: FakeFacebook
) -> None:
    channel.asker.delay = 0.5
    started = time.monotonic()
    assert channel.post(webhook_body([text_item("m-1", ANSWER.question)])) == 200
    assert time.monotonic() - started < channel.asker.delay  # before the answer was ready
    wait_until(lambda: fake.sent())
    time.sleep(0.2)
    [call] = fake.calls()
    assert call["access_token"] == PAGE_TOKEN
    assert call["json"] == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": plain_text(ANSWER)},  # no facts, no answer id: no quick replies
    }
    assert channel.asker.asked == [(ANSWER.question, f"facebook:{PSID}")]
    assert channel.asker.messages == ["facebook:m-1"]


def test_several_events_a_post_and_every_post_twice_get_one_reply_each(
    channel: Channel, fake: FakeFacebook
) -> None:
    psids = [f"73010000000001{i:02d}" for i in range(6)]
    items = [text_item(f"mid-{i}", f"câu hỏi {i}", psid=psid) for i, psid in enumerate(psids)]
    bodies = [webhook_body(items[i : i + 2]) for i in range(0, 6, 2)]  # one entry, two events
    bodies.append(webhook_body([items[0]], [items[5]]))  # two entries: redeliveries

    async def deliver_twice_at_once() -> list[int]:
        async with httpx.AsyncClient() as http:
            posts = [http.post(channel.url, content=raw, headers=headers)
                     for raw, headers in map(signed, bodies) for _ in range(2)]  # fmt: skip
            return [r.status_code for r in await asyncio.gather(*posts)]

    assert asyncio.run(deliver_twice_at_once()) == [200] * 8
    wait_until(lambda: len(fake.sent()) >= 6)
    time.sleep(1.5)  # past the inbox lease: a second reply would have come by now
    assert {psid: len(fake.sent(psid)) for psid in psids} == dict.fromkeys(psids, 1)
    assert sorted(q for q, _ in channel.asker.asked) == [f"câu hỏi {i}" for i in range(6)]


@pytest.mark.parametrize(
    "item",
    [echo_item("m-echo", "trả lời của Trang"), delivery_item(), read_item(),
     attachment_item("m-sticker", sticker=True)],
    ids=["echo", "delivery", "read", "sticker"],
)  # fmt: skip
def test_echoes_receipts_and_stickers_get_no_answer(
    channel: Channel, fake: FakeFacebook, item: dict[str, Any]
) -> None:
    assert channel.post(webhook_body([item])) == 200
    time.sleep(0.4)
    assert fake.requests == [] and channel.asker.asked == []


def test_an_attachment_gets_a_short_text(channel: Channel, fake: FakeFacebook) -> None:
    assert channel.post(webhook_body([attachment_item("m-photo")])) == 200
    wait_until(lambda: fake.sent())
    assert fake.texts() == [template("chat.not_text")] and channel.asker.asked == []


def test_a_long_answer_arrives_in_ordered_pieces_sources_last(
    channel: Channel, fake: FakeFacebook
) -> None:
    channel.asker.answer = LONG_ANSWER
    assert channel.post(webhook_body([text_item("m-long", "câu hỏi")])) == 200
    wait_until(lambda: len(fake.sent()) >= 3)
    time.sleep(0.3)
    texts = fake.texts()
    assert len(texts) == 3 and all(len(text) <= FACEBOOK_LIMIT for text in texts)
    assert " ".join(texts).split() == plain_text(LONG_ANSWER).split()  # all of it, in order
    assert all(text.rstrip().endswith(".") for text in texts[:-1])  # cut after a sentence
    assert all("Nguồn:" not in text for text in texts[:-1]) and "Nguồn:" in texts[-1]


def test_quick_replies_suggest_next_questions_and_collect_votes(
    channel: Channel, fake: FakeFacebook
) -> None:
    channel.asker.answer = ANSWER.model_copy(update={"facts": SPLIT_FACTS, "answer_id": "a1b2c3d4"})
    assert channel.post(webhook_body([text_item("m-q", ANSWER.question)])) == 200
    wait_until(lambda: fake.sent())
    [message] = fake.sent()
    replies = message["quick_replies"]
    labels = [r["title"] for r in replies]
    assert labels == ["Thanh Xuân gồm gì?", "Thanh Liệt gồm gì?", "Số xã ở Hà Nội", "👍", "👎"]
    assert all(len(label) <= LABEL_CHARS for label in labels)
    suggestion = replies[1]["payload"]
    assert suggestion == "ask:Phường Thanh Liệt, Thành phố Hà Nội gồm những đơn vị cũ nào?"

    taps = [
        text_item("m-tap", labels[1], payload=suggestion),  # asks the whole question
        text_item("m-up", "👍", payload=replies[3]["payload"]),
        postback_item("m-down", "👎", "fb:0:a1b2c3d4", psid="7301000000000999"),
        postback_item("m-start", "Bắt đầu", "GET_STARTED", psid="7301000000000998"),
    ]
    assert channel.post(webhook_body(taps[:2], taps[2:])) == 200
    wait_until(lambda: len(fake.sent()) >= 5)
    assert channel.asker.asked[-1] == (suggestion.removeprefix("ask:"), f"facebook:{PSID}")
    assert sorted(channel.votes) == [
        ("a1b2c3d4", PSID, True),
        ("a1b2c3d4", "7301000000000999", False),
    ]
    assert fake.texts("7301000000000999") == [template("chat.thanks")]
    assert fake.texts("7301000000000998") == [template("chat.greeting")]


def test_the_askers_failure_gets_an_apology(channel: Channel, fake: FakeFacebook) -> None:
    channel.asker.fail = True
    assert channel.post(webhook_body([text_item("m-fail", "câu hỏi")])) == 200
    wait_until(lambda: fake.sent())
    assert fake.texts() == [APOLOGY]


def test_answers_hold_no_markdown() -> None:
    for answer in (ANSWER, LONG_ANSWER):
        for message in facebook.messages(answer):
            assert not any(mark in message["text"] for mark in MARKDOWN), message["text"][:80]


# --- the Send API's errors ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [4, 613])
def test_rate_limits_are_retried_with_backoff(
    channel: Channel, fake: FakeFacebook, code: int
) -> None:
    fake.fail(code, times=2)
    started = time.monotonic()
    assert channel.post(webhook_body([text_item("m-rate", "câu hỏi")])) == 200
    wait_until(lambda: fake.sent(), timeout=10)
    assert time.monotonic() - started >= 1.5  # waited 0.5 s, then 1 s
    time.sleep(0.3)
    assert len(fake.calls()) == 3 and fake.texts() == [plain_text(ANSWER)]
    assert channel.statuses == []  # the channel stayed up


def test_a_message_refused_for_good_stops_the_answer(channel: Channel, fake: FakeFacebook) -> None:
    channel.asker.answer = LONG_ANSWER
    fake.fail(551)  # the resident is not available: no point retrying, nor sending the rest
    assert channel.post(webhook_body([text_item("m-gone", "câu hỏi")])) == 200
    wait_until(lambda: fake.calls())
    time.sleep(1.5)  # past the lease: the delivery was done, not put off
    assert len(fake.calls()) == 1 and fake.sent() == []


def test_a_refused_token_degrades_the_channel_is_logged_once_and_loses_nothing(
    channel: Channel, fake: FakeFacebook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.facebook")
    fake.refuse_token()
    psids = ["7301000000000201", "7301000000000202"]
    body = webhook_body(*[[text_item(f"m-{p}", "câu hỏi", psid=p)] for p in psids])
    assert channel.post(body) == 200
    wait_until(lambda: channel.statuses == ["degraded"])
    time.sleep(2.5)  # the deliveries are taken again after their 1 s lease, and refused again
    assert len(fake.calls()) >= 4 and fake.sent() == []
    fake.accept_token()
    wait_until(lambda: all(fake.sent(p) for p in psids), timeout=10)
    time.sleep(1.5)
    assert [len(fake.sent(p)) for p in psids] == [1, 1]
    assert channel.statuses == ["degraded", "ok"]
    ours = [r for r in caplog.records if r.name == "bot.channels.facebook"]
    assert [r.levelname for r in ours] == ["ERROR", "INFO"], [r.getMessage() for r in ours]
    assert "190" in ours[0].getMessage()
    assert not any(PAGE_TOKEN in r.getMessage() for r in ours)


def test_the_token_is_checked_at_start(page: FacebookSettings, fake: FakeFacebook) -> None:
    async def probe() -> list[str]:
        statuses: list[str] = []
        client = FacebookClient(page, report=statuses.append)
        await client.probe()
        fake.accept_token()
        await client.probe()
        await client.aclose()
        return statuses

    fake.refuse_token()
    assert asyncio.run(probe()) == ["degraded", "ok"]
    assert [c["access_token"] for c in fake.calls(ME_PATH)] == [PAGE_TOKEN, PAGE_TOKEN]


def test_retries_that_run_out_put_the_delivery_off(
    page: FacebookSettings, fake: FakeFacebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facebook, "BACKOFF_S", (0.01, 0.01))
    fake.fail(613, times=float("inf"))
    statuses: list[str] = []

    async def send() -> None:
        client = FacebookClient(page, report=statuses.append)
        try:
            await client.send(PSID, {"text": "xin chào"})
        finally:
            await client.aclose()

    with pytest.raises(Later):
        asyncio.run(send())
    assert len(fake.calls()) == 3 and statuses == ["degraded"]


# --- the real service -----------------------------------------------------------------------------

ADMIN = "admin-token-for-facebook-tests"
CONVERSATIONS = [
    "phường Thanh Xuân Bắc giờ là phường gì?",
    "xã Tri Phương sáp nhập với xã nào?",
    "Tỉnh Hà Giang cũ giờ là tỉnh nào?",
    "Thành phố Hà Nội có bao nhiêu xã, phường sau sắp xếp?",
    "phường 1 quận 3 nay là phường nào",
    "P. Thượng Đình, Q. Thanh Xuân nay là phường nào?",
    "Thái Bình nhập vào tỉnh nào rồi?",
    "Quảng Ninh có bao nhiêu xã, phường sau sắp xếp?",
    "Phường Bàn Cờ, Thành phố Hồ Chí Minh gồm những đơn vị cũ nào?",
    "số 12 phố Nguyễn Trãi, phường Thượng Đình, quận Thanh Xuân, Hà Nội",
    "Sau sáp nhập thì lương giáo viên có tăng không?",
    "phuong thuong dinh gio la phuong gi",
]
LONG_QUESTION = "phường 1 giờ là phường nào"  # 13 namesakes: about 2,500 characters


@pytest.fixture(scope="module")
def graph_api() -> Iterator[tuple[FakeFacebook, str]]:
    fake = FakeFacebook()
    with running(create_app(fake)) as url:
        yield fake, f"{url}/{VERSION}"


@pytest.fixture(scope="module")
def service(index_root: Path, settings, tmp_path_factory, graph_api) -> Iterator[Service]:
    env = {
        "SAPXEP_EMBEDDING_MODEL": settings.embedding_model,
        "SAPXEP_ADMIN_TOKEN": ADMIN,
        "SAPXEP_DELIVERY_LEASE_S": "2",
        "FACEBOOK_PAGE_ACCESS_TOKEN": PAGE_TOKEN,
        "FACEBOOK_APP_SECRET": APP_SECRET,
        "FACEBOOK_VERIFY_TOKEN": VERIFY_TOKEN,
        "FACEBOOK_API_BASE_URL": graph_api[1],
    }
    served = Service(index_root, tmp_path_factory.mktemp("facebook"), env)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def healthz(service: Service) -> dict[str, Any]:
    reply = httpx.get(f"{service.url}/healthz", timeout=10)
    assert reply.status_code == 200
    return reply.json()


def deliver(service: Service, *entries: list[dict[str, Any]]) -> int:
    """POST one signed webhook call, one entry per list of messaging items; its status."""
    raw, headers = signed(webhook_body(*entries))
    url = f"{service.url}/webhooks/facebook"
    return httpx.post(url, content=raw, headers=headers, timeout=30).status_code


def api_answer(service: Service, question: str) -> Answer:
    reply = httpx.post(f"{service.url}/api/ask", json={"question": question}, timeout=60)
    assert reply.status_code == 200
    return Answer.model_validate(reply.json())


def test_the_service_answers_the_handshake_and_checks_the_token(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    url = f"{service.url}/webhooks/facebook"
    reply = handshake(url, "987654321", mode="subscribe", verify_token=VERIFY_TOKEN)
    assert (reply.status_code, reply.text) == (200, "987654321")
    assert handshake(url, mode="subscribe", verify_token="not-the-token").status_code == 403
    assert healthz(service)["parts"]["facebook"] == "ok"
    assert [c["access_token"] for c in graph_api[0].calls(ME_PATH)] == [PAGE_TOKEN]


def test_the_service_refuses_unsigned_and_forged_deliveries(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    fake, psid = graph_api[0], "7302000000000001"
    raw, _ = signed(webhook_body([text_item("svc-forged", CONVERSATIONS[0], psid=psid)]))
    url = f"{service.url}/webhooks/facebook"
    forged = {"X-Hub-Signature-256": sign(raw, "a-guessed-app-secret")}
    assert [httpx.post(url, content=raw, headers=h).status_code for h in ({}, forged)] == [403, 403]
    time.sleep(1)
    assert all(c["json"]["recipient"]["id"] != psid for c in fake.calls())


def test_twelve_conversations_in_pairs_every_post_twice_get_one_reply_each(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    fake = graph_api[0]
    psids = [f"73030000000000{i:02d}" for i in range(len(CONVERSATIONS))]
    pairs = enumerate(zip(CONVERSATIONS, psids, strict=True))
    items = [text_item(f"svc-m{i}", question, psid=psid) for i, (question, psid) in pairs]
    bodies = [webhook_body([items[i]], [items[i + 1]]) for i in range(0, len(items), 2)]

    async def deliver_every_post_twice() -> list[int]:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            posts = [http.post("/webhooks/facebook", content=raw, headers=headers)
                     for raw, headers in map(signed, bodies) for _ in range(2)]  # fmt: skip
            return [r.status_code for r in await asyncio.gather(*posts)]

    started = time.monotonic()
    assert asyncio.run(deliver_every_post_twice()) == [200] * 12
    acknowledged = time.monotonic() - started
    wait_until(lambda: all(fake.sent(p) for p in psids), timeout=90)
    answered = time.monotonic() - started
    time.sleep(3)  # past the 2 s lease: a second reply would have come by now
    print(f"12 conversations: acknowledged in {acknowledged:.2f} s, answered in {answered:.1f} s")
    for psid, question in zip(psids, CONVERSATIONS, strict=True):
        [message] = fake.sent(psid)
        assert len(message["text"]) <= FACEBOOK_LIMIT
        assert not any(mark in message["text"] for mark in MARKDOWN)
        assert message["text"] == plain_text(api_answer(service, question)), question
        assert [r["title"] for r in message["quick_replies"]][-2:] == ["👍", "👎"]
    first = fake.sent(psids[0])[0]["quick_replies"]
    labels = ["Thanh Xuân gồm gì?", "Thanh Liệt gồm gì?", "Số xã ở Hà Nội", "👍", "👎"]
    assert [r["title"] for r in first] == labels


def test_a_long_answer_arrives_in_parts_in_order(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    fake, psid = graph_api[0], "7304000000000001"
    assert deliver(service, [text_item("svc-long", LONG_QUESTION, psid=psid)]) == 200
    wait_until(lambda: len(fake.sent(psid)) >= 2, timeout=60)
    time.sleep(1)
    texts = fake.texts(psid)
    whole = plain_text(api_answer(service, LONG_QUESTION))
    assert len(whole) > FACEBOOK_LIMIT and len(texts) == 2
    assert all(len(text) <= FACEBOOK_LIMIT for text in texts)
    assert " ".join(texts).split() == whole.split()
    assert [bool(m.get("quick_replies")) for m in fake.sent(psid)] == [False, True]


def test_votes_and_questions_are_counted_for_the_channel_with_hashed_ids(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    fake, psid = graph_api[0], "7305000000000001"
    assert deliver(service, [text_item("svc-vote-q", CONVERSATIONS[3], psid=psid)]) == 200
    wait_until(lambda: fake.sent(psid), timeout=60)
    down = fake.sent(psid)[0]["quick_replies"][-1]
    tap = text_item("svc-vote", down["title"], psid=psid, payload=down["payload"])
    assert deliver(service, [tap]) == 200
    wait_until(lambda: len(fake.sent(psid)) == 2, timeout=30)
    assert fake.texts(psid)[1] == template("chat.thanks")
    auth = {"Authorization": f"Bearer {ADMIN}"}
    stats = httpx.get(f"{service.url}/api/stats", headers=auth, timeout=30).json()
    assert stats["by_channel"]["facebook"] >= 1 and stats["feedback_down"] == 1
    insights = httpx.get(
        f"{service.url}/api/admin/insights",
        params={"channel": "facebook"},
        headers=auth,
        timeout=30,
    )
    assert insights.status_code == 200 and insights.json()["latency"][0]["cau_hoi"] >= 1
    stored = b"".join(p.read_bytes() for p in service.data_dir.glob("*.sqlite3*"))
    assert psid.encode() not in stored and b"facebook" in stored


def test_an_invalid_page_token_shows_as_degraded_and_nothing_is_lost(
    service: Service, graph_api: tuple[FakeFacebook, str]
) -> None:
    fake, psids = graph_api[0], ["7306000000000001", "7306000000000002"]
    fake.refuse_token()
    try:
        for n, psid in enumerate(psids):
            assert deliver(service, [text_item(f"svc-190-{n}", CONVERSATIONS[2], psid=psid)]) == 200
        wait_until(lambda: healthz(service)["parts"]["facebook"] == "degraded", timeout=60)
        assert healthz(service)["status"] == "degraded"
        time.sleep(3)  # retried after the 2 s lease, refused again
        assert all(not fake.sent(p) for p in psids)
    finally:
        fake.accept_token()
    wait_until(lambda: all(fake.sent(p) for p in psids), timeout=30)
    time.sleep(3)
    assert [len(fake.sent(p)) for p in psids] == [1, 1]
    assert healthz(service)["parts"]["facebook"] == "ok"
    log = service.log.read_text(errors="replace")
    assert log.count("Facebook refuses the Page access token") == 1
    assert PAGE_TOKEN not in log and "access_token=***" in log
