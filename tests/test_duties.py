"""Tests for ingest.duties on the real corpus: agency -> tasks from TỔ CHỨC THỰC HIỆN."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from conftest import CORPUS

from ingest.duties import extract_duties
from ingest.parser import parse_document
from ingest.records import Document, Duty
from ingest.text import clean_document_text, fold

PLANS = ["000", "001", "002", "003", "004"]


def corpus_file(prefix: str) -> Path:
    """The corpus file whose name starts with `prefix` ("001", "1656_")."""
    (path,) = [p for p in sorted(CORPUS.glob("*/*")) if p.name.startswith(prefix)]
    return path


@cache
def doc(prefix: str) -> Document:
    path = corpus_file(prefix)
    text = clean_document_text(path.read_text(encoding="utf-8"))
    return parse_document(path.name, str(path), "sha", text)


@cache
def duties(prefix: str) -> list[Duty]:
    return extract_duties(doc(prefix))


def duty_of(prefix: str, agency_folded: str) -> Duty:
    (found,) = [d for d in duties(prefix) if agency_folded in fold(d.agency)]
    return found


def folded_tasks(duty: Duty) -> str:
    return fold(" ".join(duty.tasks))


def test_thanh_xuan_home_affairs_supplies_documents() -> None:
    duty = duty_of("001", "phong noi vu")
    assert duty.agency == "Phòng Nội vụ quận"
    assert duty.section == "III. TỔ CHỨC THỰC HIỆN, 3. Phòng Nội vụ quận"
    (supply,) = [t for t in duty.tasks if "cung cap tai lieu" in fold(t)]
    for words in ("van ban chi dao", "phuong an", "de an sap xep", "phong van hoa va thong tin"):
        assert words in fold(supply)
    assert len(duty.tasks) == 2
    assert duty.text.startswith("Phòng Nội vụ quận\n- Chủ trì, cung cấp tài liệu")
    assert (duty.doc_id, duty.number) == (doc("001").doc_id, "")


@pytest.mark.parametrize("prefix", PLANS)
def test_every_plan_has_complete_duties(prefix: str) -> None:
    found = duties(prefix)
    assert len(found) >= 3
    part = next(s for s in doc(prefix).sections if "to chuc thuc hien" in fold(s.heading))
    for duty in found:
        assert duty.agency.strip()
        assert duty.tasks and all(t.strip() for t in duty.tasks)
        assert duty.section.startswith(part.heading)
        assert duty.text
        assert duty.doc_id == doc(prefix).doc_id


def test_agency_before_colon() -> None:
    duty = duty_of("003", "ban to chuc huyen uy")
    assert duty.agency == "Ban Tổ chức Huyện ủy"
    assert duty.tasks[0].startswith("Theo dõi, đôn đốc các cấp ủy")
    front = duty_of("003", "mat tran to quoc viet nam")
    assert front.agency == "Mặt trận Tổ quốc Việt Nam và các tổ chức chính trị - xã hội huyện"


def test_numbered_heading_with_request_is_the_agency() -> None:
    duty = duty_of("001", "ban dan van quan uy; uy ban mttq")
    assert duty.agency.startswith("Ban Tuyên giáo Quận ủy, Ban Dân vận Quận ủy")
    assert len(duty.tasks) == 2


def test_one_addressee_for_every_item() -> None:
    """002: "Đề nghị các cấp ủy, …:" then "1- …", "2- …", "3- …"."""
    addressee = (
        "các cấp ủy, chi bộ cơ sở trực thuộc Đảng ủy Khối, các đoàn thể chính trị - xã hội Khối"
    )
    items = [d for d in duties("002") if d.agency == addressee]
    assert [d.section for d in items] == [
        "VI. TỔ CHỨC THỰC HIỆN, 1.",
        "VI. TỔ CHỨC THỰC HIỆN, 2.",
        "VI. TỔ CHỨC THỰC HIỆN, 3.",
    ]


def test_closing_request_with_reporting_duty() -> None:
    duty = duty_of("002", "cac cap uy, chi bo co so va cac doan the")
    assert duty.section == "VI. TỔ CHỨC THỰC HIỆN"
    assert "bao cao ket qua ve ban tuyen giao dang uy khoi" in folded_tasks(duty)


def test_report_sentence_is_a_task_of_the_addressees() -> None:
    duty = duty_of("000", "cac chi bo truc thuoc; mat tran to quoc")
    assert duty.agency == (
        "các chi bộ trực thuộc; Mặt trận Tổ quốc và các tổ chức chính trị - xã hội xã"
    )
    assert "nghiem tuc trien khai thuc hien" in folded_tasks(duty)
    assert "bao cao ket qua" in folded_tasks(duty)
    assert "ve dang uy, qua ban tuyen giao dang uy" in folded_tasks(duty)


def test_closing_assignment() -> None:
    closing = [d for d in duties("004") if d.section == "IV. TỔ CHỨC THỰC HIỆN"]
    assert [d.agency for d in closing] == ["Ban Tuyên giáo và Dân vận Quận ủy"]
    assert "theo doi, don doc viec thuc hien ke hoach nay" in folded_tasks(closing[0])


def test_two_requests_in_one_sentence() -> None:
    closing = [d for d in duties("001") if d.section == "III. TỔ CHỨC THỰC HIỆN"]
    assert [d.agency for d in closing] == [
        "Ban Tuyên giáo Quận ủy, Ban Dân vận Quận ủy, Ủy ban MTTQ"
        " và các tổ chức chính trị - xã hội quận",
        "các phòng, ban, đơn vị, UBND các phường",
    ]
    assert closing[0].tasks == ["phối hợp thực hiện"]


def test_resolution_article_three() -> None:
    found = duties("1656_")
    assert [d.section for d in found] == [
        "Điều 3, khoản 1",
        "Điều 3, khoản 2",
        "Điều 3, khoản 3",
    ]
    assert found[0].agency.startswith("Chính phủ, Hội đồng nhân dân, Ủy ban nhân dân thành phố")
    assert found[1].agency == "Chính phủ"
    assert "cong bo cong khai truoc ngay 30 thang 9 nam 2025" in folded_tasks(found[1])
    assert found[2].agency.startswith("Hội đồng Dân tộc")
    assert all(d.number == "1656/NQ-UBTVQH15" for d in found)


@pytest.mark.parametrize("prefix", ["60-NQ", "1027_"])
def test_documents_without_an_implementation_part(prefix: str) -> None:
    assert duties(prefix) == []
