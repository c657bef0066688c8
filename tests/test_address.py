"""The address parser on lines and questions as residents type them, and on garbage."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.address import ParsedAddress, UnitRef, find_address, parse_address

P, X, TT, DK = "phường", "xã", "thị trấn", "đặc khu"
Q, H, TX, TP = "quận", "huyện", "thị xã", "thành phố"

# (line, street, commune, district, province); a unit is (kind, name) or None.
LINES = [
    # no commas, no diacritics: names run to the next kind word, the province ends the line
    (
        "so 7 ngo 15 duong nguyen khanh toan p quan hoa q cau giay ha noi",
        "số 7 ngõ 15 đường nguyen khanh toan", (P, "quan hoa"), (Q, "cau giay"), "ha noi",
    ),
    (
        "so 7 ngo 15 duong nguyen khanh toan, p. quan hoa, q. cau giay, ha noi",
        "số 7 ngõ 15 đường nguyen khanh toan", (P, "quan hoa"), (Q, "cau giay"), "ha noi",
    ),
    (
        "Số 8 đường Hùng Vương, X. Thành Công, H. Thạch Thành, Thanh Hóa",
        "Số 8 đường Hùng Vương", (X, "Thành Công"), (H, "Thạch Thành"), "Thanh Hóa",
    ),
    (
        "137 Lê Duẩn, Thị trấn Tịnh Hà, Huyện Sơn Tịnh, Quảng Ngãi",
        "137 Lê Duẩn", (TT, "Tịnh Hà"), (H, "Sơn Tịnh"), "Quảng Ngãi",
    ),
    (
        "số 39 đường Nguyễn Trãi, Xã Mai Hịch, Huyện Mai Châu, Tỉnh Hoà Bình.",
        "số 39 đường Nguyễn Trãi", (X, "Mai Hịch"), (H, "Mai Châu"), "Hòa Bình",
    ),
    ("P. Thượng Đình, Q. Thanh Xuân", "", (P, "Thượng Đình"), (Q, "Thanh Xuân"), ""),
    ("P.Thượng Đình, Q.Thanh Xuân, Hà Nội", "", (P, "Thượng Đình"), (Q, "Thanh Xuân"), "Hà Nội"),
    ("P.Quan Hoa Q.Cau Giay Ha Noi", "", (P, "Quan Hoa"), (Q, "Cau Giay"), "Ha Noi"),
    # numbered units and the many spellings of Hồ Chí Minh
    ("F5, Q3, TP.HCM", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("P5 Q3 TPHCM", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("P5 - Q3 - TPHCM", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("Phường 05, Quận 3, Thành phố Hồ Chí Minh", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("F.5, Q.3, HCM", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("p5 q3 tp hcm", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("phuong 5 quan 3 sai gon", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    ("Phường 12, Quận 3, Sài Gòn", "", (P, "12"), (Q, "3"), "Hồ Chí Minh"),
    (
        "hẻm 45 đường Lê Văn Sỹ, phường 14, quận Phú Nhuận, TP HCM",
        "hẻm 45 đường Lê Văn Sỹ", (P, "14"), (Q, "Phú Nhuận"), "Hồ Chí Minh",
    ),
    (
        "khu pho 3 p tan phong q 7 tp hcm",
        "khu phố 3", (P, "tan phong"), (Q, "7"), "Hồ Chí Minh",
    ),
    (
        "Đ.Lê Lợi, P. Bến Nghé, Q.1, TP.HCM, Việt Nam",
        "Đường Lê Lợi", (P, "Bến Nghé"), (Q, "1"), "Hồ Chí Minh",
    ),
    # abbreviated kinds
    ("X. Hợp Thịnh, H. Kỳ Sơn, Hòa Bình", "", (X, "Hợp Thịnh"), (H, "Kỳ Sơn"), "Hòa Bình"),
    ("TT. Tịnh Hà", "", (TT, "Tịnh Hà"), None, ""),
    ("TX. Sơn Tây", "", None, (TX, "Sơn Tây"), ""),
    ("Đặc khu Côn Đảo, TP Hồ Chí Minh", "", (DK, "Côn Đảo"), None, "Hồ Chí Minh"),
    # "thành phố": a district-level city when a province follows, else the province
    ("TP Thái Nguyên, tỉnh Thái Nguyên", "", None, (TP, "Thái Nguyên"), "Thái Nguyên"),
    (
        "phường Phan Đình Phùng, TP Thái Nguyên, tỉnh Thái Nguyên",
        "", (P, "Phan Đình Phùng"), (TP, "Thái Nguyên"), "Thái Nguyên",
    ),
    (
        "p phan dinh phung tp thai nguyen tinh thai nguyen",
        "", (P, "phan dinh phung"), (TP, "thai nguyen"), "thai nguyen",
    ),
    (
        "phường Quan Hoa, quận Cầu Giấy, TP Hà Nội",
        "", (P, "Quan Hoa"), (Q, "Cầu Giấy"), "Hà Nội",
    ),
    (
        "phường 7, TP Vũng Tàu, tỉnh Bà Rịa - Vũng Tàu",
        "", (P, "7"), (TP, "Vũng Tàu"), "Bà Rịa - Vũng Tàu",
    ),
    (
        "phường Thắng Tam, TP Vũng Tàu, Bà Rịa-Vũng Tàu",
        "", (P, "Thắng Tam"), (TP, "Vũng Tàu"), "Bà Rịa-Vũng Tàu",
    ),
    # old provinces stay as typed; partial lines
    (
        "thôn Đông Sàng, xã Đường Lâm, thị xã Sơn Tây, Hà Tây",
        "thôn Đông Sàng", (X, "Đường Lâm"), (TX, "Sơn Tây"), "Hà Tây",
    ),
    ("Xã Mường Men, Sơn La", "", (X, "Mường Men"), None, "Sơn La"),
    ("phường Thượng Đình", "", (P, "Thượng Đình"), None, ""),
    ("xa muong men son la", "", (X, "muong men"), None, "son la"),
    # kind words inside names
    ("xã Thành Công", "", (X, "Thành Công"), None, ""),
    ("phường Phố Huế", "", (P, "Phố Huế"), None, ""),
    (
        "ngõ 15 Phố Huế, phường Phố Huế, quận Hai Bà Trưng, Hà Nội",
        "ngõ 15 Phố Huế", (P, "Phố Huế"), (Q, "Hai Bà Trưng"), "Hà Nội",
    ),
    ("Tổ 5, phường Thượng Đình", "Tổ 5", (P, "Thượng Đình"), None, ""),
    ("to 5 phuong thuong dinh quan thanh xuan", "tổ 5", (P, "thuong dinh"), (Q, "thanh xuan"), ""),
    (
        "137 Xã Đàn, phường Nam Đồng, quận Đống Đa, Hà Nội",
        "137 Xã Đàn", (P, "Nam Đồng"), (Q, "Đống Đa"), "Hà Nội",
    ),
    (
        "sn 12 ngo 5 duong xa la, p phuc la, q ha dong, ha noi",
        "số nhà 12 ngõ 5 đường xa la", (P, "phuc la"), (Q, "ha dong"), "ha noi",
    ),
    (
        "thi tran tinh ha huyen son tinh quang ngai",
        "", (TT, "tinh ha"), (H, "son tinh"), "quang ngai",
    ),
    (
        "xa long xa, huyen a luoi, thua thien hue",
        "", (X, "long xa"), (H, "a luoi"), "thua thien hue",
    ),
    ("phường Thuận Lộc, TT Huế", "", (P, "Thuận Lộc"), None, "Thừa Thiên Huế"),
    # case, separators, countries, street keywords
    (
        "PHƯỜNG QUAN HOA, QUẬN CẦU GIẤY, HÀ NỘI",
        "", (P, "QUAN HOA"), (Q, "CẦU GIẤY"), "HÀ NỘI",
    ),
    (
        "phuong thuong dinh quan thanh xuan ha noi viet nam",
        "", (P, "thuong dinh"), (Q, "thanh xuan"), "ha noi",
    ),
    (
        "phường Hàng Bạc; quận Hoàn Kiếm; Hà Nội",
        "", (P, "Hàng Bạc"), (Q, "Hoàn Kiếm"), "Hà Nội",
    ),
    (
        "thon 3 xa hop thinh huyen ky son hoa binh",
        "thôn 3", (X, "hop thinh"), (H, "ky son"), "hoa binh",
    ),
    (
        "kiệt 12 Hoàng Diệu, phường Bình Thuận, quận Hải Châu, Đà Nẵng",
        "kiệt 12 Hoàng Diệu", (P, "Bình Thuận"), (Q, "Hải Châu"), "Đà Nẵng",
    ),
    (
        "Ấp Phú Hòa, xã Tân Phú, huyện Châu Thành, tỉnh Bến Tre",
        "Ấp Phú Hòa", (X, "Tân Phú"), (H, "Châu Thành"), "Bến Tre",
    ),
    (
        "Bản Nà Phặt, xã Mường Men, huyện Vân Hồ, Sơn La",
        "Bản Nà Phặt", (X, "Mường Men"), (H, "Vân Hồ"), "Sơn La",
    ),
    (
        "to dan pho 4, TT. Kỳ Sơn, H. Kỳ Sơn, T. Hòa Bình",
        "tổ dân phố 4", (TT, "Kỳ Sơn"), (H, "Kỳ Sơn"), "Hòa Bình",
    ),
]  # fmt: skip


def _unit(unit: tuple[str, str] | None) -> UnitRef | None:
    return UnitRef(*unit) if unit else None


@pytest.mark.parametrize(("line", "street", "commune", "district", "province"), LINES)
def test_parse_address(
    line: str,
    street: str,
    commune: tuple[str, str] | None,
    district: tuple[str, str] | None,
    province: str,
) -> None:
    parsed = parse_address(line)
    assert (parsed.street, parsed.commune, parsed.district, parsed.province) == (
        street,
        _unit(commune),
        _unit(district),
        province,
    )


def test_text_is_the_normalised_input() -> None:
    assert parse_address("  Xã  Mai Hịch ,  Tỉnh Hoà Bình ").text == "Xã Mai Hịch , Tỉnh Hòa Bình"


QUESTIONS = [
    (
        (
            "Địa chỉ cũ của tôi là số 39 đường Nguyễn Trãi, Xã Mai Hịch, Huyện Mai Châu, "
            "Tỉnh Hoà Bình. Địa chỉ mới ghi thế nào?"
        ),
        "số 39 đường Nguyễn Trãi", (X, "Mai Hịch"), (H, "Mai Châu"), "Hòa Bình",
    ),
    (
        "so 7 ngo 15 duong nguyen khanh toan, p. quan hoa, q. cau giay, ha noi -> dia chi moi",
        "số 7 ngõ 15 đường nguyen khanh toan", (P, "quan hoa"), (Q, "cau giay"), "ha noi",
    ),
    (
        (
            "Em cần ghi địa chỉ mới cho giấy tờ: số 137 đường Lê Duẩn, Thị trấn Tịnh Hà, "
            "Huyện Sơn Tịnh, Quảng Ngãi"
        ),
        "số 137 đường Lê Duẩn", (TT, "Tịnh Hà"), (H, "Sơn Tịnh"), "Quảng Ngãi",
    ),
    (
        "số 8 đường Hùng Vương, X. Thành Công, H. Thạch Thành, Thanh Hóa -> địa chỉ mới?",
        "số 8 đường Hùng Vương", (X, "Thành Công"), (H, "Thạch Thành"), "Thanh Hóa",
    ),
    (
        "xa muong men son la doi sang dia chi moi la gi",
        "", (X, "muong men"), None, "son la",
    ),
    ("phường Thượng Đình giờ là phường gì", "", (P, "Thượng Đình"), None, ""),
    ("Cho em hỏi, xã Mường Men, Sơn La giờ là xã gì ạ?", "", (X, "Mường Men"), None, "Sơn La"),
    ("Nhà mình ở P5 Q3 TPHCM, giờ là phường gì?", "", (P, "5"), (Q, "3"), "Hồ Chí Minh"),
    (
        "Tôi ở số 5 ngõ 3 phố Huế, phường Phố Huế, quận Hai Bà Trưng, Hà Nội. Địa chỉ mới là gì?",
        "số 5 ngõ 3 phố Huế", (P, "Phố Huế"), (Q, "Hai Bà Trưng"), "Hà Nội",
    ),
    (
        "Địa chỉ: thôn 3, xã Hợp Thịnh, huyện Kỳ Sơn, tỉnh Hòa Bình\nNay là gì?",
        "thôn 3", (X, "Hợp Thịnh"), (H, "Kỳ Sơn"), "Hòa Bình",
    ),
    (
        "Các xã sáp nhập thế nào? Tôi ở xã Đường Lâm, thị xã Sơn Tây, Hà Tây thì địa chỉ mới ra sao",
        "", (X, "Đường Lâm"), (TX, "Sơn Tây"), "Hà Tây",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("question", "street", "commune", "district", "province"), QUESTIONS)
def test_find_address(
    question: str,
    street: str,
    commune: tuple[str, str] | None,
    district: tuple[str, str] | None,
    province: str,
) -> None:
    found = find_address(question)
    assert found is not None
    assert (found.street, found.commune, found.district, found.province) == (
        street,
        _unit(commune),
        _unit(district),
        province,
    )


@pytest.mark.parametrize(
    "question",
    [
        "",
        "Xin chào",
        "Huyện Mai Châu giờ thuộc tỉnh nào?",
        "Tôi ở phường nào?",
        "TX. Sơn Tây, Hà Nội",
        "😀" * 50,
        "x" * 10_000,
    ],
)
def test_find_address_without_a_commune(question: str) -> None:
    assert find_address(question) is None


EMPTY = ("", None, None, "")
BAD = [
    "",
    "   \n\t ",
    "x" * 10_000,
    "phường Quan Hoa, " * 700,
    bytes(range(256)).decode("latin-1"),
    b"\xff\xfe\x00garbage\x80".decode("utf-8", "surrogateescape"),
    "\ud800\udfff",
    "🏠📍🇻🇳" * 30,
    "123 456 789",
    ",,,...;;;---",
]


@pytest.mark.parametrize("text", BAD)
def test_bad_input_gives_empty_parts(text: str) -> None:
    parsed = parse_address(text)
    assert isinstance(parsed, ParsedAddress)
    assert (parsed.street, parsed.commune, parsed.district, parsed.province) == EMPTY
    assert find_address(text) is None


PIECES = [
    "p", "p.", "P5", "F.5", "q", "Q3", "tp", "TP.", "TPHCM", "hcm", "x", "xa", "xã", "tt",
    "thi tran", "huyện", "tinh", "t.", "phường", "Phố", "đường", "so", "sn", "ngo", "tổ",
    "dân", "khu", "05", "7/15", "Hà Nội", "Thành", "Công", "Bà Rịa - Vũng Tàu", "viet nam",
    ",", ".", ":", "?", "->", "-", "giờ là", "địa chỉ cũ của tôi là", "😀", "\n",
]  # fmt: skip
addressy = st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join)
joined = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def _check(text: str) -> None:
    started = time.perf_counter()
    parsed = parse_address(text)
    found = find_address(text)
    assert time.perf_counter() - started < 1.0
    assert isinstance(parsed, ParsedAddress)
    for unit in (parsed.commune, parsed.district, found and found.commune):
        assert unit is None or (unit.kind and unit.name)
    assert found is None or found.commune is not None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=2_000), addressy, joined))
def test_arbitrary_text_never_raises_and_stays_fast(text: str) -> None:
    _check(text)


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=5_000, max_size=10_000))
def test_long_text_stays_fast(text: str) -> None:
    _check(text)
