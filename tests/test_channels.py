"""The channels mounted on the real service: the Telegram webhook behind its secret, answered
once per update, python-telegram-bot talking to a fake Bot API over real HTTP."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_telegram import TOKEN, message_update
from metrics import summed
from servers import running

from bot.config import Settings
from bot.service.app import create_app
from bot.service.webhooks import ANSWER_NICENESS
from prompts import template

SECRET = "webhook-secret-for-tests"
ADMIN = "admin-token-for-tests"


@pytest.fixture(scope="module")
def service(engine, settings: Settings, telegram_api) -> Iterator[str]:
    url, _ = telegram_api
    configured = settings.model_copy(
        update={
            "telegram_bot_token": TOKEN,
            "telegram_webhook_secret": SECRET,
            "telegram_api_base_url": f"{url}/bot",
            "admin_token": ADMIN,
        }
    )
    with running(create_app(configured)) as base:
        yield base


def sent_texts(calls: list) -> list[str]:
    return [c["params"].get("text", "") for c in calls if c["method"] == "sendMessage"]


def wait_for(predicate, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_missing_or_forged_secret_is_refused(service: str, telegram_api) -> None:
    _, calls = telegram_api
    before = len(sent_texts(calls))
    update = message_update(900, "phường Thanh Xuân Bắc giờ là phường gì")
    assert httpx.post(f"{service}/webhooks/telegram", json=update).status_code == 403
    forged = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
    assert httpx.post(f"{service}/webhooks/telegram", json=update, headers=forged).status_code == 403
    time.sleep(0.3)
    assert len(sent_texts(calls)) == before


def test_an_update_is_answered_once_even_when_delivered_twice(service: str, telegram_api) -> None:
    _, calls = telegram_api
    before = len(sent_texts(calls))
    update = message_update(901, "phuong thanh xuan bac gio la phuong gi")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(2):
        response = httpx.post(f"{service}/webhooks/telegram", json=update, headers=headers, timeout=60)
        assert response.status_code == 200
    wait_for(lambda: len(sent_texts(calls)) > before)
    time.sleep(0.5)
    answers = sent_texts(calls)[before:]
    assert len(answers) == 1
    assert "Thanh Liệt" in answers[0] and "1656/NQ-UBTVQH15" in answers[0]


def post_update(service: str, update_id: int, text: str) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    update = message_update(update_id, text)
    assert httpx.post(f"{service}/webhooks/telegram", json=update, headers=headers).status_code == 200


def test_telegram_flood_control_and_server_errors_are_retried_with_backoff(
    service: str, telegram_app
) -> None:
    calls = telegram_app.state.calls
    before = len(calls)
    telegram_app.state.faults[:] = [429, 500, 502]  # the answer goes through on the 4th try
    started = time.monotonic()
    post_update(service, 910, "xã Tri Phương giờ thuộc xã nào")
    wait_for(lambda: any(c["ok"] and c["method"] == "sendMessage" for c in calls[before:]), 30)
    sends = [c for c in calls[before:] if c["method"] == "sendMessage"]
    assert [c["ok"] for c in sends] == [False, False, False, True]
    assert len({c["params"]["text"] for c in sends}) == 1  # the same answer, retried
    assert time.monotonic() - started >= 1 + 0.5 + 1.0  # retry_after 1 s, then 0.5 s, 1 s backoff


def test_telegram_down_for_longer_than_the_retries_gets_an_apology_later(
    service: str, telegram_app
) -> None:
    calls = telegram_app.state.calls
    before = len(calls)
    telegram_app.state.faults[:] = [503] * 4  # every try of the answer fails ...
    post_update(service, 911, "xã Tri Phương giờ thuộc xã nào")
    wait_for(lambda: any(c["ok"] and c["method"] == "sendMessage" for c in calls[before:]), 30)
    sends = [c for c in calls[before:] if c["method"] == "sendMessage"]
    assert [c["ok"] for c in sends] == [False] * 4 + [True]  # ... then the apology goes out
    assert sends[-1]["params"]["text"] == template("chat.apology")
    assert httpx.get(f"{service}/healthz").json()["status"] == "ok"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        rb'{"update_id": 5, "message": "xin ch\u00e0o"}',  # found by fuzzing: a 500 once
        b'{"update_id": 6, "message": {"message_id": 1, "date": -99999999999, "chat": {}}}',
        b'{"update_id": 1e400}',
    ],
)
def test_malformed_update_is_a_clear_400(service: str, body: bytes) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    response = httpx.post(f"{service}/webhooks/telegram", content=body, headers=headers)
    assert response.status_code == 400


def test_feedback_from_the_web_chat_is_linked_to_the_logged_answer(service: str) -> None:
    asked = httpx.post(f"{service}/api/ask", json={"question": "Ai ký Kế hoạch 47?"}, timeout=60)
    answer_id = asked.json()["answer_id"]
    assert len(answer_id) == 16
    response = httpx.post(f"{service}/api/feedback", json={"answer_id": answer_id, "helpful": False})
    assert response.status_code == 204
    stats = httpx.get(f"{service}/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert [q["example"] for q in stats["top_unhelpful"]] == ["Ai ký Kế hoạch 47?"]


def test_questions_are_logged_for_statistics_behind_the_admin_token(service: str) -> None:
    httpx.post(f"{service}/api/ask", json={"question": "xã Tri Phương giờ thuộc xã nào"}, timeout=60)
    assert httpx.get(f"{service}/api/stats").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{service}/api/stats", headers=wrong).status_code == 401
    ok = httpx.get(f"{service}/api/stats", headers={"Authorization": f"Bearer {ADMIN}"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["total"] >= 1
    assert any("tri phuong" in q["folded"] for q in body["top_questions"])


def test_metrics_are_exposed_for_prometheus(service: str) -> None:
    httpx.post(f"{service}/api/ask", json={"question": "giá vàng hôm nay"}, timeout=60)
    text = httpx.get(f"{service}/metrics").text
    assert "sapxep_questions_total" in text and "sapxep_answer_seconds_bucket" in text


def test_answers_run_below_the_priority_of_the_event_loop(service: str) -> None:
    response = httpx.post(f"{service}/api/ask", json={"question": "xã Tri Phương giờ là xã nào"}, timeout=60)
    assert response.status_code == 200
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    answering = [t for t in threading.enumerate() if t.name.startswith("sapxep-answer")]
    assert answering
    for thread in answering:
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) >= min(loop_priority + ANSWER_NICENESS, 19)


def test_the_event_loop_lag_is_sampled(service: str) -> None:
    def samples_taken() -> float:
        text = httpx.get(f"{service}/metrics").text
        return sum(summed([text], "sapxep_event_loop_lag_seconds_count", by="").values())

    before = samples_taken()
    wait_for(lambda: samples_taken() >= before + 2, seconds=5)


def test_every_webhook_acknowledgement_is_timed_per_channel(service: str) -> None:
    def timed() -> dict[str, float]:
        text = httpx.get(f"{service}/metrics").text
        return summed([text], "sapxep_webhook_ack_seconds_count", by="channel")

    before = timed()
    post_update(service, 903, "xã Tri Phương giờ thuộc xã nào")
    assert httpx.post(f"{service}/webhooks/telegram", json={}).status_code == 403
    assert httpx.post(f"{service}/webhooks/khac", json={}).status_code == 404
    after = timed()
    assert after["telegram"] - before.get("telegram", 0) == 2  # refusals are acknowledgements too
    assert "khac" not in after, "only the channels' own paths are timed"


def test_a_conversation_over_the_rate_limit_gets_a_polite_message(engine, tmp_path) -> None:
    from bot.answer.responder import Responder
    from bot.channels.logged import LoggedResponder
    from bot.state import State
    from bot.state.questionlog import QuestionLog
    from bot.state.sqlite import StateStore

    store = StateStore(tmp_path / "state.sqlite3", salt="test")
    log = QuestionLog(f"sqlite:///{tmp_path / 'questions.sqlite3'}")
    limited = LoggedResponder(Responder(engine), State(store, store, log), limit=2, window_s=60)
    answers = [limited.ask("xã Tri Phương giờ thuộc xã nào", "tg:42") for _ in range(3)]
    assert [a.refused for a in answers] == [False, False, True]
    assert "đợi" in answers[2].answer
    other = limited.ask("xã Tri Phương giờ thuộc xã nào", "tg:43")
    assert not other.refused


def test_a_follow_up_reaches_another_worker_through_the_shared_store(engine, tmp_path) -> None:
    from bot.answer.responder import Responder
    from bot.channels.logged import StoredConversations
    from bot.state.sqlite import StateStore

    path = tmp_path / "shared.sqlite3"
    first = Responder(engine, conversations=StoredConversations(StateStore(path, salt="t")))
    second = Responder(engine, conversations=StoredConversations(StateStore(path, salt="t")))
    first.ask("xã Tri Phương sáp nhập với xã nào", conversation="zalo:7")
    follow = second.ask("còn ở Cao Bằng thì sao?", conversation="zalo:7")
    assert "Quang Trung" in follow.answer and "Lạng Sơn" not in follow.answer
