"""Reading a question: names linked in context, what is asked, and the conversation — on the
real index, through the one responder every channel uses."""

from __future__ import annotations

import pytest

from bot.answer.responder import Responder
from bot.answer.understand.entities import read_english
from bot.answer.understand.intents import IntentBank
from bot.answer.understand.reading import Turn
from ingest.text import fold


@pytest.fixture(scope="module")
def responder(engine) -> Responder:
    return Responder(engine)


@pytest.fixture(scope="module")
def reader(engine):
    return engine.load().reader


def test_the_bank_holds_every_intent_with_examples() -> None:
    bank = IntentBank.load()
    names = {i.name for i in bank.intents}
    assert {"unit_lookup", "unit_reverse", "province_centre", "attribute_missing", "general"} <= names
    assert len(bank.examples) >= 250
    assert all(sum(1 for i, _ in bank.examples if bank.intents[i] == intent) >= 3 for intent in bank.intents)


@pytest.mark.parametrize(
    ("masked", "intent"),
    [
        ("zzunit gio thuoc phuong nao vay", "unit_lookup"),
        ("zzunit moi do nhung xa cu nao ghep thanh", "unit_reverse"),
        ("zzprovince co tat ca bao nhieu xa phuong", "unit_count"),
        ("ai dang lam chu tich zzunit", "attribute_missing"),
        ("what is the new name of zzunit", "unit_lookup"),
    ],
)
def test_intents_are_read_from_the_examples_in_other_words(masked: str, intent: str) -> None:
    assert IntentBank.load().classify(masked)[0].intent.name == intent


def test_english_type_words_are_read_as_vietnamese() -> None:
    read = read_english("Which ward is Trung Hoa ward, Cau Giay district, Hanoi now?")
    assert "phường Trung Hoa" in read and "quận Cau Giay" in read and "Hà Nội" in read
    assert "phường Which" not in read


@pytest.mark.parametrize(
    "question",
    [
        "thi tran lam the nao de tuyen truyen ve sap xep don vi hanh chinh",
        "loa phat thanh o phuong ben thanh xuan phai phat gi ve sap xep",
    ],
)
def test_a_common_word_after_a_type_word_names_no_unit(responder: Responder, question: str) -> None:
    answer = responder.ask(question)
    assert answer.mode not in ("unit_lookup", "unit_reverse", "address")
    assert "Thị trấn Lâm" not in answer.answer and "Bến Thành" not in answer.answer


def test_two_units_in_one_question_get_both_answers(responder: Responder) -> None:
    answer = responder.ask("phường Dịch Vọng và phường Mai Dịch giờ thuộc phường nào?")
    text = fold(answer.answer)
    assert answer.mode == "unit_lookup"
    assert "phuong dich vong (" in text and "phuong mai dich (" in text
    assert "co 2 don vi ten" not in text  # two units, not two namesakes


def test_a_name_with_a_letter_dropped_is_found_in_its_district(responder: Responder) -> None:
    answer = responder.ask("phường Nghĩa Tn quận Cầu Giấy giờ là phường gì")
    assert answer.mode == "unit_lookup" and not answer.refused
    assert "Nghĩa Tân" in answer.answer and "Nghĩa Đô" in answer.answer


def test_an_english_question_about_the_map_is_answered(responder: Responder) -> None:
    answer = responder.ask("Which ward is Trung Hoa ward, Cau Giay district, Hanoi now?")
    assert answer.mode == "unit_lookup" and not answer.refused
    assert "Trung Hòa" in answer.answer and "1656/NQ-UBTVQH15" in answer.answer


def test_an_attribute_the_documents_lack_is_declined_by_name_with_what_they_say(responder: Responder) -> None:
    answer = responder.ask("Ai làm chủ tịch phường Yên Hòa mới?")
    assert answer.refused and answer.mode == "attribute_missing"
    assert "chủ tịch" in answer.answer and "Yên Hòa" in answer.answer
    assert "được hình thành từ" in answer.answer and answer.citations


def test_a_bare_name_follow_up_keeps_the_district(responder: Responder) -> None:
    responder.ask("Phường Thượng Đình quận Thanh Xuân giờ là phường gì?", "conv-bare")
    answer = responder.ask("còn Nhân Chính thì sao", "conv-bare")
    assert answer.mode == "unit_lookup"
    assert "Nhân Chính" in answer.answer and "Thượng Đình" not in answer.answer


def test_an_attribute_follow_up_asks_it_of_the_last_province(responder: Responder) -> None:
    responder.ask("Tỉnh Phú Thọ mới giờ có bao nhiêu xã?", "conv-centre")
    answer = responder.ask("trung tâm hành chính ở đâu?", "conv-centre")
    assert answer.mode == "province_lookup"
    assert "Phú Thọ" in answer.answer and "Trung tâm chính trị - hành chính" in answer.answer
    assert "Đồng Tháp" not in answer.answer


def test_a_conversation_never_reaches_another(responder: Responder) -> None:
    responder.ask("Tỉnh Phú Thọ mới giờ có bao nhiêu xã?", "conv-a")
    answer = responder.ask("trung tâm hành chính ở đâu?", "conv-b")
    assert "Phú Thọ" not in answer.answer


def test_the_reading_is_kept_as_data_not_text(responder: Responder) -> None:
    responder.ask("Phường Thượng Đình quận Thanh Xuân giờ là phường gì?", "conv-data")
    kept = responder.conversations.last("conv-data")
    turn = Turn.from_json(kept)
    assert turn is not None and turn.intent == "unit_lookup"
    assert any("Thượng Đình" in u for u in turn.units)
    assert "giờ là phường gì" not in (kept or "")


@pytest.mark.parametrize(
    "question",
    [
        " ".join(f"phường {n}" for n in range(1, 21)) + " giờ là phường gì",
        "xã " * 5000,
        "😀🎉🔥",
        "Phường Бến Thành 東京 giờ là phường gì?",
        "còn Nhân Chính thì sao",
    ],
)
def test_hostile_shapes_get_an_answer_or_a_decline(responder: Responder, question: str) -> None:
    answer = responder.ask(question, f"conv-fresh-{len(question)}-{question[:8]}")  # no earlier turn
    assert answer.answer
    assert "Thượng Đình" not in answer.answer  # nothing from any other conversation


class CountingEmbedder:
    """The engine's own question embedder, counting the questions it embeds."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []

    def encode(self, texts, kind):
        self.texts.extend(texts)
        return self.inner.encode(texts, kind)


@pytest.mark.parametrize(
    ("question", "vectors"),
    [
        ("Phòng Văn hóa quận Thanh Xuân phối hợp với cơ quan báo chí làm gì?", 1),
        ("ke hoach kien an yeu cau thong tin gi ve qua trinh xay dung de an", 1),
        ("phường Hàng Bạc giờ là phường gì", 0),
        ("Tỉnh Phú Thọ mới giờ có bao nhiêu xã?", 0),
    ],
)
def test_one_question_vector_whatever_readings_are_tried(engine, question: str, vectors: int) -> None:
    loaded = engine.load()
    loaded.reader.bank._dense()  # the bank's own vectors are made once, not per question
    counting = CountingEmbedder(loaded.retriever.embedder)
    loaded.retriever.embedder = counting
    try:
        Responder(engine).ask(question)
    finally:
        loaded.retriever.embedder = counting.inner
    assert len(counting.texts) == vectors


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("phuong dich vong hau cau giay gio thuoc phuong nao", "Dịch Vọng Hậu"),  # the district follows
        ("xã Phù Đổng huyện Gia Lâm", "Phù Đổng"),  # a name alone asks where it went
    ],
)
def test_a_unit_named_in_full_is_looked_up(responder: Responder, question: str, named: str) -> None:
    answer = responder.ask(question)
    assert (answer.mode, answer.refused) == ("unit_lookup", False) and named in answer.answer


def test_a_name_found_shorter_than_typed_is_not_taken_for_it(responder: Responder) -> None:
    answer = responder.ask("còn phường thanh xuân nam?")
    assert answer.refused and "thanh xuân nam" in answer.answer


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Người tung tin giả về sắp xếp bị phạt bao nhiêu tiền?", "tiền phạt"),
        ("Sau sáp nhập thì lương giáo viên được bao nhiêu?", "lương"),
    ],
)
def test_a_matter_the_documents_do_not_govern_is_declined_by_name(responder: Responder, question: str, topic: str) -> None:
    answer = responder.ask(question)
    assert answer.refused and topic in answer.answer and not answer.citations


def test_the_last_turns_district_is_no_answer_to_another_place(responder: Responder) -> None:
    responder.ask("What happened to Hoai Duc district?", "conv-hatay")
    answer = responder.ask("Is Ha Tay still a province?", "conv-hatay")
    assert "Hoài Đức" not in answer.answer  # a place the map lacks is not the last one asked about


def test_an_attribute_of_a_province_the_documents_lack_is_declined(responder: Responder) -> None:
    answer = responder.ask("số điện thoại trung tâm hành chính công tỉnh Nghệ An")
    assert answer.refused and answer.mode == "attribute_missing" and "số điện thoại" in answer.answer


def test_an_english_line_only_for_a_unit_answer(responder: Responder) -> None:
    answer = responder.ask("What happened to Hoai Duc district?")
    assert answer.mode == "district_lookup" and not answer.answer.startswith(" ")
    assert "()" not in answer.answer
