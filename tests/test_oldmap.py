"""The whole map, old and new, on the real index: the GSO reference list loaded as data (never
chunks) and checked against the resolutions; old districts → their communes → the new units
that took them; codes both ways; country-wide sums; claims; dates — each answer with its clause
or the list. The developing cases are the even-numbered ones of each category of dev_d."""

from __future__ import annotations

import pytest

from bot.answer.compose import Sources
from bot.answer.engine import Engine, Loaded
from bot.answer.nation import (
    compose_national,
    compose_province_claim,
    compose_provision,
    compose_resolution,
    compose_unit_claim,
)
from bot.answer.oldmap import (
    compose_code,
    compose_district,
    compose_district_status,
    compose_districts,
    compose_districts_of,
    compose_new_codes,
    compose_old_codes,
)
from index.addresses import convert, new_unit_label
from index.claims import check_province_claim, check_unit_claim
from index.nation import Provisions, national_facts
from index.oldmap import OldMap
from ingest.text import fold

LIST = "danh-muc-dvhc-gso-2025-03-01.csv"


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Loaded:
    return engine.load()


@pytest.fixture(scope="module")
def oldmap(loaded: Loaded) -> OldMap:
    return loaded.oldmap


@pytest.fixture
def sources(loaded: Loaded) -> Sources:
    return Sources(loaded.index)


@pytest.fixture(scope="module")
def chunk_of(loaded: Loaded):
    return loaded.retriever.clause_chunks


@pytest.fixture(scope="module")
def provisions(loaded: Loaded) -> Provisions:
    return Provisions(loaded.index, loaded.registry.provinces)


def has(text: str, *parts: str) -> bool:
    return all(fold(p) in fold(text) for p in parts)


def cited(sources: Sources) -> set[str]:
    return {c.doc for c in sources.citations}


# --- the list as data ---------------------------------------------------------------------------


def test_the_reference_list_is_data_checked_against_the_resolutions(loaded: Loaded) -> None:
    index = loaded.index
    listed = index.files[LIST]
    assert listed.chunks == [] and len(listed.reference) == 10_047
    assert all(c.doc_id != LIST for c in loaded.retriever.chunks)  # never embedded nor searched
    assert listed.document.date == "2025-03-01" and listed.document.issuer == "Tổng cục Thống kê"
    check = index.registry.reference_check
    assert (check.communes, check.districts, check.provinces) == (10_047, 691, 63)
    # the five island districts had no communes: the resolutions name them, the list does not
    assert any(u.startswith("huyện Côn Đảo") for u in check.unlisted)
    assert len(check.unlisted) < 30 and len(check.unmentioned) < 60
    assert index.manifest["reference_check"]["communes"] == 10_047


# --- old districts ------------------------------------------------------------------------------


def test_cau_giay_lists_every_new_ward_that_took_part_of_it(oldmap: OldMap, chunk_of, sources) -> None:
    [district] = oldmap.find_districts("quận Cầu Giấy", "Hà Nội")
    text, facts = compose_district(district, oldmap, chunk_of, sources)
    assert has(text, "8 phường", "Danh mục ĐVHC, Tổng cục Thống kê, 01/03/2025")
    assert has(text, "Phường Cầu Giấy", "Phường Nghĩa Đô", "Phường Yên Hòa", "khoản 25", "1656/NQ-UBTVQH15")
    assert cited(sources) == {LIST, "1656_NQ-UBTVQH15.md"}
    assert sources.citations[0].section.endswith("Quận Cầu Giấy (mã 005)")
    assert {"Phường Cầu Giấy", "Phường Nghĩa Đô", "Phường Yên Hòa"} <= set(facts[0]["new_units"])
    quan_hoa = next(u for u in facts[0]["old_units"] if u["old_unit"] == "Phường Quan Hoa")
    assert set(quan_hoa["new_units"]) == {"Phường Cầu Giấy", "Phường Nghĩa Đô"}


@pytest.mark.parametrize(
    ("district", "province", "expected"),
    [  # dev_d e002, e004, e006, e008
        ("phu luong", "thai nguyen", ["Hợp Thành", "Phú Lương", "Vô Tranh", "Yên Trạch"]),
        ("krong a na", "dak lak", ["Dur Kmăl", "Ea Na", "Krông Ana"]),
        ("can giuoc", "long an", ["Cần Giuộc", "Mỹ Lộc", "Phước Lý", "Phước Vĩnh Tây", "Tân Tập"]),
        ("tu mo rong", "kon tum", ["Măng Ri", "Tu Mơ Rông", "Đăk Sao", "Đăk Tờ Kan"]),
    ],
)
def test_a_district_typed_without_diacritics_gives_its_new_communes(
    oldmap: OldMap, chunk_of, sources, district: str, province: str, expected: list[str]
) -> None:
    [found] = oldmap.find_districts(district, province)
    text, facts = compose_district(found, oldmap, chunk_of, sources)
    assert has(text, *expected), text
    assert len(facts[0]["new_units"]) == len(expected)


def test_a_district_name_in_several_provinces_gives_each(oldmap: OldMap, chunk_of, sources) -> None:
    everywhere = oldmap.find_districts("huyện Châu Thành")
    assert len(everywhere) == 10 and len({d.province for d in everywhere}) == 10
    assert [d.province for d in oldmap.find_districts("Châu Thành", "Long An")] == ["Tỉnh Long An"]
    both = oldmap.find_districts("Phú Ninh")
    text, facts = compose_districts(both, oldmap, chunk_of, sources)
    assert text.startswith("Có 2") and has(text, "Tỉnh Phú Thọ", "Tỉnh Quảng Nam")
    assert {f["province"] for f in facts} == {"Tỉnh Phú Thọ", "Tỉnh Quảng Nam"}


def test_a_name_that_is_not_a_kind_word_stays_a_name(oldmap: OldMap) -> None:
    """"Quan Hóa" is a huyện of Thanh Hóa, not a "quận Hóa"."""
    assert [d.name for d in oldmap.find_districts("Quan Hóa")] == ["Huyện Quan Hóa"]
    assert [d.name for d in oldmap.find_districts("Quận 3", "Hồ Chí Minh")] == ["Quận 3"]


def test_the_districts_of_an_old_province(oldmap: OldMap, sources) -> None:
    assert len(oldmap.districts_of("Hà Nội")) == 30
    # an old province's own districts; the new Tuyên Quang took Hà Giang's as well
    assert len(oldmap.districts_of("Hà Giang")) == 11 and len(oldmap.districts_of("Tuyên Quang")) == 7
    # a district named with the new province it is in now is still found
    assert [d.province for d in oldmap.find_districts("Yên Minh", "Tuyên Quang")] == ["Tỉnh Hà Giang"]
    text = compose_districts_of("Tỉnh Hà Giang", oldmap.districts_of("Hà Giang"), oldmap, sources)
    assert has(text, "11 quận, huyện", "Huyện Đồng Văn", "Tổng cục Thống kê") and cited(sources) == {LIST}


@pytest.mark.parametrize(
    ("district", "province", "news"),
    [
        ("Mê Linh", "Hà Nội", ["Xã Mê Linh", "Xã Yên Lãng", "Xã Quang Minh"]),
        ("bac tan uyen", "", ["Xã Bắc Tân Uyên", "Xã Thường Tân"]),  # dev_d e010
        ("lak", "", ["Xã Liên Sơn Lắk", "Xã Đắk Liêng"]),  # dev_d e012
    ],
)
def test_a_district_that_no_longer_exists_says_so_and_what_covers_it(
    oldmap: OldMap, provisions: Provisions, chunk_of, sources, district: str, province: str, news: list[str]
) -> None:
    [found] = oldmap.find_districts(district, province)
    [ended] = provisions.of("district_end")
    text = compose_district_status(found, oldmap, ended, chunk_of, sources)
    assert text.startswith("Không còn.") and has(text, "cấp huyện", "1/7/2025", "60-NQ/TW", found.bare, *news)
    assert "60-NQ_TW.md" in cited(sources) and len(cited(sources)) == 2


# --- codes --------------------------------------------------------------------------------------


def test_a_code_gives_the_new_unit_and_the_old_one(oldmap: OldMap, sources) -> None:
    text, facts = compose_code("00364", oldmap, sources)
    lines = text.splitlines()
    assert has(lines[0], "phường Khương Đình", "Thành phố Hà Nội", "1027/CTK-CSCL", "số thứ tự 23")
    assert has(lines[1], "Trước sắp xếp", "Quận Thanh Xuân", "01/03/2025")
    assert cited(sources) == {"1027_CTK-CSCL.md", LIST}
    assert "| 00364 |" in sources.citations[0].text
    assert [f.get("new_unit") or f.get("old_unit") for f in facts] == ["Phường Khương Đình"] * 2


def test_a_district_code_and_an_unknown_code(oldmap: OldMap, sources) -> None:
    assert has(compose_code("005", oldmap, sources)[0], "Quận Cầu Giấy")
    text, facts = compose_code("99999", oldmap, sources)
    assert has(text, "Không có", "99999") and facts == []


@pytest.mark.parametrize(
    ("name", "kind", "province", "code"),
    [
        ("Cầu Giấy", "phường", "Hà Nội", "00166"),
        ("kien hung", "xa", "hai phong", "11728"),  # dev_d e017
        ("ta cu ty", "xa", "lao cai", "02842"),  # dev_d e019
        ("gio linh", "xa", "quang tri", "19495"),  # dev_d e021
    ],
)
def test_a_new_unit_gives_its_code(
    loaded: Loaded, oldmap: OldMap, sources, name: str, kind: str, province: str, code: str
) -> None:
    units = oldmap.codes.of_changes(loaded.registry.formed(name, kind, province))
    assert [u.code for u in units] == [code]
    text = compose_new_codes(units, oldmap, sources)
    assert has(text, code, "1027/CTK-CSCL") and f"| {code} |" in sources.citations[0].text


def test_an_old_commune_gives_its_code_with_its_district(oldmap: OldMap, sources) -> None:
    communes = oldmap.find_communes("Quan Hoa", "phường", "Hà Nội")
    assert [c.code for c in communes] == ["00169"]
    assert has(compose_old_codes(communes, oldmap, sources), "00169", "Quận Cầu Giấy")
    assert oldmap.commune_by_code("169") == communes[0]  # a code that lost its zeros


# --- country-wide -------------------------------------------------------------------------------


def test_the_national_total_adds_up_the_34_resolutions(loaded: Loaded, oldmap: OldMap, chunk_of, sources) -> None:
    facts = national_facts(loaded.index, loaded.registry, oldmap)
    assert (facts.total, facts.by_kind) == (3_321, {"xã": 2_621, "phường": 687, "đặc khu": 13})
    assert facts.arranged + facts.unchanged == facts.total and not facts.unbalanced
    text, data = compose_national(facts, "total", chunk_of, sources)
    assert has(text, "3.321", "2.621 xã", "687 phường", "13 đặc khu", "34 nghị quyết") and "[1]–[34]" in text
    assert len(cited(sources)) == 34 and data[0]["total"] == 3_321


def test_the_provinces_with_most_and_fewest_units(loaded: Loaded, chunk_of, sources) -> None:
    facts = national_facts(loaded.index, loaded.registry)
    fewest, _ = compose_national(facts, "fewest", chunk_of, sources)  # dev_d e014
    assert has(fewest, "Lai Châu", "38", "1670/NQ-UBTVQH15") and cited(sources) == {"1670_NQ-UBTVQH15.md"}
    most, data = compose_national(facts, "most", chunk_of, Sources(loaded.index))
    assert has(most, "Thành phố Hồ Chí Minh", "168") and data[0]["total"] == 168


def test_provinces_merged_and_kept_and_old_communes_arranged(
    loaded: Loaded, oldmap: OldMap, provisions: Provisions, chunk_of, sources
) -> None:
    facts = national_facts(loaded.index, loaded.registry, oldmap)
    text, data = compose_national(facts, "provinces", chunk_of, sources, provisions.of("province_total"))
    assert data == [{"provinces": 34, "merged": 23, "merged_from": 52, "kept": 11}]
    assert has(text, "34 tỉnh, thành phố", "23", "52", "11", "Tỉnh Lạng Sơn", "60-NQ/TW")
    assert cited(sources) == {"60-NQ_TW.md"}
    text, _ = compose_national(facts, "arranged", chunk_of, Sources(loaded.index), oldmap=oldmap)
    assert 9_800 < facts.old_arranged < facts.old_listed == 10_047
    assert has(text, "10.047", f"{facts.old_arranged:,}".replace(",", "."), "3.194", "127")


# --- claims -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "into", "true", "fact"),
    [
        ("Bắc Kạn", "Quảng Trị", False, "Thái Nguyên"),  # dev_d e023
        ("dak nong", "khanh hoa", False, "Lâm Đồng"),  # dev_d e025
        ("Hà Giang", "Tuyên Quang", True, "Tuyên Quang"),
        ("Lạng Sơn", "Cao Bằng", False, "không thực hiện sáp nhập"),
    ],
)
def test_a_province_claim_is_answered_yes_or_no_then_the_fact(
    loaded: Loaded, chunk_of, sources, old: str, into: str, true: bool, fact: str
) -> None:
    verdict = check_province_claim(old, into, loaded.registry.provinces)
    assert verdict is not None and verdict.true is true
    text = compose_province_claim(verdict, chunk_of, sources)
    assert text.startswith("Đúng." if true else "Không đúng.") and has(text, fact, "60-NQ/TW")
    if not true:
        assert not has(text, into)  # corrected, never echoed
    assert check_province_claim("Sài Gòn Mới", into, loaded.registry.provinces) is None


@pytest.mark.parametrize(
    ("commune", "district", "province", "into", "start", "fact"),
    [
        ("Vân Trung", "Việt Yên", "Bắc Giang", "Tiền Phong", "Không đúng.", ["Nếnh", "1658"]),  # e027
        ("Lê Thanh", "Mỹ Đức", "Hà Nội", "Quang Minh", "Không đúng.", ["Hồng Sơn", "1656"]),  # e029
        ("Lê Thanh", "Mỹ Đức", "Hà Nội", "Hồng Sơn", "Đúng.", ["Hồng Sơn", "khoản 73"]),
        ("Quan Hoa", "Cầu Giấy", "Hà Nội", "Nghĩa Đô", "Đúng một phần.", ["Cầu Giấy", "Nghĩa Đô"]),
    ],
)
def test_a_commune_claim_is_answered_yes_partly_or_no_then_the_fact(
    oldmap: OldMap, chunk_of, sources, commune: str, district: str, province: str, into: str,
    start: str, fact: list[str],
) -> None:  # fmt: skip
    placements = oldmap.locate("", commune, province, district).placements
    text = compose_unit_claim(check_unit_claim(placements, into), chunk_of, sources)
    assert text.startswith(start) and has(text, *fact), text


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected", "doc"),
    [
        ("area_published", ["30/9/2025", "diện tích", "Điều 3, khoản 2"], "1654_NQ-UBTVQH15.md"),  # e058
        ("communes_start", ["1/7/2025", "chính thức hoạt động", "Điều 2, khoản 2"], "1654_NQ-UBTVQH15.md"),
        ("old_until", ["tiếp tục hoạt động", "1/7/2025"], "1654_NQ-UBTVQH15.md"),
        ("district_end", ["cấp huyện", "1/7/2025", "60-NQ/TW"], "60-NQ_TW.md"),
    ],
)
def test_each_date_cites_the_clause_that_sets_it(
    provisions: Provisions, sources, kind: str, expected: list[str], doc: str
) -> None:
    found = provisions.of(kind)
    assert len(found) == (1 if kind == "district_end" else 34)
    text = compose_provision(kind, found, sources)
    assert has(text, *expected) and cited(sources) == {doc}
    assert fold(found[0].text.split()[-1].rstrip(".")) in fold(sources.citations[0].text)


def test_a_province_date_cites_its_own_resolution(provisions: Provisions, sources) -> None:
    text = compose_provision("communes_start", provisions.of("communes_start", "Hà Giang"), sources)
    assert has(text, "1684/NQ-UBTVQH15") and cited(sources) == {"1684_NQ-UBTVQH15.md"}


@pytest.mark.parametrize(
    ("province", "number"),
    [("Tuyên Quang", "1684/NQ-UBTVQH15"), ("Lâm Đồng", "1671/NQ-UBTVQH15"), ("đắk nông", "1671/NQ-UBTVQH15")],
)
def test_a_province_s_resolution_its_number_date_and_signer(
    provisions: Provisions, sources, province: str, number: str
) -> None:
    [doc] = provisions.resolutions(province)
    text = compose_resolution(doc, provisions.all, sources)
    assert has(text, number, "16/6/2025", "Trần Thanh Mẫn", "thông qua", "hiệu lực") and len(cited(sources)) == 1


# --- addresses use the district -----------------------------------------------------------------


def test_an_address_s_district_tells_namesakes_apart(loaded: Loaded, oldmap: OldMap) -> None:
    registry = loaded.registry
    placed = convert("Xã Ngọc Động, Huyện Quảng Hòa, Tỉnh Cao Bằng", registry, oldmap)
    assert (placed.status, placed.new_units, placed.new_codes) == ("merged", ["Xã Hạnh Phúc"], ["01618"])
    assert convert("Xã Ngọc Động, Tỉnh Cao Bằng", registry, oldmap).status == "ambiguous"
    split = convert("p. quan hoa, q. cau giay, ha noi", registry, oldmap)
    assert split.new_units == ["Phường Cầu Giấy", "Phường Nghĩa Đô"] and split.new_codes == ["00166", "00160"]


def test_a_name_the_district_does_not_have_is_not_found_with_the_near_names(loaded: Loaded, oldmap: OldMap) -> None:
    result = convert("xã Quan Hoa, huyện Mê Linh, Hà Nội", loaded.registry, oldmap)
    assert result.status == "not_found" and result.new_units == []
    assert has(result.note, "không có xã Quan Hoa ở huyện Mê Linh", "thị trấn Quang Minh")


def test_every_listed_commune_addressed_in_full_converts_to_its_clauses(loaded: Loaded, oldmap: OldMap) -> None:
    """Commune, district and province as the list writes them: exactly the new units of the
    commune's own clauses (a namesake elsewhere in the province never leaks in)."""
    rows = [
        (f"{c.kind} {c.name}, {c.district}, {c.province}", {new_unit_label(p) for p in oldmap.placements(c)})
        for c in oldmap.communes
        if oldmap.placements(c)
    ]
    exact = sum(set(convert(a, loaded.registry, oldmap).new_units) == e for a, e in rows)
    assert len(rows) > 9_900 and exact / len(rows) >= 0.999
