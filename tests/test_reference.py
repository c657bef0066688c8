"""`sapxep ingest` and the GSO reference list: recognised by its columns as CSV or XLSX in any
of the encodings Excel writes, loaded as data, checked against the resolutions in the summary,
re-read when replaced, and refused file by file — missing columns, a repeated code, a code that
1027/CTK-CSCL gives a unit of another province, a file too large — while the rest is ingested
and the previous index keeps its list. No embedding model: records and registries only."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS
from openpyxl import Workbook
from test_loaders import encode_cp1258

import ingest.reference
from bot.cli import _print_report
from index.build import IngestReport, update_index
from index.store import Index, IndexStore
from ingest.records import OldCommune
from ingest.reference import COLUMNS, read_reference

LIST = CORPUS / "reference" / "danh-muc-dvhc-gso-2025-03-01.csv"
HEADER = [c.header for c in COLUMNS]
TEXTS = ("60-NQ_TW.md", "1027_CTK-CSCL.md", "1656_NQ-UBTVQH15.md")  # the list's Hà Nội part


def hanoi_rows() -> list[list[str]]:
    with LIST.open(encoding="utf-8") as fh:
        return [row for row in csv.reader(fh) if row[0] == "Thành phố Hà Nội"]


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "resolutions").mkdir(parents=True)
    for name in TEXTS:
        shutil.copy(CORPUS / "resolutions" / name, folder / "resolutions" / name)
    (folder / "reference").mkdir()
    return folder


def communes_of(index: Index | None) -> list[OldCommune]:
    """The old communes an index holds (its reference lists' rows)."""
    return [c for f in index.files.values() for c in f.reference] if index else []


def run_ingest(store_root: Path, corpus: Path) -> IngestReport:
    return update_index(IndexStore(store_root), [corpus])


def write_list(corpus: Path, text: str, name: str = "danh-muc.csv") -> Path:
    path = corpus / "reference" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_list_reads_the_same_from_every_encoding_and_from_xlsx(tmp_path: Path) -> None:
    text = csv_text(hanoi_rows())
    expected = read_reference(write_plain(tmp_path / "utf8.csv", text.encode("utf-8")), "x")[1]
    assert len(expected) == 526 and expected[0].name == "Phúc Xá" and expected[0].district == "Quận Ba Đình"
    for name, data in (
        ("bom.csv", text.encode("utf-8-sig")),
        ("utf16.csv", text.encode("utf-16")),
        ("utf16le-without-bom.csv", text.encode("utf-16-le")),
        ("cp1258.csv", encode_cp1258(text)),
        ("semicolons.csv", text.replace(",", ";").encode("utf-8")),
    ):
        assert read_reference(write_plain(tmp_path / name, data), "x")[1] == expected, name
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in hanoi_rows():  # Excel keeps codes as numbers: the zeros are gone
        sheet.append([row[0], int(row[1]), row[2], int(row[3]), row[4], int(row[5]), row[6]])
    book.save(tmp_path / "list.xlsx")
    assert read_reference(tmp_path / "list.xlsx", "x")[1] == expected


def write_plain(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_list_is_loaded_as_data_and_checked_in_the_summary(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_list(corpus, csv_text(hanoi_rows()))
    report = run_ingest(tmp_path / "index", corpus)
    assert not report.errors and "danh-muc.csv" in report.added
    index = IndexStore(tmp_path / "index").load()  # what survives the save and the load
    assert index.files["danh-muc.csv"].chunks == [] and len(communes_of(index)) == 526
    assert communes_of(index) == communes_of(report.index)
    check = index.registry.reference_check
    assert (check.communes, check.districts, check.provinces) == (526, 30, 1)
    assert check.unmentioned == [] and check.unlisted == []
    _print_report(report, 1.0)
    assert "Đối chiếu danh mục ĐVHC trước sắp xếp" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (csv_text([r[:5] + r[6:] for r in hanoi_rows()], HEADER[:5] + HEADER[6:]), "thiếu cột «Mã PX»"),
        ("Mã,Địa chỉ\n1,số 7 ngõ 15 Cầu Giấy\n", "không phải danh mục đơn vị hành chính"),
        (csv_text([]), "chỉ có dòng tiêu đề"),
        (csv_text(hanoi_rows()[:3] + [hanoi_rows()[0]]), "mã 00001 lặp lại"),
        (csv_text(hanoi_rows()[:3] + [[*hanoi_rows()[-1][:3], "001", *hanoi_rows()[-1][4:]]]), "mã quận/huyện 001"),
        (csv_text([[*hanoi_rows()[0][:5], "0x001", hanoi_rows()[0][6]]]), "không phải mã số 5 chữ số"),
        (csv_text([[*hanoi_rows()[0][:4], "", *hanoi_rows()[0][5:]]]), "thiếu «Phường Xã»"),
    ],
    ids=["missing column", "other table", "no rows", "repeated code", "district code twice", "bad code", "no name"],
)
def test_a_bad_list_is_reported_and_the_rest_ingested(
    tmp_path: Path, corpus: Path, text: str, message: str
) -> None:
    write_list(corpus, text)
    report = run_ingest(tmp_path / "index", corpus)
    assert [e.message for e in report.errors if message in e.message], report.errors
    assert len(report.errors) == 1 and "danh-muc.csv" in report.errors[0].message
    assert sorted(report.added) == sorted(TEXTS) and communes_of(report.index) == []


def test_a_code_1027_gives_another_province_is_refused_and_the_previous_list_kept(
    tmp_path: Path, corpus: Path
) -> None:
    rows = hanoi_rows()
    path = write_list(corpus, csv_text(rows))
    assert not run_ingest(tmp_path / "index", corpus).errors
    rows[0][5] = "11728"  # 1027/CTK-CSCL: xã Kiến Hưng, Hải Phòng
    path.write_text(csv_text(rows), encoding="utf-8")
    report = run_ingest(tmp_path / "index", corpus)
    [error] = report.errors
    assert "mã 11728" in error.message and "1027/CTK-CSCL" in error.message and "Kiến Hưng" in error.message
    assert not report.changed
    kept = communes_of(IndexStore(tmp_path / "index").load())
    assert len(kept) == 526 and kept[0].code == "00001"


def test_a_replaced_list_is_read_again_and_an_unchanged_one_is_not(tmp_path: Path, corpus: Path) -> None:
    rows = hanoi_rows()
    path = write_list(corpus, csv_text(rows))
    run_ingest(tmp_path / "index", corpus)
    assert run_ingest(tmp_path / "index", corpus).unchanged.count("danh-muc.csv") == 1
    path.write_text(csv_text(rows[:-1]), encoding="utf-8")
    report = run_ingest(tmp_path / "index", corpus)
    assert report.updated == ["danh-muc.csv"] and len(communes_of(report.index)) == 525


def test_a_list_over_the_size_limit_is_refused(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.reference, "MAX_REFERENCE_BYTES", 1 << 20)  # 1 MB, not 50
    write_list(corpus, LIST.read_text(encoding="utf-8") * 2)
    report = run_ingest(tmp_path / "index", corpus)
    [error] = report.errors
    assert "lớn quá 1 MB" in error.message and sorted(report.added) == sorted(TEXTS)


def test_without_60_nq_tw_no_code_can_contradict_1027(tmp_path: Path, corpus: Path) -> None:
    """Hà Giang's communes carry the codes 1027 lists under Tuyên Quang: only the merges of
    60-NQ/TW tell that apart from a contradiction."""
    (corpus / "resolutions" / "60-NQ_TW.md").unlink()
    with LIST.open(encoding="utf-8") as fh:
        ha_giang = [row for row in csv.reader(fh) if row[0] == "Tỉnh Hà Giang"]
    write_list(corpus, csv_text(ha_giang))
    report = run_ingest(tmp_path / "index", corpus)
    assert not report.errors and len(communes_of(report.index)) == len(ha_giang) > 100
