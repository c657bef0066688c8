"""Tests for ingest.parser on the real corpus: header, references, signer, section tree."""

from __future__ import annotations

import re
import time
from functools import cache
from pathlib import Path

import pytest
from conftest import CORPUS

from ingest.parser import parse_document, readable_case
from ingest.records import Document, Reference, Section
from ingest.text import clean_document_text, fold


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("plans/*.txt")) + sorted(CORPUS.glob("resolutions/*.md"))


def corpus_file(prefix: str) -> Path:
    """The corpus file whose name starts with `prefix` ("002", "1656_", "60-NQ")."""
    (path,) = [p for p in corpus_files() if p.name.startswith(prefix)]
    return path


def parse(path: Path) -> Document:
    text = clean_document_text(path.read_text(encoding="utf-8"))
    return parse_document(path.name, str(path), "sha", text)


@cache
def doc(prefix: str) -> Document:
    return parse(corpus_file(prefix))


def basis(document: Document, number: str) -> Reference:
    (ref,) = [r for r in document.bases if r.number == number]
    return ref


def child(section: Section, label: str) -> Section:
    (found,) = [c for c in section.children if c.label == label]
    return found


def top(document: Document, label: str) -> Section:
    (found,) = [s for s in document.sections if s.label == label]
    return found


# --- plans ------------------------------------------------------------------------------------


def test_plan_002_header_with_issuer_columns() -> None:
    d = doc("002")
    assert d.doc_type == "KẾ HOẠCH"
    assert d.number == "02-KH/BTGDUK"
    assert (d.place, d.date) == ("Thái Bình", "2024-12-16")
    assert d.issuer == "Ban Tuyên giáo Đảng ủy Khối các cơ quan và doanh nghiệp tỉnh Thái Bình"
    assert (d.signer.name, d.signer.title, d.signer.authority) == ("Vũ Văn Phóng", "TRƯỞNG BAN", "")
    assert d.subject.startswith("tuyên truyền việc tổng kết Nghị quyết số 18-NQ/TW")
    assert d.title == f"Kế hoạch {d.subject}"


def test_plan_000_blank_number_and_preamble_issuer() -> None:
    d = doc("000")
    assert d.number == ""  # "Số -KH/ĐU": left blank, never guessed
    assert (d.place, d.date) == ("Tri Phương", "2023-10-05")
    assert d.issuer == "Ban Thường vụ Đảng ủy"
    assert d.signer.name == "Đình Văn Ninh"
    assert (d.signer.title, d.signer.authority) == ("PHÓ BÍ THƯ", "T/M BAN THƯỜNG VỤ")
    directive = basis(d, "26-CT/TU")
    assert (directive.kind, directive.date) == ("Chỉ thị", "2023-09-25")
    assert directive.issuer == "Ban Thường vụ Tỉnh ủy"
    assert basis(d, "180-HD/BTGTU").issuer == "Ban Tuyên giáo Tỉnh ủy Lạng Sơn"


def test_plan_001_blank_day_and_deputy_signer() -> None:
    d = doc("001")
    assert d.number == ""  # "Số: /KH-UBND"
    assert (d.place, d.date) == ("Thanh Xuân", "2024-03")
    assert d.issuer == "UBND quận Thanh Xuân"
    assert (d.signer.name, d.signer.title) == ("Đặng Khánh Hòa", "PHÓ CHỦ TỊCH")
    assert "KT. CHỦ TỊCH" in d.signer.authority
    assert d.signer.authority == "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH"
    assert {"117/NQ-CP", "217/KH-UBND", "200/KH-UBND"} <= {r.number for r in d.bases}
    assert basis(d, "117/NQ-CP").date == "2023-07-30"
    assert basis(d, "217/KH-UBND").issuer == "UBND thành phố Hà Nội"


def test_plan_001_recipients() -> None:
    recipients = doc("001").recipients
    assert recipients[0] == "UBND thành phố Hà Nội"
    assert recipients[-1] == "Lưu: VT, VH&TT"
    assert len(recipients) == 12
    assert not any(r.startswith("-") or r.endswith((";", ",", ".")) for r in recipients)


def test_plan_003_bases_with_dates() -> None:
    d = doc("003")
    assert basis(d, "114-KH/BTCTW").date == "2023-04-21"
    assert basis(d, "114-KH/BTCTW").issuer == "Ban Tổ chức Trung ương"
    assert basis(d, "57-KH/TU").date == "2023-04-28"
    assert d.signer.name == "Nguyễn Đình Thuận"
    assert d.issuer == "Ban Thường vụ Huyện ủy"


def test_plan_004_bases_and_signer() -> None:
    d = doc("004")
    assert d.signer.name == "Nguyễn Trường Sơn"
    ref = basis(d, "455-KH/TU")
    assert (ref.kind, ref.date, ref.issuer) == ("Kế hoạch", "2025-04-16", "Ban Thường vụ Thành ủy")
    assert d.issuer == "Ban Thường vụ Quận ủy"


@pytest.mark.parametrize("prefix", ["003", "004"])
def test_plan_without_date_line_has_no_date(prefix: str) -> None:
    """These two plans print no "<place>, ngày … năm …" line: the date stays empty."""
    d = doc(prefix)
    assert not re.search(r"ngày\s*\d*\s*tháng\s*\d+\s*năm", d.text)
    assert (d.date, d.place, d.number) == ("", "", "")


def test_references_are_deduplicated_and_complete() -> None:
    d = doc("000")
    keys = [(r.kind, r.number) for r in d.references]
    assert len(keys) == len(set(keys))
    (resolution,) = [r for r in d.references if r.number == "37-NQ/TW"]
    assert (resolution.kind, resolution.date) == ("Nghị quyết", "2018-12-24")
    assert resolution.issuer.startswith("Bộ Chính trị")
    assert not resolution.basis
    assert {r.number for r in d.bases} <= {r.number for r in d.references}


def test_reference_issuer_across_a_page_break() -> None:
    (ref,) = [r for r in doc("001").references if r.number == "35/2023/UBTVQH15"]
    assert (ref.date, ref.issuer) == ("2023-07-12", "Ủy ban Thường vụ Quốc hội")


# --- section tree -----------------------------------------------------------------------------


def test_plan_section_tree() -> None:
    d = doc("001")
    assert [s.label for s in d.sections] == ["I", "II", "III"]
    part = top(d, "III")
    assert part.heading == "III. TỔ CHỨC THỰC HIỆN"
    assert [c.label for c in part.children] == [str(n) for n in range(1, 9)]
    nv = child(part, "3")
    assert nv.heading == "3. Phòng Nội vụ quận"
    assert nv.text.startswith("- Chủ trì, cung cấp tài liệu")  # dash items stay in the text


def test_roman_and_numbered_marker_variants() -> None:
    assert [s.heading for s in doc("002").sections][-1] == "VI. TỔ CHỨC THỰC HIỆN"
    assert [c.label for c in top(doc("002"), "VI").children] == ["1", "2", "3"]  # "1- …"
    assert [s.label for s in doc("003").sections] == ["I", "II", "III", "IV"]  # "I - …"
    assert [s.label for s in doc("000").sections] == ["I", "II", "III", "IV"]  # "I- …"


def test_lead_before_colon_becomes_heading() -> None:
    first = child(top(doc("003"), "IV"), "1")
    assert first.heading == "1. Ban Tổ chức Huyện ủy"
    assert first.text.startswith("Ban Tổ chức Huyện ủy: Theo dõi, đôn đốc")


def test_closing_sentence_belongs_to_the_part() -> None:
    part = top(doc("004"), "IV")
    assert part.text.startswith("Giao Ban Tuyên giáo và Dân vận Quận ủy chủ trì")
    assert "Giao Ban" not in child(part, "5").text


def test_page_break_is_mended() -> None:
    second = child(top(doc("000"), "II"), "2")
    assert "là chủ trương lớn của Đảng" in second.text
    assert "\n" not in second.text


def test_resolution_1656() -> None:
    d = doc("1656_")
    assert d.doc_type == "NGHỊ QUYẾT"
    assert d.number == "1656/NQ-UBTVQH15"
    assert (d.place, d.date) == ("Hà Nội", "2025-06-16")
    assert d.province == "Thành phố Hà Nội"
    assert d.issuer == "Ủy ban Thường vụ Quốc hội"
    assert (d.signer.name, d.signer.title) == ("Trần Thanh Mẫn", "CHỦ TỊCH")
    assert d.signer.authority == "TM. ỦY BAN THƯỜNG VỤ QUỐC HỘI"
    assert d.title == (
        "Nghị quyết về việc sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội năm 2025"
    )
    assert d.recipients[0] == "Chính phủ"


def test_resolution_1656_articles_and_clauses() -> None:
    d = doc("1656_")
    assert [s.label for s in d.sections] == ["Điều 1", "Điều 2", "Điều 3"]
    article = top(d, "Điều 1")
    assert article.heading.startswith("Điều 1. Sắp xếp các đơn vị hành chính cấp xã")
    assert len(article.children) >= 120
    assert [c.label for c in article.children[:3]] == ["khoản 1", "khoản 2", "khoản 3"]
    clause = child(article, "khoản 22")
    assert "Thanh Xuân Bắc" in clause.text
    assert clause.text.endswith("thành phường mới có tên gọi là phường Thanh Xuân.")
    assert "các phường Chương Dương, Phúc Tân" in child(article, "khoản 14").text


def test_resolution_1656_bases() -> None:
    d = doc("1656_")
    numbers = [r.number for r in d.bases]
    assert numbers[:3] == ["203/2025/QH15", "72/2025/QH15", "76/2025/UBTVQH15"]
    assert basis(d, "72/2025/QH15").kind == "Luật"
    ref = basis(d, "76/2025/UBTVQH15")
    assert (ref.date, ref.issuer) == ("2025-04-14", "Ủy ban Thường vụ Quốc hội")
    report = basis(d, "423/BC-UBPLTP15")
    assert (report.kind, report.issuer) == ("Báo cáo thẩm tra", "Ủy ban Pháp luật và Tư pháp")


def test_party_resolution_60() -> None:
    d = doc("60-NQ")
    assert (d.doc_type, d.number, d.date) == ("NGHỊ QUYẾT", "60-NQ/TW", "2025-04-12")
    assert d.issuer == "Ban Chấp hành Trung ương"
    assert (d.signer.name, d.signer.title) == ("Tô Lâm", "TỔNG BÍ THƯ")
    assert d.province == ""
    assert "60-NQ/TW" not in {r.number for r in d.references}
    (rule,) = [r for r in d.references if r.number == "232-QĐ/TW"]
    assert (rule.kind, rule.date) == ("Quy định", "2025-01-20")
    appendix = d.sections[-1]
    assert appendix.heading.startswith("DANH SÁCH DỰ KIẾN TÊN GỌI CÁC TỈNH, THÀNH PHỐ")
    assert [s.label for s in appendix.children] == ["I", "II"]
    assert len(child(appendix, "II").children) == 23


def test_appendix_takes_metadata_from_its_parent_document() -> None:
    d = doc("1027_")
    assert (d.doc_type, d.number, d.date) == ("CÔNG VĂN", "1027/CTK-CSCL", "2025-06-25")
    assert d.issuer == "Cục Thống kê"
    assert d.subject.startswith("Phụ lục I")
    assert d.references == []
    assert d.sections[0].label == "Phụ lục I"


@pytest.mark.parametrize(
    ("caps", "readable"),
    [
        ("ỦY BAN THƯỜNG VỤ QUỐC HỘI", "Ủy ban Thường vụ Quốc hội"),
        ("BAN CHẤP HÀNH TRUNG ƯƠNG", "Ban Chấp hành Trung ương"),
        ("TỈNH ỦY LẠNG SƠN", "Tỉnh ủy Lạng Sơn"),
        ("UBND QUẬN THANH XUÂN", "UBND quận Thanh Xuân"),
        ("CÁC TỔ CHỨC CHÍNH TRỊ - XÃ HỘI", "Các tổ chức chính trị - xã hội"),
    ],
)
def test_readable_case(caps: str, readable: str) -> None:
    assert readable_case(caps) == readable


# --- the whole corpus -------------------------------------------------------------------------


def test_every_corpus_file_parses() -> None:
    files = corpus_files()
    assert len(files) == 41
    started = time.perf_counter()
    docs = [parse(path) for path in files]
    assert time.perf_counter() - started < 2.0
    for d in docs:
        assert d.doc_type and d.title and d.sections, d.doc_id
        assert d.text and d.issuer, d.doc_id
        if re.fullmatch(r"16\d\d_NQ-UBTVQH15\.md", d.doc_id):
            assert d.number == f"{d.doc_id[:4]}/NQ-UBTVQH15"
            assert d.date == "2025-06-16"
            assert d.province.startswith(("Tỉnh ", "Thành phố "))
            assert fold(d.province).split(" ", 1)[1] in fold(d.subject)
            assert d.signer.name == "Trần Thanh Mẫn"
            clauses = [int(c.label.split()[1]) for c in d.sections[0].children]
            assert clauses == list(range(1, len(clauses) + 1)), d.doc_id
    plans = [d for d in docs if d.path.endswith(".txt")]
    assert len(plans) == 5
    for d in plans:
        assert d.signer.name and d.signer.title, d.doc_id
        dated = re.search(r"^[^\n,]+, ngày", d.text, re.MULTILINE)
        assert bool(d.date) == bool(dated), d.doc_id
