"""The new map on the real index: provinces, counts, new → old units, numbered wards with
their district, addresses rewritten, follow-ups that keep their place — each answer direct,
with its clause, from the registries alone."""

from __future__ import annotations

import pytest

from bot.answer.engine import Engine
from bot.answer.responder import Responder
from index.addresses import convert
from index.registry import UnitRegistry
from ingest.text import fold


@pytest.fixture(scope="module")
def responder(engine: Engine) -> Responder:
    return Responder(engine)


def has(text: str, *parts: str) -> bool:
    return all(fold(p) in fold(text) for p in parts)


def test_the_appendix_of_60_nq_tw_gives_23_merges_and_11_kept_provinces(index) -> None:
    changes = index.registry.province_changes
    merged = [c for c in changes if c.merged]
    assert len(merged) == 23 and len(changes) - len(merged) == 11
    assert sum(len(c.olds) for c in merged) == 52  # 63 old provinces, 11 of them kept
    gia_lai = next(c for c in merged if c.new_name == "Tỉnh Gia Lai")
    assert gia_lai.olds == ["Tỉnh Gia Lai", "Tỉnh Bình Định"] and gia_lai.centre == "tỉnh Bình Định"


def test_every_new_province_has_its_count_clause(index) -> None:
    counts = {c.province: c for c in index.registry.counts}
    assert len(counts) == 34
    assert counts["Thành phố Hà Nội"].total == 126 and counts["Tỉnh Cà Mau"].total == 64
    assert counts["Thành phố Hồ Chí Minh"].breakdown.startswith("113 phường, 54 xã")


@pytest.mark.parametrize(
    ("question", "expected", "mode"),
    [
        ("Thái Bình nhập vào tỉnh nào rồi?", ["Hưng Yên", "Phụ lục, II", "6."], "province_lookup"),
        ("quang nam gio la tinh gi", ["Đà Nẵng"], "province_lookup"),
        ("Lạng Sơn có phải sáp nhập tỉnh không?", ["không thực hiện sáp nhập"], "province_lookup"),
        ("tru so tinh gia lai moi dat o dau", ["trung tâm", "Bình Định"], "province_lookup"),
        ("Gia Lai bây giờ còn mấy xã phường?", ["135"], "unit_count"),
        ("Quảng Ninh có tổng cộng bao nhiêu xã, phường, đặc khu sau sắp xếp?", ["54"], "unit_count"),
    ],
)
def test_province_questions_get_one_direct_cited_sentence(
    responder: Responder, question: str, expected: list[str], mode: str
) -> None:
    answer = responder.ask(question)
    assert answer.mode == mode and not answer.refused
    assert has(answer.answer, *expected), answer.answer
    assert len(answer.citations) == 1 and answer.citations[0].doc in (
        "60-NQ_TW.md", *{c.doc_id for c in responder.engine.load().index.registry.counts}
    )
    assert "[1]" in answer.answer


def test_a_new_ward_lists_the_old_units_it_took(responder: Responder) -> None:
    answer = responder.ask("Ô Chợ Dừa mới được ghép từ những phường nào?")
    assert answer.mode == "unit_reverse"
    assert has(answer.answer, "Cát Linh", "Hàng Bột", "Văn Miếu - Quốc Tử Giám", "khoản 13")


def test_numbered_wards_keep_their_district(registry: UnitRegistry) -> None:
    placements = registry.find("1", "phường", "Thành phố Hồ Chí Minh", ["3"])
    assert {p.change.new_name for p in placements} == {"Bàn Cờ"}
    assert all(p.old.qualifier == "Quận 3" for p in placements)
    hcm = [o for c in registry.changes if c.province == "Thành phố Hồ Chí Minh" for o in c.olds]
    numbers = [o.name for o in hcm if o.name.isdigit()]
    # a number that several districts share is always told apart by its district
    assert all(o.qualifier for o in hcm if o.name.isdigit() and numbers.count(o.name) > 1)


def test_a_numbered_ward_without_district_is_answered_as_ambiguous(responder: Responder) -> None:
    answer = responder.ask("Phường 1 giờ là phường gì")
    assert answer.mode == "unit_lookup"
    assert has(answer.answer, "quận/huyện", "Quận 3", "Bàn Cờ", "Quận 4", "Vĩnh Hội")


def test_a_follow_up_keeps_the_district_and_province(responder: Responder) -> None:
    responder.ask("Phường 1, quận 3, TP Hồ Chí Minh giờ là phường gì?", "conv-q3")
    answer = responder.ask("còn phường 2 thì sao?", "conv-q3")
    assert has(answer.answer, "Phường 2 (Quận 3", "Bàn Cờ")
    assert len(answer.facts) == 1 and answer.facts[0]["new_units"] == ["Phường Bàn Cờ"]


def test_an_address_with_its_old_province_gets_the_new_line(responder: Responder) -> None:
    answer = responder.ask(
        "Địa chỉ cũ của tôi là số 39 đường Nguyễn Trãi, Xã Mai Hịch, Huyện Mai Châu, Tỉnh Hoà Bình. "
        "Địa chỉ mới ghi thế nào?"
    )
    assert answer.mode == "address"
    assert "số 39 đường Nguyễn Trãi, Xã Bao La, Tỉnh Phú Thọ" in answer.answer
    assert answer.facts[0]["status"] == "merged" and answer.facts[0]["province"] == "Tỉnh Phú Thọ"


def test_a_split_address_names_every_candidate_line(responder: Responder) -> None:
    answer = responder.ask(
        "so 7 ngo 15 duong nguyen khanh toan, p. quan hoa, q. cau giay, ha noi -> dia chi moi"
    )
    assert answer.mode == "address"
    assert answer.facts[0]["status"] == "split"
    lines = answer.facts[0]["new_address"]
    assert lines == [
        "số 7 ngõ 15 đường Nguyen Khanh Toan, Phường Cầu Giấy, Thành phố Hà Nội",
        "số 7 ngõ 15 đường Nguyen Khanh Toan, Phường Nghĩa Đô, Thành phố Hà Nội",
    ]
    assert has(answer.answer, "một phần", "UBND")


def test_a_commune_absent_from_its_province_is_not_answered_with_a_namesake(
    responder: Responder,
) -> None:
    answer = responder.ask("X. Hợp Thịnh, H. Kỳ Sơn, Hòa Bình nay là xã gì?")
    assert answer.refused and "Hợp Thịnh" in answer.answer and not answer.citations


def test_convert_reports_each_status(registry: UnitRegistry) -> None:
    assert convert("Phường 1, Quận 3, TP.HCM", registry).status == "merged"
    assert convert("P. Thanh Xuân Bắc, Q. Thanh Xuân, Hà Nội", registry).status == "split"
    assert convert("xã Tri Phương", registry).status == "ambiguous"
    assert convert("không phải địa chỉ", registry).status == "not_found"
