import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ingest.text import (
    clean_document_text,
    expand_abbreviations,
    fold,
    match_form,
    normalize,
    one_line,
    place_tone_marks,
    strip_markup,
    unwrap,
)

VIETNAMESE_LETTERS = (
    "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
)
vietnamese_text = st.text(
    alphabet=st.sampled_from(VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper() + " ,.\n-*"),
    max_size=80,
)


@given(vietnamese_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(vietnamese_text)
def test_nfc_and_nfd_inputs_give_the_same_result(text: str) -> None:
    nfd = unicodedata.normalize("NFD", text)
    nfc = unicodedata.normalize("NFC", text)
    assert normalize(nfd) == normalize(nfc)
    assert fold(nfd) == fold(nfc)
    assert clean_document_text(nfd) == clean_document_text(nfc)


@given(vietnamese_text)
def test_fold_is_idempotent_and_ascii(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded.isascii()


def test_every_vietnamese_letter_folds_to_its_base() -> None:
    folded = fold(VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper())
    assert set(folded) == set("aeiouyd")
    assert fold("Đặng Khánh Hòa") == "dang khanh hoa"


def test_one_tone_mark_placement() -> None:
    assert place_tone_marks("Hoà Thuỵ khoẻ Khánh Hoà") == "Hòa Thụy khỏe Khánh Hòa"
    # the mark stays where it belongs: after a final consonant, and in "qu" + y
    assert place_tone_marks("hoàng quý Quý khuyết") == "hoàng quý Quý khuyết"
    assert normalize("Thuỵ Khuê") == normalize("Thụy Khuê")


def test_decomposed_corpus_text_is_composed() -> None:
    decomposed = "Phu\u031bo\u031b\u0300ng Tha\u0300nh Xua\u0302n"
    assert normalize(decomposed) == "Phường Thành Xuân"


def test_markup_is_removed_and_structure_kept() -> None:
    raw = "1\\. Sắp xếp **toàn bộ** diện tích\ncủa *các* phường \\- Hàng Bạc\n\n2\\. Tiếp"
    text = clean_document_text(raw)
    assert text == "1. Sắp xếp toàn bộ diện tích của các phường - Hàng Bạc\n\n2. Tiếp"
    assert "**" not in strip_markup("**NGHỊ QUYẾT**")


def test_unwrap_joins_wrapped_lines_but_not_items() -> None:
    text = "Sắp xếp các phường\nHàng Bạc và Hàng Bồ.\n- Mục một;\n- Mục hai."
    assert unwrap(text) == "Sắp xếp các phường Hàng Bạc và Hàng Bồ.\n- Mục một;\n- Mục hai."


def test_abbreviations_expand_in_questions_but_not_inside_numbers() -> None:
    assert expand_abbreviations("Sắp xếp ĐVHC, UBND và HĐND") == (
        "Sắp xếp đơn vị hành chính, ủy ban nhân dân và hội đồng nhân dân"
    )
    assert "26-CT/TU" in expand_abbreviations("Chỉ thị số 26-CT/TU của BTV TU")
    assert "ban thường vụ tỉnh ủy" in expand_abbreviations("Chỉ thị số 26-CT/TU của BTV TU")
    assert match_form("sn xa ko", chat=True) == "sap nhap xa khong"
    assert match_form("tu") == "tu"  # lower-case "tu" is a syllable, not "tỉnh ủy"


def test_any_text_becomes_one_printable_line_within_the_limit() -> None:
    assert one_line("Phường\n\tThượng  Đình", 200) == "Phường Thượng Đình"
    assert one_line("x" * 14_000, 200) == "x" * 199 + "…"
    assert one_line("\u202ephường\u200b gì\x00\x7f?", 200) == "phường gì?"  # bidi, zero-width, control
    assert one_line("a" + "\u0301\u0323\u0309" * 300 + " tỉnh", 200) == "a\u0301\u0323 tỉnh"  # stacked marks
    assert one_line(unicodedata.normalize("NFD", "Nghệ An"), 200) == unicodedata.normalize("NFD", "Nghệ An")


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_one_line_never_exceeds_its_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit and "\n" not in line and line == line.strip()
