"""Bad input over real HTTP, against the real app on the real index (Telegram and Zalo pointed at
their fakes): schemathesis over the OpenAPI schema, hypothesis-made Vietnamese and hostile
Unicode through /api/ask and both webhooks, and the polite replies to oversized or empty
questions. Never a 5xx; from /api/ask, 200 or a 4xx with a Vietnamese detail; the service stays
healthy.

Run with `-s` to see the number of inputs per target, the worst latency and the memory growth.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
import shutil
import time
import tracemalloc
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import fixture_questions
from fake_telegram import TOKEN, message_update
from fake_zalo import APP_ID, APP_SECRET, MESSAGE_PATH, OA_SECRET_KEY, FakeZalo, sign, text_event
from fake_zalo import create_app as fake_zalo_app
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from servers import running

from bot.answer.models import Answer
from bot.answer.responder import MAX_QUESTION_CHARS
from bot.channels.telegram import APOLOGY
from bot.config import Settings
from bot.service.app import QUESTION_CAP, create_app
from ingest.text import ABBREVIATIONS, CAPITAL_ABBREVIATIONS, fold, has_diacritics, normalize
from prompts import template

SECRET = "fuzz-webhook-secret"
ADMIN = "fuzz-admin-token"
ANSWER_BOUND_S = 5.0  # the task's bound on one answer, generous on a shared 2-core machine
MEMORY_BOUND = 8 * 2**20  # traced growth over the repeated hostile rounds, in bytes
FUZZ = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WEBHOOK_FUZZ = hypothesis_settings(FUZZ, max_examples=40)
# a path parameter that is any string has no invalid value: negative generation filters it all
SCHEMA_FUZZ = hypothesis_settings(
    FUZZ,
    max_examples=15,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.filter_too_much],
)

# --- the service -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zalo() -> Iterator[tuple[str, FakeZalo]]:
    fake = FakeZalo()
    with running(fake_zalo_app(fake)) as url:
        yield url, fake


@pytest.fixture(scope="module")
def service(
    engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory, telegram_api, zalo
) -> Iterator[str]:
    """The real app with both channels, on a copy of the session index: its own state store,
    so its Zalo tokens and logs are this module's."""
    data = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(settings.index_dir, data / "index", ignore=shutil.ignore_patterns(".lock"))
    configured = settings.model_copy(
        update={
            "data_dir": data,
            "admin_token": ADMIN,
            "telegram_bot_token": TOKEN,
            "telegram_webhook_secret": SECRET,
            "telegram_api_base_url": f"{telegram_api[0]}/bot",
            "zalo_app_id": APP_ID,
            "zalo_app_secret": APP_SECRET,
            "zalo_oa_secret_key": OA_SECRET_KEY,
            "zalo_access_token": zalo[1].access_token,
            "zalo_refresh_token": zalo[1].refresh_token,
            "zalo_api_base_url": zalo[0],
            "zalo_oauth_base_url": zalo[0],
        }
    )
    with running(create_app(configured)) as base:
        yield base


@pytest.fixture(scope="module")
def client(service: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def tally() -> Iterator[dict[str, list[float]]]:
    """Latency (s) of every request per target, printed at the end of the module."""
    seen: dict[str, list[float]] = defaultdict(list)
    yield seen
    for target, times in sorted(seen.items()):
        print(f"\n{target}: {len(times)} inputs, max latency {max(times):.3f} s")


def timed(
    tally: dict[str, list[float]], target: str, call: Callable[[], httpx.Response]
) -> httpx.Response:
    """One request, its latency recorded and held to the bound."""
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    tally[target].append(elapsed)
    assert elapsed < ANSWER_BOUND_S, f"{target} took {elapsed:.1f} s"
    return response


def ask(client: httpx.Client, tally, target: str, question: str) -> httpx.Response:
    return timed(tally, target, lambda: client.post("/api/ask", json={"question": question}))


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text


def assert_clean(response: httpx.Response) -> None:
    """200, or a 4xx whose detail a Vietnamese reader understands; never a 5xx or a traceback."""
    assert_no_server_error(response)
    if response.status_code >= 400:
        detail = response.json()["detail"]
        messages = [detail] if isinstance(detail, str) else [d["msg"] for d in detail]
        assert all(has_diacritics(m) for m in messages), messages


def assert_healthy(client: httpx.Client) -> None:
    """/healthz answers and a plain question still gets its cited answer."""
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["index"] is True
    answer = client.post("/api/ask", json={"question": "xã Tri Phương sáp nhập với xã nào"}).json()
    assert not answer["refused"] and answer["citations"]


# --- strategies --------------------------------------------------------------------------------

ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u2060"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u200e\u200f\u2066\u2067\u2068\u2069"
RTL_TEXT = ["مرحبا، ما هو اسم الحي الجديد؟", "שלום, איפה המשרד?", "\u202eỦy ban nhân dân\u202c"]
EMOJI = ["😀", "🇻🇳", "👨\u200d👩\u200d👧", "🙏🏽", "❤️", "🏛️", "\U0001faaa"]
WHITESPACE = " \t\n\r\u00a0\u2028\u2029\u3000\u0085\u000b\u000c"
TYPED_ABBREVIATIONS = sorted(
    {*ABBREVIATIONS, *CAPITAL_ABBREVIATIONS, "ĐVHC", "UBND", "HĐND", "TP.HCM"}
)


@pytest.fixture(scope="module")
def vocabulary(corpus: Path) -> list[str]:
    """The distinct words of the real corpus, in a stable order."""
    words = {
        w for path in sorted(corpus.rglob("*")) if path.is_file()
        for w in re.findall(r"[^\W\d_]+", path.read_text(encoding="utf-8"))
    }  # fmt: skip
    return sorted(words)


def spellings(word: str) -> st.SearchStrategy[str]:
    """A corpus word as residents type it: as is, without diacritics, NFD, in capitals."""
    return st.sampled_from(
        [word, fold(word), unicodedata.normalize("NFD", word), word.upper(), fold(word).upper()]
    )


def pieces(vocabulary: list[str]) -> st.SearchStrategy[str]:
    """One fragment of a hostile question."""
    control = st.characters(categories=["Cc"])  # C0 (NUL included) and C1
    combining = st.characters(categories=["Mn", "Me"])
    return st.one_of(
        st.sampled_from(vocabulary).flatmap(spellings),
        st.sampled_from(TYPED_ABBREVIATIONS),
        st.sampled_from(EMOJI),
        st.sampled_from(RTL_TEXT),
        st.text(alphabet=ZERO_WIDTH + BIDI, min_size=1, max_size=8),
        st.text(alphabet=control, min_size=1, max_size=8),
        st.tuples(st.sampled_from("aeoAĐươ"), st.text(alphabet=combining, min_size=1, max_size=300))
        .map("".join),
        st.text(alphabet=WHITESPACE, min_size=1, max_size=20),
        st.text(max_size=30),
    )


def questions(vocabulary: list[str]) -> st.SearchStrategy[str]:
    """Mixed fragments, sometimes repeated up to about 100,000 characters, plus the empty."""
    mixed = st.lists(pieces(vocabulary), max_size=12).map(" ".join)
    long = st.tuples(mixed.filter(bool), st.integers(MAX_QUESTION_CHARS - 50, 100_000)).map(
        lambda pair: (pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]]
    )
    return st.one_of(mixed, long, st.just(""), st.text(alphabet=WHITESPACE, max_size=50))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 2**31, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, its object keys mostly the field names of the real payloads."""
    names = st.one_of(st.sampled_from(keys), st.text(max_size=10))
    return st.recursive(
        json_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=5)
        ),
        max_leaves=12,
    )


def mangled(data: st.DataObject, payload: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """A copy of `payload` with some fields, at any depth, dropped or given a random JSON value."""
    payload = json.loads(json.dumps(payload))  # its nested dicts may be the fakes' constants
    value = json_values(keys)
    for path in data.draw(st.lists(st.sampled_from(list(_paths(payload))), max_size=4)):
        *parents, last = path
        node = payload
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            if data.draw(st.booleans()):
                del node[last]
            else:
                node[last] = data.draw(value)
    return payload


def _paths(payload: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in payload.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


TELEGRAM_FIELDS = [
    "update_id", "message", "edited_message", "channel_post", "callback_query", "message_id",
    "date", "chat", "from", "id", "type", "text", "entities", "offset", "length", "data",
    "reply_to_message", "is_bot", "first_name", "chat_instance",
]  # fmt: skip
ZALO_FIELDS = [
    "app_id", "event_name", "timestamp", "sender", "recipient", "message", "msg_id", "text",
    "id", "user_id_by_app", "attachments",
]  # fmt: skip

# --- 1. schemathesis over the OpenAPI schema ----------------------------------------------------


OPERATIONS = {
    "POST /api/ask", "POST /api/feedback", "GET /api/stats", "GET /api/documents", "GET /healthz",
    "POST /webhooks/telegram", "POST /webhooks/zalo",
}  # fmt: skip


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_every_operation_conforms_to_its_schema(service: str, tally, mode: GenerationMode) -> None:
    """Every operation of the served schema, with data that fits it (positive) and data that
    does not (negative): no 5xx, answers as declared; the admin statistics both as generated
    (without the token) and with it. (Schemathesis' own pytest loader, `from_fixture`, does not
    run under pytest 9, hence its strategies under `given` here.)"""
    schema = schemathesis.openapi.from_url(f"{service}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert OPERATIONS <= {op.label for op in operations}
    failures = {}
    for operation in operations:

        @SCHEMA_FUZZ
        @given(case=operation.as_strategy(mode))
        def conforms(case: schemathesis.Case) -> None:
            conforming(tally, case, mode)
            if case.path == "/api/stats":
                conforming(tally, case, mode, headers={"Authorization": f"Bearer {ADMIN}"})

        try:
            conforms()
        except Unsatisfiable:
            # no input can break it (it has none, or only a string in its path)
            assert mode is GenerationMode.NEGATIVE
        except Exception as exc:  # every operation is tried; all their failures are reported
            failures[operation.label] = exc
    assert not failures, "\n\n".join(f"{label}: {exc}" for label, exc in failures.items())


def authenticated(case: schemathesis.Case) -> dict[str, Any]:
    """What the platform adds to a generated webhook call: Telegram's secret header, or Zalo's
    signature over the exact bytes sent."""
    if case.path == "/webhooks/telegram":
        return {"headers": {"X-Telegram-Bot-Api-Secret-Token": SECRET}}
    if not isinstance(case.body, dict):  # no body, or not JSON: nothing for Zalo to sign
        return {}
    raw = json.dumps(case.body).encode()
    timestamp = str(case.body.get("timestamp", "")) if isinstance(case.body, dict) else ""
    headers = {"X-ZEvent-Signature": sign(raw, timestamp), "Content-Type": "application/json"}
    return {"headers": headers, "data": raw}


def conforming(tally, case: schemathesis.Case, mode: GenerationMode, **kwargs: Any) -> None:
    """Call and validate one case, with allowances the schema does not express: webhooks are
    called as generated (wrong secret or signature) and as the platform would, authenticated;
    a body that is not JSON at all gets FastAPI's 400; an admin operation called without the
    admin token answers 401 (in Vietnamese). Neither status is in the schema."""
    platform = authenticated(case) if case.path.startswith("/webhooks/") and not kwargs else {}
    if platform:
        conforming(tally, case, mode, **platform)
    label = f"schemathesis {case.operation.label}" + (" (authenticated)" if kwargs else "")
    response = timed(tally, label, lambda: case.call(**kwargs))
    if case.path.startswith("/webhooks/") and mode is GenerationMode.NEGATIVE:
        # a platform's event of a kind we do not answer is acknowledged (200), or it would be
        # sent again and again: only "no 5xx" holds here
        case.validate_response(response, checks=[not_a_server_error], headers=kwargs.get("headers"))
        return
    unparsable = mode is GenerationMode.NEGATIVE and response.status_code == 400
    unauthorised = response.status_code == 401 and not kwargs
    if unauthorised:
        assert has_diacritics(response.json()["detail"])
    excluded = [status_code_conformance] if unparsable or unauthorised else []
    case.validate_response(response, excluded_checks=excluded, headers=kwargs.get("headers"))


@pytest.mark.parametrize("days", [str(10**400), str(-(10**400)), "0", "3651"])
def test_statistics_over_a_period_out_of_range_are_a_422(client, days: str) -> None:
    """Found while fuzzing: days=10**400 overflowed the time arithmetic (500)."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/api/stats", params={"days": days}, headers=admin).status_code == 422
    assert client.get("/api/stats", params={"days": "3650"}, headers=admin).status_code == 200


# --- 2. generated questions through /api/ask ----------------------------------------------------


@FUZZ
@given(data=st.data())
def test_generated_questions_get_an_answer_or_a_clean_4xx(client, vocabulary, tally, data) -> None:
    question = data.draw(questions(vocabulary), label="question")
    response = ask(client, tally, "/api/ask", question)
    assert_clean(response)
    if len(question) > QUESTION_CAP:
        assert response.status_code == 422
        return
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert answer.answer.strip() and "Traceback" not in answer.answer
    read = normalize(question)
    if len(read) > MAX_QUESTION_CHARS:
        assert answer.refused and "1.000 ký tự" in answer.answer and not answer.citations
    elif not any(c.isalnum() for c in read):
        assert answer.refused and answer.answer == template("refusal.empty")


def hostile_round(vocabulary: list[str]) -> list[str]:
    """One fixed question of each hostile kind, the same every round (so growth is a leak)."""
    words = vocabulary[:: max(1, len(vocabulary) // 12)][:12]
    sentence = " ".join(words)
    return [
        sentence,
        fold(sentence),
        unicodedata.normalize("NFD", sentence),
        "ĐVHC UBND HĐND xã Tri Phương sn vs xã nào ko?",
        " ".join(EMOJI) + " phường Thanh Xuân Bắc?",
        " ".join(RTL_TEXT) + " " + BIDI + " phường gì",
        ZERO_WIDTH.join("sắp xếp đơn vị hành chính"),
        "".join(chr(c) for c in range(32)) + "\x7f\x80\x9f xã nào",
        "a" + "\u0301\u0323\u0309" * 300 + " tỉnh",
        "",
        WHITESPACE * 10,
        "?!…;" * 20,
        sentence * (MAX_QUESTION_CHARS // len(sentence) + 1),
        "x" * (QUESTION_CAP - 1),
        "x" * 100_000,
    ]


def rss_bytes() -> int:
    fields = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()
    return int(fields[0]) * 1024


def test_memory_stays_bounded_over_repeated_hostile_questions(client, vocabulary, tally) -> None:
    """The server runs in this process: after a warm-up round, four more rounds of the same
    hostile questions must not keep memory (traced Python allocations) alive."""
    batch = hostile_round(vocabulary)

    def one_round() -> None:
        for question in batch:
            assert_clean(ask(client, tally, "/api/ask (memory)", question))

    one_round()
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    try:
        for _ in range(4):
            one_round()
        gc.collect()
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"\nmemory over {4 * len(batch)} hostile questions: traced +{grown / 2**20:.2f} MiB, "
        f"RSS {(rss_bytes() - rss_before) / 2**20:+.1f} MiB"
    )
    assert grown < MEMORY_BOUND


# --- 3. oversized and empty questions -----------------------------------------------------------


@pytest.mark.parametrize("length", [MAX_QUESTION_CHARS + 1, 4_000, QUESTION_CAP])
def test_an_oversized_question_gets_its_length_and_the_limit(client, length: int) -> None:
    question = ("phường Thanh Xuân Bắc giờ là phường gì? " * 600)[: length - 1] + "?"
    answer = client.post("/api/ask", json={"question": question}).json()
    assert answer["refused"] and not answer["citations"]
    assert template("refusal.too_long") in answer["answer"]
    assert f"{length:,}".replace(",", ".") + " ký tự" in answer["answer"]
    assert "1.000 ký tự" in answer["answer"]


def test_the_limit_counts_characters_after_normalisation(client) -> None:
    """NFD spells an accented letter with two or three code points; the limit counts letters."""
    question = "ủy ban nhân dân xã Tri Phương " * 33  # 990 characters once composed
    decomposed = unicodedata.normalize("NFD", question)
    assert len(decomposed) > MAX_QUESTION_CHARS >= len(normalize(question))
    answer = client.post("/api/ask", json={"question": decomposed}).json()
    assert template("refusal.too_long") not in answer["answer"]


def test_above_the_cap_the_api_says_so_in_vietnamese(client) -> None:
    response = client.post("/api/ask", json={"question": "x" * (QUESTION_CAP + 1)})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == template(
        "refusal.over_cap", cap="20.000", limit="1.000"
    )


@pytest.mark.parametrize("question", ["", "   \n\t ", "\u200b\ufeff", "???", "…!!! -- ?", "😀🙏🏽"])
def test_nothing_to_read_is_asked_again(client, question: str) -> None:
    answer = client.post("/api/ask", json={"question": question}).json()
    assert answer["answer"] == template("refusal.empty")
    assert answer["refused"] and not answer["citations"]


def test_the_longest_test_question_is_far_below_the_limit() -> None:
    longest = max(len(normalize(q)) for q in fixture_questions())
    assert longest * 5 < MAX_QUESTION_CHARS


# --- 2, continued: the webhooks -------------------------------------------------------------------

UPDATE_IDS = itertools.count(7_000_000)


def telegram_post(client: httpx.Client, tally, target: str, body: bytes) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    return timed(
        tally, target, lambda: client.post("/webhooks/telegram", content=body, headers=headers)
    )


def replies_to(calls: list[dict[str, Any]], chat_id: int) -> list[dict[str, Any]]:
    return [
        c
        for c in calls
        if c["method"] == "sendMessage" and str(c["params"].get("chat_id")) == str(chat_id)
    ]


@WEBHOOK_FUZZ
@given(data=st.data())
def test_telegram_messages_with_generated_text_are_answered(
    client, telegram_api, vocabulary, tally, data
) -> None:
    """Each chat its own (no rate limit in the way); a text gets a reply Telegram accepts,
    never the apology of a failed handler."""
    text = data.draw(questions(vocabulary), label="text")
    update_id = next(UPDATE_IDS)
    update = message_update(update_id, text, chat={"id": update_id, "type": "private"})
    started = time.perf_counter()
    response = telegram_post(client, tally, "telegram text", json.dumps(update).encode())
    assert response.status_code == 200, response.text[:500]
    if text:  # answered in the background, after the 200
        calls = telegram_api[1]
        await_reply(tally, "telegram reply", started, lambda: bool(replies_to(calls, update_id)))
        replies = replies_to(calls, update_id)
        assert all(r["ok"] and APOLOGY not in r["params"]["text"] for r in replies), replies


@WEBHOOK_FUZZ
@given(data=st.data())
def test_telegram_updates_of_any_shape_never_break_the_webhook(client, tally, data) -> None:
    update_id = next(UPDATE_IDS)
    update = message_update(update_id, data.draw(st.sampled_from(["xã Tri Phương", "/help", ""])))
    update = mangled(data, update, TELEGRAM_FIELDS)
    if "update_id" in update and data.draw(st.booleans()):
        update["update_id"] = data.draw(json_scalars, label="update_id")
    response = telegram_post(client, tally, "telegram shape", json.dumps(update).encode())
    assert_no_server_error(response)


def test_webhooks_leave_the_service_healthy(client) -> None:
    assert_healthy(client)


def zalo_post(
    client: httpx.Client, tally, target: str, event: Any, raw: bytes | None = None
) -> httpx.Response:
    """`event` (sent as `raw` if given) signed as Zalo signs: app id, raw body, the payload's
    timestamp, OA secret key."""
    raw = raw if raw is not None else json.dumps(event).encode()
    timestamp = event.get("timestamp", "") if isinstance(event, dict) else ""
    headers = {"X-ZEvent-Signature": sign(raw, str(timestamp)), "Content-Type": "application/json"}
    return timed(tally, target, lambda: client.post("/webhooks/zalo", content=raw, headers=headers))


def await_reply(
    tally: dict[str, list[float]], target: str, started: float, arrived: Callable[[], bool]
) -> None:
    """Wait for an answer sent in the background, within the answer bound; record its latency
    (from the webhook call to the reply reaching the platform)."""
    while not arrived():
        elapsed = time.perf_counter() - started
        assert elapsed < ANSWER_BOUND_S, f"{target}: no reply after {elapsed:.1f} s"
        time.sleep(0.02)
    tally[target].append(time.perf_counter() - started)


@WEBHOOK_FUZZ
@given(data=st.data())
def test_zalo_events_with_generated_text_are_answered(
    client, zalo, vocabulary, tally, data
) -> None:
    fake = zalo[1]
    text = data.draw(questions(vocabulary), label="text")
    sender = str(next(UPDATE_IDS))
    started = time.perf_counter()
    response = zalo_post(client, tally, "zalo text", text_event(f"m{sender}", text, sender=sender))
    assert response.status_code == 200, response.text[:500]
    if not text:
        return

    def replies() -> list[dict[str, Any]]:
        return [r for r in fake.calls(MESSAGE_PATH) if r["json"]["recipient"]["user_id"] == sender]

    await_reply(tally, "zalo reply", started, lambda: bool(replies()))
    assert all(r["accepted"] and r["json"]["message"]["text"] != APOLOGY for r in replies())


@WEBHOOK_FUZZ
@given(data=st.data())
def test_zalo_events_of_any_shape_never_break_the_webhook(client, tally, data) -> None:
    sender = str(next(UPDATE_IDS))
    text = data.draw(st.sampled_from(["xã Tri Phương", ""]))
    event = text_event(f"m{sender}", text, sender=sender)
    event = mangled(data, event, ZALO_FIELDS)
    if data.draw(st.booleans()):
        event["event_name"] = data.draw(st.one_of(st.just("user_send_text"), json_scalars))
    response = zalo_post(client, tally, "zalo shape", event)
    assert_no_server_error(response)


LONE_SURROGATE = b'"\\ud800 x\\udfff"'  # valid JSON escapes, but not text UTF-8 can carry


def test_a_lone_surrogate_in_a_question_is_answered(client, tally) -> None:
    """JSON may escape half a UTF-16 pair, which no UTF-8 encoder takes (it was a 500)."""
    body = b'{"question": ' + LONE_SURROGATE + b"}"
    headers = {"Content-Type": "application/json"}
    response = timed(
        tally, "/api/ask", lambda: client.post("/api/ask", content=body, headers=headers)
    )
    assert response.status_code == 200
    assert response.json()["question"] == "\ufffd x\ufffd"


def test_a_lone_surrogate_in_a_telegram_message_is_no_server_error(client, tally) -> None:
    update_id = next(UPDATE_IDS)
    update = json.dumps(message_update(update_id, "@")).encode().replace(b'"@"', LONE_SURROGATE)
    assert_no_server_error(telegram_post(client, tally, "telegram shape", update))


def test_a_lone_surrogate_in_a_zalo_message_is_no_server_error(client, tally) -> None:
    sender = str(next(UPDATE_IDS))
    event = text_event(f"m{sender}", "@", sender=sender)
    raw = json.dumps(event).encode().replace(b'"@"', LONE_SURROGATE)
    assert_no_server_error(zalo_post(client, tally, "zalo shape", event, raw))


@pytest.mark.parametrize("update_id", [b"1e400", b"-1e400"])
def test_an_update_id_beyond_a_double_is_a_clean_400(client, tally, update_id: bytes) -> None:
    """Valid JSON whose number Python reads as infinity, which no int can hold."""
    update = json.dumps(message_update(0, "xã Tri Phương")).encode().replace(b"0", update_id, 1)
    response = telegram_post(client, tally, "telegram shape", update)
    assert response.status_code == 400, response.text[:500]


def test_zalo_bodies_that_are_not_objects_are_a_clean_400(client, tally) -> None:
    for body in ([], [1, 2], "text", 12, None, True):
        response = zalo_post(client, tally, "zalo shape", body)
        assert response.status_code == 400


def test_after_all_webhooks_the_service_is_healthy(client) -> None:
    assert_healthy(client)
