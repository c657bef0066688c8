"""The Telegram channel over real HTTP: python-telegram-bot talks to tests/fake_telegram.py.

The responder is replaced by small fake Askers (the seam); formatting is tested on its own.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fake_telegram import (
    CHAT,
    TOKEN,
    USER,
    callback_update,
    create_app,
    message_update,
    parse_html,
)
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import running

from bot.answer.models import Answer, Citation
from bot.channels.formatting import (
    escape,
    plain_text,
    split_message,
    telegram_html,
    telegram_messages,
)
from bot.channels.telegram import (
    APOLOGY,
    MODE_COMMANDS,
    NO_DOCUMENTS,
    THANKS,
    WELCOME,
    ModeCommand,
    build_application,
    handle_webhook_update,
)

RESOLUTION = "Nghị quyết về việc sắp xếp các ĐVHC cấp xã của thành phố Hà Nội"


def citation(n: int, title: str = RESOLUTION, section: str = "Điều 1, khoản 22") -> Citation:
    return Citation(
        n=n,
        doc=f"doc{n}.md",
        title=title,
        number=f"{1650 + n}/NQ-UBTVQH15",
        date="2025-06-16",
        issuer="Ủy ban Thường vụ Quốc hội",
        section=section,
        text="Sắp xếp toàn bộ diện tích tự nhiên, quy mô dân số của các phường …",
        score=0.9 - n / 10,
    )


SPECIAL = Answer(
    question="phường Thanh Xuân Bắc giờ là phường gì?",
    answer=(
        "Phường Thanh Xuân Bắc (Hà Nội) được sắp xếp vào phường Thanh Xuân [1]. "
        "Quy mô dân số > 50.000 người & diện tích < 10 km² <script>alert(1)</script> [2]."
    ),
    mode="unit_lookup",
    citations=[
        citation(1),
        citation(2, title="Kế hoạch <tuyên truyền> & triển khai", section="Mục II, 1 a)"),
        citation(3),
    ],
)
SENTENCE = "Câu {i}: xã Tri Phương & phường <Thanh Xuân> được sắp xếp vào đơn vị mới [1]. "
LONG = Answer(
    question="kế hoạch tuyên truyền gồm những gì?",
    answer="".join(SENTENCE.format(i=i) for i in range(120)).strip(),
    mode="talking_points",
    citations=[citation(1)],
)


@dataclass
class FixedAsker:
    """Answers every question with one Answer; records what it was asked."""

    answer: Answer
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def ask(self, question: str, conversation: str | None = None, message: str | None = None) -> Answer:
        self.asked.append((question, conversation))
        return self.answer.model_copy(update={"question": question})


class FailingAsker:
    def ask(self, question: str, conversation: str | None = None, message: str | None = None) -> Answer:
        raise RuntimeError("chỉ mục bị hỏng")


@dataclass
class Telegram:
    url: str
    app: FastAPI

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [c["params"] for c in self.app.state.calls if c["method"] == method]


@pytest.fixture(scope="module")
def server() -> Iterator[Telegram]:
    app = create_app()
    with running(app) as url:
        yield Telegram(url, app)


@pytest.fixture
def telegram(server: Telegram) -> Telegram:
    server.app.state.calls.clear()
    server.app.state.updates.clear()
    return server


def deliver(telegram: Telegram, asker: Any, *updates: dict[str, Any], **options: Any) -> None:
    """Build the bot against the fake server and hand it `updates` as the webhook would."""

    async def scenario() -> None:
        app = build_application(TOKEN, asker, base_url=f"{telegram.url}/bot", **options)
        async with app:
            for update in updates:
                await handle_webhook_update(app, update)

    asyncio.run(scenario())


def texts(telegram: Telegram) -> list[str]:
    return [m["text"] for m in telegram.calls("sendMessage")]


# --- the bot --------------------------------------------------------------------------------


def test_start_help_and_unknown_commands_welcome(telegram: Telegram) -> None:
    updates = [message_update(n, text) for n, text in enumerate(["/start", "/help", "/abc"], 1)]
    deliver(telegram, FixedAsker(SPECIAL), *updates)
    assert texts(telegram) == [WELCOME] * 3
    assert telegram.calls("getMe"), "initialize() asks getMe"
    for command in ("/diachi", "/nhiemvu", "/luandiem", "/nguon"):
        assert command in WELCOME


def test_plain_text_answer_is_escaped_html_with_feedback_buttons(telegram: Telegram) -> None:
    asker = FixedAsker(SPECIAL)
    deliver(telegram, asker, message_update(3, "phường Thanh Xuân Bắc giờ là phường gì?"))
    assert asker.asked == [("phường Thanh Xuân Bắc giờ là phường gì?", "tg:42")]
    assert telegram.calls("sendChatAction") == [{"chat_id": "42", "action": "typing"}]
    [sent] = telegram.calls("sendMessage")
    assert sent["parse_mode"] == "HTML" and sent["chat_id"] == "42"
    text = sent["text"]
    assert "&gt; 50.000 người &amp; diện tích &lt; 10 km²" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "[1]" in text and "[2]" in text
    assert "<b>Kế hoạch &lt;tuyên truyền&gt; &amp; triển khai</b> — 1652/NQ-UBTVQH15" in text
    assert "[3]" not in text, "only the cited sources are listed"
    buttons = sent["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍", "👎"]
    assert buttons[0]["callback_data"][:5] == "fb:1:" and buttons[1]["callback_data"][:5] == "fb:0:"
    assert buttons[0]["callback_data"][5:] == buttons[1]["callback_data"][5:]


def test_long_answer_is_split_at_sentences_under_the_limit(telegram: Telegram) -> None:
    assert len(LONG.answer) > 9000
    deliver(telegram, FixedAsker(LONG), message_update(4, "kế hoạch tuyên truyền gồm những gì?"))
    sent = telegram.calls("sendMessage")  # the fake also refuses any text over 4096 (400)
    assert len(sent) >= 3
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert all("reply_markup" not in m for m in sent[:-1]) and "reply_markup" in sent[-1]
    body, _, sources = sent[-1]["text"].partition("\n\nNguồn:\n")
    assert sources.startswith("[1] <b>")
    pieces = [html.unescape(m["text"]) for m in sent[:-1]] + [html.unescape(body)]
    assert all(p.endswith("[1].") for p in pieces), "cut only at sentence ends"
    assert " ".join(pieces).split() == LONG.answer.split()


@pytest.mark.parametrize("command", MODE_COMMANDS, ids=lambda c: c.name)
def test_command_without_argument_gives_usage(telegram: Telegram, command: ModeCommand) -> None:
    asker = FixedAsker(SPECIAL)
    deliver(telegram, asker, message_update(5, f"/{command.name}"))
    assert texts(telegram) == [command.usage]
    assert asker.asked == []


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("/diachi Thanh Xuân Bắc", "Thanh Xuân Bắc sau sắp xếp thuộc đơn vị nào"),
        ("/nhiemvu Phòng Nội vụ", "Phòng Nội vụ có nhiệm vụ gì"),
        ("/luandiem chính quyền 2 cấp", "luận điểm tuyên truyền về chính quyền 2 cấp"),
        ("/diachi@sapxep_test_bot xã Tri Phương", "xã Tri Phương sau sắp xếp thuộc đơn vị nào"),
    ],
)
def test_mode_commands_compose_the_question(telegram: Telegram, text: str, question: str) -> None:
    asker = FixedAsker(SPECIAL)
    deliver(telegram, asker, message_update(6, text))
    assert asker.asked == [(question, "tg:42")]
    [sent] = telegram.calls("sendMessage")
    assert sent["parse_mode"] == "HTML"


def test_feedback_button_round_trip(telegram: Telegram) -> None:
    feedback: list[tuple[str, int, bool]] = []

    def hook(answer: str, user: int, helpful: bool) -> None:
        feedback.append((answer, user, helpful))

    deliver(telegram, FixedAsker(SPECIAL), message_update(7, "xã Tri Phương?"), on_feedback=hook)
    up, down = telegram.calls("sendMessage")[-1]["reply_markup"]["inline_keyboard"][0]
    answer = up["callback_data"].removeprefix("fb:1:")
    deliver(
        telegram,
        FixedAsker(SPECIAL),
        callback_update(8, up["callback_data"]),
        callback_update(9, down["callback_data"]),
        on_feedback=hook,
    )
    assert telegram.calls("answerCallbackQuery") == [
        {"callback_query_id": "cb8", "text": THANKS},
        {"callback_query_id": "cb9", "text": THANKS},
    ]
    assert feedback == [(answer, USER["id"], True), (answer, USER["id"], False)]


def test_nguon_lists_the_documents(telegram: Telegram) -> None:
    names = ["1656/NQ-UBTVQH15 — Nghị quyết sắp xếp ĐVHC cấp xã Hà Nội", "Kế hoạch 20-KH/ĐU"]
    deliver(telegram, FixedAsker(SPECIAL), message_update(10, "/nguon"), documents=lambda: names)
    deliver(telegram, FixedAsker(SPECIAL), message_update(11, "/nguon"))
    listing, empty = texts(telegram)
    assert all(f"• {name}" in listing for name in names)
    assert empty == NO_DOCUMENTS


def test_failing_asker_gets_an_apology_and_the_bot_goes_on(
    telegram: Telegram, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.channels.telegram"):
        deliver(
            telegram,
            FailingAsker(),
            message_update(12, "xã Tri Phương?"),
            message_update(13, "/start"),
        )
    assert texts(telegram) == [APOLOGY, WELCOME]
    assert telegram.calls("sendMessage")[0]["chat_id"] == str(CHAT["id"])
    assert any("chỉ mục bị hỏng" in r.exc_text for r in caplog.records if r.exc_text)


def test_long_polling_processes_a_queued_update_and_stops(telegram: Telegram) -> None:
    telegram.app.state.updates.append(message_update(14, "/start"))

    async def scenario() -> None:
        app = build_application(TOKEN, FixedAsker(SPECIAL), base_url=f"{telegram.url}/bot")
        async with app:
            await app.updater.start_polling(timeout=1)
            await app.start()
            deadline = time.monotonic() + 10
            while not telegram.calls("sendMessage") and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await app.updater.stop()
            await app.stop()

    asyncio.run(scenario())
    assert telegram.calls("deleteWebhook"), "polling starts by removing any webhook"
    assert texts(telegram) == [WELCOME]
    assert any(p.get("offset") == "15" for p in telegram.calls("getUpdates")), "update confirmed"
    assert telegram.app.state.updates == []


# --- formatting -----------------------------------------------------------------------------

WORDS = (
    "xã phường Thanh Xuân Bắc sắp xếp đơn vị hành chính tỉnh Hà Nội nghị quyết ủy ban nhân dân "
    "huyện Tri Phương Đông Anh thực hiện năm 2025 chính quyền địa phương hai cấp Phòng Nội vụ "
    "nhiệm vụ tuyên truyền & <b> người"
).split()
sentences = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=14),
    st.sampled_from(".?!;"),
)
separators = st.sampled_from([" ", " ", "\n", "\n\n"])
messages_text = st.lists(st.tuples(sentences, separators), min_size=1).map(
    lambda parts: "".join(s + sep for s, sep in parts)
)


@settings(max_examples=150, deadline=None)
@given(text=messages_text, limit=st.integers(min_value=10, max_value=400))
def test_split_message_keeps_every_word_in_order(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    assert all(0 < len(p) <= limit and p == p.strip() for p in pieces)
    assert " ".join(pieces).split() == text.split()


@settings(max_examples=150, deadline=None)
@given(text=messages_text, limit=st.integers(min_value=100, max_value=400))
def test_split_message_cuts_at_sentence_ends_when_sentences_fit(text: str, limit: int) -> None:
    """Sentences have at most 14 × 9 characters here, so every piece ends a sentence."""
    assert all(p[-1] in ".?!;" for p in split_message(text, limit))


@settings(max_examples=100, deadline=None)
@given(text=messages_text, limit=st.integers(min_value=20, max_value=400))
def test_split_message_by_escaped_length(text: str, limit: int) -> None:
    pieces = split_message(text, limit, length=lambda s: len(escape(s)))
    assert all(len(escape(p)) <= limit for p in pieces)
    assert all(parse_html(escape(p)) == p for p in pieces)


def test_split_message_prefers_paragraphs_then_lines() -> None:
    text = "Đoạn một. Câu hai.\n\nĐoạn hai dòng một.\nDòng hai. Câu cuối."
    first, second, third = "Đoạn một. Câu hai.", "Đoạn hai dòng một.", "Dòng hai. Câu cuối."
    assert split_message(text, 30) == [first, second, third]
    assert split_message(text, 45) == [first, f"{second}\n{third}"]
    assert split_message("Một câu; câu khác? Hết!", 12) == ["Một câu;", "câu khác?", "Hết!"]


def test_split_message_cuts_inside_a_word_only_when_it_is_too_long() -> None:
    word = "a" * 25
    assert split_message(f"ngắn {word} cuối", 10) == ["ngắn", word[:10], word[10:20], "aaaaa cuối"]
    assert split_message(" \n\n ", 10) == []
    with pytest.raises(ValueError):
        split_message("xã", 0)


def test_telegram_html_lists_only_cited_sources() -> None:
    rendered = telegram_html(SPECIAL)
    body, sources = rendered.split("\n\nNguồn:\n")
    assert body == escape(SPECIAL.answer)
    assert sources.splitlines() == [
        f"[1] <b>{RESOLUTION}</b>"
        " — 1651/NQ-UBTVQH15, 16/06/2025 — Điều 1, khoản 22",
        "[2] <b>Kế hoạch &lt;tuyên truyền&gt; &amp; triển khai</b>"
        " — 1652/NQ-UBTVQH15, 16/06/2025 — Mục II, 1 a)",
    ]
    parse_html(rendered)  # Telegram would accept it


def test_sources_without_markers_refused_and_grouped_markers() -> None:
    many = [citation(n) for n in range(1, 6)]
    unmarked = Answer(question="q", answer="Không có dấu trích dẫn.", citations=many)
    assert [line[:3] for line in telegram_html(unmarked).split("Nguồn:\n")[1].splitlines()] == [
        "[1]", "[2]", "[3]",
    ]
    grouped = Answer(question="q", answer="Hai nguồn cùng nói [2, 4].", citations=many)
    assert "\n[2] <b>" in telegram_html(grouped) and "\n[4] <b>" in telegram_html(grouped)
    assert "\n[1] <b>" not in telegram_html(grouped)
    refusal = "Xin lỗi, tôi trả lời <câu hỏi> về sắp xếp."
    refused = Answer(question="q", answer=refusal, refused=True, citations=many)
    assert telegram_html(refused) == "Xin lỗi, tôi trả lời &lt;câu hỏi&gt; về sắp xếp."
    assert plain_text(refused) == refused.answer


def test_plain_text_is_unescaped_with_a_short_source_list() -> None:
    text = plain_text(SPECIAL)
    assert text.startswith(SPECIAL.answer) and "&lt;" not in text and "<b>" not in text
    assert "\n\nNguồn:\n- [1] Nghị quyết" in text
    assert "- [2] Kế hoạch <tuyên truyền> & triển khai — 1652/NQ-UBTVQH15, 16/06/2025" in text
    assert "- [2]" not in plain_text(SPECIAL, limit_sources=1)


def test_telegram_messages_never_cut_entities_or_tags() -> None:
    assert telegram_messages(SPECIAL) == [telegram_html(SPECIAL)]
    crowded = Answer(
        question="q", answer=" ".join(["a&b <c>"] * 40) + " [1] [2].", citations=SPECIAL.citations
    )
    pieces = telegram_messages(crowded, limit=200)
    assert all(len(p) <= 200 for p in pieces)
    for piece in pieces:
        parse_html(piece)  # raises on a cut entity or an unclosed tag
    # the sources fit beside no piece, nor in one message: they are cut between lines
    assert pieces[-2].startswith("Nguồn:\n[1] <b>") and pieces[-1].startswith("[2] <b>")
