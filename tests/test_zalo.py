"""The Zalo channel over real HTTP: bot.channels.zalo talks to tests/fake_zalo.py on 127.0.0.1.

The responder is replaced by a small fake Asker (the seam); the StateStore is the real one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from answers import ANSWER, LONG_ANSWER, FixedAsker, wait_until
from fake_zalo import (
    APP_ID,
    APP_SECRET,
    MESSAGE_PATH,
    OA_SECRET_KEY,
    SENDER,
    TOKEN_PATH,
    FakeZalo,
    create_app,
    sign,
    text_event,
)
from fastapi import FastAPI
from servers import running

from bot.channels.formatting import plain_text
from bot.channels.inbox import Inbox
from bot.channels.logged import LoggedResponder
from bot.channels.telegram import APOLOGY
from bot.channels.zalo import (
    ZALO_LIMIT,
    ZaloBot,
    ZaloClient,
    ZaloError,
    ZaloSettings,
    verify_signature,
    zalo_router,
)
from bot.channels.zalo import text_event as parse_text_event
from bot.service.webhooks import receive
from bot.state import State
from bot.state.questionlog import QuestionLog
from bot.state.sqlite import StateStore
from prompts import template


@pytest.fixture
def fake() -> FakeZalo:
    return FakeZalo()


@pytest.fixture
def zalo_url(fake: FakeZalo) -> Iterator[str]:
    with running(create_app(fake)) as url:
        yield url


@pytest.fixture
def settings(zalo_url: str) -> ZaloSettings:
    return ZaloSettings(
        app_id=APP_ID,
        oa_secret_key=OA_SECRET_KEY,
        app_secret=APP_SECRET,
        access_token="access-0",
        refresh_token="refresh-0",
        api_base_url=zalo_url,
        oauth_base_url=zalo_url,
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[StateStore]:
    state = StateStore(store_path, salt="test")
    yield state
    state.close()


def deliver(settings: ZaloSettings, store: StateStore, asker: FixedAsker, *events: dict) -> None:
    """Hand `events` to a ZaloBot through the delivery log concurrently, on a fresh client, and
    wait for the answers."""

    async def scenario() -> None:
        client = ZaloClient(settings, store)
        inbox = Inbox(store)
        inbox.register("zalo", ZaloBot(asker, client).handle, OA_SECRET_KEY)
        try:
            await asyncio.gather(
                *(inbox.receive("zalo", parse_text_event(e)[0], e) for e in events)
            )
            await inbox.drain(timeout_s=30)
        finally:
            await client.aclose()

    asyncio.run(scenario())


def send(settings: ZaloSettings, store: StateStore, text: str = "Xin chào") -> bool:
    """One `send_text` on a fresh client."""

    async def scenario() -> bool:
        client = ZaloClient(settings, store)
        try:
            return await client.send_text(SENDER, text)
        finally:
            await client.aclose()

    return asyncio.run(scenario())


# --- signature ----------------------------------------------------------------------------------


def test_verify_signature(settings: ZaloSettings) -> None:
    body, timestamp = b'{"event_name": "user_send_text"}', "1594369414335"
    good = sign(body, timestamp)
    assert verify_signature(settings, body, timestamp, good)
    assert not verify_signature(settings, body + b" ", timestamp, good)
    assert not verify_signature(settings, body, "1594369414336", good)
    assert not verify_signature(settings, body, timestamp, good.removeprefix("mac="))
    assert not verify_signature(settings, body, timestamp, "")
    assert not verify_signature(settings, body, timestamp, "mac=đ")


# --- webhook ------------------------------------------------------------------------------------


@pytest.fixture
def asker() -> FixedAsker:
    return FixedAsker()


@pytest.fixture
def webhook(settings: ZaloSettings, store: StateStore, asker: FixedAsker) -> Iterator[str]:
    """Our webhook, mounted on a small app; yields its URL."""
    client = ZaloClient(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    inbox = Inbox(store)
    inbox.register("zalo", ZaloBot(asker, client).handle, OA_SECRET_KEY)
    app = FastAPI(lifespan=lifespan)
    app.include_router(zalo_router(settings, lambda *a: receive(inbox, *a)))
    with running(app) as url:
        yield f"{url}/webhooks/zalo"


def signed(event: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, ensure_ascii=False).encode()
    return body, {"X-ZEvent-Signature": sign(body, event["timestamp"])}


def test_signed_event_is_acknowledged_then_answered(
    webhook: str, fake: FakeZalo, asker: FixedAsker
) -> None:
    asker.delay = 0.5
    body, headers = signed(text_event("m1", ANSWER.question))
    started = time.monotonic()
    response = httpx.post(webhook, content=body, headers=headers)
    assert response.status_code == 200
    assert time.monotonic() - started < asker.delay  # acknowledged before the answer is ready
    wait_until(lambda: len(fake.calls(MESSAGE_PATH)) >= 1)
    time.sleep(0.2)
    [call] = fake.calls(MESSAGE_PATH)
    assert call["json"] == {
        "recipient": {"user_id": SENDER},
        "message": {"text": plain_text(ANSWER)},
    }
    assert call["access_token"] == "access-0"
    assert asker.asked == [(ANSWER.question, f"zalo:{SENDER}")]


@pytest.mark.parametrize("header", [None, "mac=" + "0" * 64, "forged"])
def test_bad_signature_is_refused(webhook: str, fake: FakeZalo, header: str | None) -> None:
    body, _ = signed(text_event("m1", "câu hỏi"))
    headers = {"X-ZEvent-Signature": header} if header else {}
    assert httpx.post(webhook, content=body, headers=headers).status_code == 401
    time.sleep(0.2)
    assert fake.requests == []


def test_signature_of_another_body_is_refused(webhook: str, fake: FakeZalo) -> None:
    body, headers = signed(text_event("m1", "câu hỏi"))
    tampered = body.replace("câu hỏi".encode(), "câu khác".encode())
    assert httpx.post(webhook, content=tampered, headers=headers).status_code == 401
    time.sleep(0.2)
    assert fake.requests == []


def test_bad_json_is_400(webhook: str) -> None:
    assert httpx.post(webhook, content=b"{not json", headers={}).status_code == 400


def test_duplicate_deliveries_get_one_reply(
    webhook: str, fake: FakeZalo, asker: FixedAsker
) -> None:
    body, headers = signed(text_event("m-dup", "câu hỏi"))

    async def deliver_twice_at_once() -> list[int]:
        async with httpx.AsyncClient() as http:
            posts = [http.post(webhook, content=body, headers=headers) for _ in range(2)]
            return [r.status_code for r in await asyncio.gather(*posts)]

    assert asyncio.run(deliver_twice_at_once()) == [200, 200]
    assert httpx.post(webhook, content=body, headers=headers).status_code == 200  # a retry
    wait_until(lambda: len(fake.calls(MESSAGE_PATH)) >= 1)
    time.sleep(0.3)
    assert len(fake.calls(MESSAGE_PATH)) == 1
    assert len(asker.asked) == 1


def test_other_events_are_ignored(webhook: str, fake: FakeZalo, asker: FixedAsker) -> None:
    event = text_event("m1", "câu hỏi") | {"event_name": "follow"}
    body, headers = signed(event)
    assert httpx.post(webhook, content=body, headers=headers).status_code == 200
    time.sleep(0.3)
    assert fake.requests == [] and asker.asked == []


# --- the bot ------------------------------------------------------------------------------------


def test_concurrent_duplicates_get_one_reply(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    asker = FixedAsker()
    event = text_event("m-same", "câu hỏi")
    deliver(settings, store, asker, event, event, event)
    assert fake.texts() == [plain_text(ANSWER)]
    assert len(asker.asked) == 1


def test_long_answer_is_sent_in_ordered_pieces(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    deliver(settings, store, FixedAsker(LONG_ANSWER), text_event("m1", "câu hỏi"))
    texts = fake.texts()
    assert len(texts) >= 3
    assert all(len(text) <= ZALO_LIMIT for text in texts)
    assert " ".join(texts).split() == plain_text(LONG_ANSWER).split()  # all of it, in order


def test_rate_limited_user_gets_a_polite_message(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo, tmp_path: Path
) -> None:
    """The limit lives in the responder every channel shares (`LoggedResponder`)."""
    user = store.hash_user("zalo", f"zalo:{SENDER}")
    while store.allow(user):
        pass
    asker = FixedAsker()
    log = QuestionLog(f"sqlite:///{tmp_path / 'questions.sqlite3'}")
    deliver(settings, store, LoggedResponder(asker, State(store, store, log)), text_event("m1", "câu hỏi"))
    assert fake.texts() == [template("refusal.rate_limited")]
    assert asker.asked == []


def test_asker_failure_gets_an_apology(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    deliver(settings, store, FixedAsker(fail=True), text_event("m1", "câu hỏi"))
    assert fake.texts() == [APOLOGY]


# --- the client: tokens and retries -------------------------------------------------------------


@pytest.mark.parametrize("code", [-216, -220])
def test_expired_token_is_refreshed_persisted_and_rotated(
    settings: ZaloSettings, store: StateStore, store_path: Path, fake: FakeZalo, code: int
) -> None:
    fake.expire(code)
    assert send(settings, store, "một")
    stale, refresh, retry = fake.requests
    assert (stale["path"], stale["access_token"]) == (MESSAGE_PATH, "access-0")
    assert refresh["path"] == TOKEN_PATH and refresh["secret_key"] == APP_SECRET
    assert refresh["form"] == {
        "refresh_token": "refresh-0",
        "app_id": APP_ID,
        "grant_type": "refresh_token",
    }
    assert (retry["access_token"], retry["accepted"]) == ("access-1", True)

    reopened = StateStore(store_path, salt="test")
    try:
        assert reopened.tokens("zalo") == {"access_token": "access-1", "refresh_token": "refresh-1"}
        # a restart: the persisted pair wins over the (now spent) initial tokens in the settings
        fake.expire(code)
        assert send(settings, reopened, "hai")
    finally:
        reopened.close()
    assert fake.calls(TOKEN_PATH)[-1]["form"]["refresh_token"] == "refresh-1"
    assert fake.calls(MESSAGE_PATH)[-1]["access_token"] == "access-2"
    assert fake.texts() == ["một", "hai"]


def test_concurrent_expiries_refresh_once(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    fake.expire()

    async def scenario() -> list[bool]:
        client = ZaloClient(settings, store)
        try:
            return await asyncio.gather(*(client.send_text(SENDER, str(n)) for n in range(4)))
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [True] * 4
    assert len(fake.calls(TOKEN_PATH)) == 1
    assert sorted(fake.texts()) == ["0", "1", "2", "3"]


def test_two_instances_refreshing_at_once_both_deliver(
    settings: ZaloSettings, fake: FakeZalo, redis_server
) -> None:
    """Two instances over one Redis see the token expire together; one refresh wins, the other
    is refused (its refresh token was just spent) and adopts the winner's pair."""
    from bot.state.redis_store import RedisState, connect

    redis_server.flush()
    states = [RedisState(connect(redis_server.url), salt="s") for _ in range(2)]
    fake.expire()

    async def scenario() -> list[bool]:
        clients = [ZaloClient(settings, state) for state in states]
        try:
            return await asyncio.gather(*(c.send_text(SENDER, str(n)) for n, c in enumerate(clients)))
        finally:
            for client in clients:
                await client.aclose()

    assert asyncio.run(scenario()) == [True, True]
    assert sorted(fake.texts()) == ["0", "1"]
    assert states[0].tokens("zalo") == {"access_token": fake.access_token, "refresh_token": fake.refresh_token}
    for state in states:
        state.close()


def test_refused_refresh_raises_and_send_gives_up(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    fake.refresh_token = "someone-else-rotated-it"
    fake.expire()

    async def refresh() -> None:
        client = ZaloClient(settings, store)
        try:
            await client.refresh()
        finally:
            await client.aclose()

    with pytest.raises(ZaloError):
        asyncio.run(refresh())
    assert not send(settings, store)
    assert store.tokens("zalo") is None


def test_server_errors_are_retried(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    fake.fail(500, times=2)
    assert send(settings, store, "ba")
    assert len(fake.calls(MESSAGE_PATH)) == 3
    assert fake.texts() == ["ba"]


def test_endless_429_gives_up_after_three_tries(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    fake.fail(429)
    started = time.monotonic()
    assert send(settings, store) is False
    assert len(fake.calls(MESSAGE_PATH)) == 3
    assert 0.55 <= time.monotonic() - started < 3  # backed off 0.2 s then 0.4 s


def test_undelivered_piece_stops_the_rest(
    settings: ZaloSettings, store: StateStore, fake: FakeZalo
) -> None:
    fake.fail(503)
    deliver(settings, store, FixedAsker(LONG_ANSWER), text_event("m1", "câu hỏi"))
    assert len(fake.calls(MESSAGE_PATH)) == 3  # the first piece's tries only
