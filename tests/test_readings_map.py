"""The old map and the country-wide facts as residents ask for them, read and answered through
the one responder on the real index (the reference list included): districts, codes, claims,
dates, totals — each answer direct, with its source."""

from __future__ import annotations

import pytest

from bot.answer.responder import Responder


@pytest.fixture(scope="module")
def responder(engine) -> Responder:
    return Responder(engine)


@pytest.mark.parametrize(
    ("question", "mode", "first", "holds"),
    [
        ("quận Hoàn Kiếm còn không?", "district_status", "Không còn.", ["1/7/2025", "60-NQ/TW", "Phường Hoàn Kiếm"]),
        ("Huyện Mê Linh cũ giờ gồm những xã nào?", "district_lookup", "Huyện Mê Linh", ["Xã Mê Linh", "Danh mục ĐVHC"]),
        ("tỉnh nào nhiều xã nhất", "national", "Thành phố Hồ Chí Minh", ["168"]),
        ("Which province has the fewest communes?", "national", "Tỉnh Lai Châu", ["38"]),
        ("cả nước có mấy phường", "national", "Sau sắp xếp, cả nước có 3.321", ["687 phường"]),
        ("mã số xã Bao La là gì", "unit_code", "Mã số của xã Bao La", ["05245", "1027/CTK-CSCL"]),
        ("mã 00169 là phường nào", "unit_code", "Trước sắp xếp, mã 00169", ["Quan Hoa", "Cầu Giấy"]),
        ("nghe nói Hà Giang nhập vào Tuyên Quang đúng không", "verify", "Đúng.", ["60-NQ/TW"]),
        ("Thái Bình sáp nhập vào Nam Định phải không?", "verify", "Không đúng.", ["Tỉnh Hưng Yên"]),
        ("Bao giờ bỏ cấp huyện?", "dates", "Đơn vị hành chính cấp huyện", ["1/7/2025"]),
        ("Nghị quyết sắp xếp xã của Quảng Ninh số mấy?", "document_facts", "Nghị quyết về việc sắp xếp", ["1679/NQ-UBTVQH15"]),
    ],
)
def test_the_map_beyond_communes_is_answered_directly(
    responder: Responder, question: str, mode: str, first: str, holds: list[str]
) -> None:
    answer = responder.ask(question)
    assert (answer.mode, answer.refused) == (mode, False)
    assert answer.answer.startswith(first)
    assert all(h in answer.answer for h in holds) and answer.citations


def test_a_false_claim_is_corrected_never_echoed(responder: Responder) -> None:
    answer = responder.ask("Thái Bình sáp nhập vào Nam Định phải không?")
    assert "Nam Định" not in answer.answer


def test_a_count_of_something_else_is_not_answered_with_communes(responder: Responder) -> None:
    answer = responder.ask("Lạng Sơn phải đăng bao nhiêu tin bài mỗi tháng về sắp xếp?")
    assert answer.mode != "unit_count" and "đơn vị hành chính cấp xã, gồm" not in answer.answer


def test_a_bare_name_of_a_district_and_a_ward_gets_both(responder: Responder) -> None:
    answer = responder.ask("Cầu Giấy giờ gồm những phường nào?")
    assert "Nếu bạn hỏi xã, phường Cầu Giấy" in answer.answer
    assert "Nếu bạn hỏi quận/huyện Cầu Giấy cũ" in answer.answer and "Danh mục ĐVHC" in answer.answer
    typed = responder.ask("phường Cầu Giấy giờ gồm những phường nào?")
    assert "quận/huyện" not in typed.answer  # the type word says which


def test_the_code_of_the_last_unit_asked_about(responder: Responder) -> None:
    responder.ask("Phường Láng Hạ quận Đống Đa giờ thuộc phường nào?", "conv-code")
    answer = responder.ask("mã số của nó là bao nhiêu?", "conv-code")
    assert answer.mode == "unit_code" and not answer.refused
    assert "Láng Hạ" in answer.answer and "Danh mục ĐVHC" in answer.answer and "1027/CTK-CSCL" in answer.answer
