"""Direct answers and honest declines on the real index: only the cited passages are
citations, a sentence several documents share is quoted once, recipients lines are never
quoted, and a matter the documents never mention is declined by name."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.answer.engine import Engine
from bot.answer.responder import Responder


@pytest.fixture(scope="module")
def responder(engine: Engine) -> Responder:
    return Responder(engine)


def cited_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_citations_are_what_the_answer_cites_and_the_rest_is_related(responder: Responder) -> None:
    answer = responder.ask("Phòng Nội vụ quận Thanh Xuân có nhiệm vụ gì?")
    assert not answer.refused and answer.citations
    assert {c.n for c in answer.citations} == cited_numbers(answer.answer)
    assert answer.related and not {c.n for c in answer.related} & cited_numbers(answer.answer)


def test_a_sentence_every_resolution_says_is_quoted_once(responder: Responder) -> None:
    answer = responder.ask("Từ ngày nào chính quyền địa phương 2 cấp chính thức hoạt động?")
    assert "01 tháng 7 năm 2025" in answer.answer
    sentences = [s for s in re.split(r"(?<=\.)\s", re.sub(r"\[\d+\]", "", answer.answer)) if s]
    assert len(sentences) == len(set(sentences))
    assert len({c.doc for c in answer.citations}) <= 2


def test_recipients_lines_are_not_quoted(responder: Responder) -> None:
    answer = responder.ask("Ban Tuyên giáo có nhiệm vụ gì trong kế hoạch của quận Kiến An?")
    assert "Đ/c" not in answer.answer and "UVBTVTU" not in answer.answer


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Sau sáp nhập tôi có phải làm lại giấy phép lái xe không?", "giấy phép lái xe"),
        ("sap nhap xong co phai doi can cuoc khong", "căn cước"),
        ("Làm lại sổ hộ khẩu sau sáp nhập mất bao lâu?", "hộ khẩu"),
    ],
)
def test_a_matter_the_documents_never_mention_is_declined_by_name(
    responder: Responder, question: str, topic: str
) -> None:
    answer = responder.ask(question)
    assert answer.refused and topic in answer.answer and "không nói về" in answer.answer
    assert not answer.citations


def test_a_topic_word_the_documents_do_use_is_not_declined(engine: Engine) -> None:
    from bot.answer.guards import uncovered_topic

    vocabulary = engine.load().retriever.vocabulary
    assert uncovered_topic("đổi căn cước sau sáp nhập", vocabulary) is not None
    assert uncovered_topic("đổi căn cước sau sáp nhập", vocabulary | {"can_cuoc"}) is None


def test_which_plans_mention_a_thing_lists_each_plan_with_its_sentence(responder: Responder) -> None:
    answer = responder.ask(
        "Trong các kế hoạch, kế hoạch nào nói đến việc tuyên truyền trên hệ thống loa truyền thanh?"
    )
    bullets = [line for line in answer.answer.splitlines() if line.startswith("- ")]
    assert len(bullets) >= 2 and len({c.doc for c in answer.citations}) == len(bullets)
    assert any("loa" in line for line in bullets)


def test_two_plans_compared_by_date_and_an_undated_one_said_so(responder: Responder) -> None:
    answer = responder.ask("Kế hoạch Thái Bình và kế hoạch Thanh Xuân cái nào ban hành trước?")
    assert answer.answer.startswith("Văn bản ban hành sớm nhất là Kế hoạch tháng 3/2024")
    undated = responder.ask("Kế hoạch Kiến An và kế hoạch Thanh Xuân, cái nào ra sau?")
    assert "không ghi ngày ban hành" in undated.answer and not undated.refused


def test_a_paraphrase_with_few_shared_words_is_answered_by_meaning(responder: Responder) -> None:
    answer = responder.ask(
        "Kế hoạch của huyện ủy năm 2023 nhằm mục đích gì trong việc bảo vệ nền tảng tư tưởng?"
    )
    assert not answer.refused
    assert "bảo vệ nền tảng tư tưởng" in answer.answer
    assert "003_429a199858f2294f.txt" in {c.doc for c in answer.citations}


@pytest.mark.parametrize(
    "question",
    [
        "Sau sáp nhập thì lương giáo viên có tăng không?",
        "Giá vé xe buýt sau sáp nhập là bao nhiêu?",
    ],
)
def test_a_question_sharing_only_common_words_is_declined(responder: Responder, question: str) -> None:
    answer = responder.ask(question)
    assert answer.refused and not answer.citations


def test_every_quotable_sentence_of_the_running_text_has_a_unit_vector(engine: Engine) -> None:
    from ingest.sentences import quotable_sentences

    search = engine.load().retriever.search
    dense = set(search.vectors.ids)
    chunks = [c for c in search.chunks if c.chunk_id in dense]
    wanted = {s for c in chunks for s in quotable_sentences(c)}
    assert len(search.sentences.rows) == len(wanted) > 400
    norms = np.linalg.norm(search.sentences.vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
