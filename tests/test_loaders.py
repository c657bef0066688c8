"""Tests for ingest.loaders: real files of every supported kind, good and broken."""

from __future__ import annotations

import hashlib
import io
import random
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from ingest import loaders
from ingest.loaders import SUPPORTED_SUFFIXES, LoadError, discover, load

VIETNAMESE = "Kế hoạch tuyên truyền sắp xếp đơn vị hành chính"
PDF_TEXT = "Ke hoach so 02-KH/BTGDUK ngay 16/12"
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def encode_cp1258(text: str) -> bytes:
    """Windows-1258 the way Vietnamese Windows writes it: base letter + combining tone mark.

    Python's encoder has no precomposed "ế" or "ạ", so `str.encode("cp1258")` fails on them.
    """
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
        tones = "".join(c for c in decomposed if c in _TONES)
        out += (base + tones).encode("cp1258")
    return bytes(out)


def pdf_with_text(text: str) -> bytes:
    """A minimal valid one-page PDF whose content stream shows `text` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(PDF_TEXT))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def load_error(path: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(path)
    error = info.value
    assert error.path == path
    assert path.name in error.message
    assert "Traceback" not in error.message and "\n" not in error.message
    return error


# --- plain text ---------------------------------------------------------------------------------


def test_utf8_text_and_sha256(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", f"{VIETNAMESE}\n\nĐoạn hai.")
    loaded = load(path)
    assert loaded.text == f"{VIETNAMESE}\n\nĐoạn hai."
    assert loaded.encoding == "utf-8"
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.path == path


def test_utf8_with_bom(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "bom.md", VIETNAMESE.encode("utf-8-sig")))
    assert (loaded.text, loaded.encoding) == (VIETNAMESE, "utf-8")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom(tmp_path: Path, codec: str) -> None:
    loaded = load(write(tmp_path / "u16.txt", f"{VIETNAMESE}\r\n".encode(codec)))
    assert (loaded.text, loaded.encoding) == (f"{VIETNAMESE}\r\n", "utf-16")


def test_windows_1258_is_decoded_to_nfc(tmp_path: Path) -> None:
    text = f"{VIETNAMESE}.\nKẾ HOẠCH SỐ 02; Thụy Việt, Hòa Bình."
    loaded = load(write(tmp_path / "cp.txt", encode_cp1258(text)))
    assert loaded.encoding == "windows-1258"
    assert loaded.text == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n  ", "  \n".encode("utf-16")])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    assert load_error(write(tmp_path / "empty.txt", data)).message.startswith("Tệp rỗng")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(200),
        random.Random(0).randbytes(4096),
        b"Xin ch\x00o c\x00c b\x00n",
        bytes(range(1, 9)) * 50,
    ],
    ids=["png", "random", "nul", "controls"],
)
def test_binary_file_is_not_text(tmp_path: Path, data: bytes) -> None:
    assert "không phải là tệp văn bản" in load_error(write(tmp_path / "image.txt", data)).message


def test_undecodable_text_names_the_encodings(tmp_path: Path) -> None:
    # 0x81 is invalid in UTF-8 and undefined in Windows-1258; high-byte soup is not Vietnamese.
    for data in (b"Xin ch\x81o b\x8dn", bytes(range(0xC0, 0x100)) * 4):
        message = load_error(write(tmp_path / "odd.txt", data)).message
        assert "UTF-8" in message and "UTF-16" in message and "Windows-1258" in message


def test_real_corpus_file(corpus: Path) -> None:
    loaded = load(corpus / "plans" / "002_6d727a2a5508cfde.txt")
    assert loaded.encoding == "utf-8"
    assert "Vũ Văn Phóng" in loaded.text


# --- .docx --------------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("KẾ HOẠCH")
    document.add_paragraph("")
    document.add_paragraph("Tuyên truyền sắp xếp đơn vị hành chính.")
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["STT", "Đơn vị", "Ghi chú"], ["1", "Xã A", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Nơi nhận:")
    path = tmp_path / "plan.docx"
    document.save(str(path))

    loaded = load(path)
    assert loaded.encoding == "docx"
    blocks = [block for block in loaded.text.split("\n") if block]
    assert blocks == [
        "KẾ HOẠCH",
        "Tuyên truyền sắp xếp đơn vị hành chính.",
        "STT | Đơn vị | Ghi chú",
        "1 | Xã A | ",
        "Nơi nhận:",
    ]


def test_docx_merged_cell_appears_once(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "ĐẢNG BỘ TỈNH"
    table.cell(0, 2).text = "ĐẢNG CỘNG SẢN VIỆT NAM"
    path = tmp_path / "merged.docx"
    document.save(str(path))
    assert load(path).text == "ĐẢNG BỘ TỈNH | ĐẢNG CỘNG SẢN VIỆT NAM"


def _zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/styles.xml", "<styles/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [random.Random(1).randbytes(2048), _zip_without_document(), b"PK\x03\x04 truncated"],
    ids=["random", "zip-without-document", "truncated-zip"],
)
def test_corrupt_docx(tmp_path: Path, data: bytes) -> None:
    assert load_error(write(tmp_path / "bad.docx", data)).message.startswith("Tệp .docx bị hỏng")


def test_old_doc_renamed_to_docx(tmp_path: Path) -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
    message = load_error(write(tmp_path / "old.docx", data)).message
    assert message.startswith("Tệp .docx bị hỏng") and ".doc cũ" in message


# --- .pdf ---------------------------------------------------------------------------------------


def test_pdf_with_text_layer(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "plan.pdf", pdf_with_text(PDF_TEXT)))
    assert (loaded.text, loaded.encoding) == (PDF_TEXT, "pdf")


def test_pdf_with_empty_user_password_opens(tmp_path: Path) -> None:
    assert load(write(tmp_path / "owner-only.pdf", encrypted_pdf(""))).text == PDF_TEXT


def test_pdf_with_password(tmp_path: Path) -> None:
    assert "mật khẩu" in load_error(write(tmp_path / "locked.pdf", encrypted_pdf("secret"))).message


@pytest.mark.parametrize("data", [blank_pdf(), pdf_with_text("12")], ids=["blank", "page-number"])
def test_pdf_without_text_layer_needs_ocr(tmp_path: Path, data: bytes) -> None:
    message = load_error(write(tmp_path / "scan.pdf", data)).message
    assert "không có lớp văn bản" in message and "cần OCR" in message


@pytest.mark.parametrize(
    "data",
    [random.Random(2).randbytes(2048), b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog"],
    ids=["random", "truncated"],
)
def test_corrupt_pdf(tmp_path: Path, data: bytes) -> None:
    assert load_error(write(tmp_path / "bad.pdf", data)).message.startswith("Tệp PDF bị hỏng")


# --- .html --------------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Tiêu đề trang</title>
<style>p {{ color: red }}</style><script>var x = "mã độc";</script></head>
<body><header>Trang chủ</header><nav><a href="/">Menu</a></nav>
<h1>{title}</h1>
<p>Đoạn   một
   viết trên hai dòng.</p>
<div>Dòng A<br>Dòng B</div>
<ul><li>Mục 1</li><li>Mục 2</li></ul>
<table><tr><th>STT</th><th>Đơn vị</th></tr><tr><td>1</td><td>Xã A</td></tr></table>
<footer>Bản quyền</footer></body></html>"""


def test_html_keeps_blocks_and_drops_chrome(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "page.html", PAGE.format(title=VIETNAMESE)))
    assert loaded.encoding == "html(utf-8)"
    lines = [line for line in loaded.text.split("\n") if line]
    assert lines == [
        VIETNAMESE,
        "Đoạn một viết trên hai dòng.",
        "Dòng A",
        "Dòng B",
        "Mục 1",
        "Mục 2",
        "STT | Đơn vị",
        "1 | Xã A",
    ]
    assert "\n\nĐoạn một" in loaded.text and "Dòng A\nDòng B" in loaded.text


def test_html_word_export_keeps_each_table_row_on_one_line(tmp_path: Path) -> None:
    markup = """<html><head><meta charset="utf-8"><!--[if gte mso 9]><xml>w</xml><![endif]-->
    </head><body><table><tr><td><p class=MsoNormal><b>ĐẢNG BỘ TỈNH<o:p></o:p></b></p>
    <p class=MsoNormal>BAN TUYÊN GIÁO</p></td><td><p>ĐẢNG CỘNG SẢN VIỆT NAM</p></td></tr></table>
    <p>Số&nbsp;02-KH/BTG</p><!-- ghi chú --><p>Căn cứ số 18<br>dòng hai<br> <br>đoạn mới</p>
    </body></html>"""
    assert load(write(tmp_path / "word.htm", markup)).text == (
        "ĐẢNG BỘ TỈNH BAN TUYÊN GIÁO | ĐẢNG CỘNG SẢN VIỆT NAM\n\n"
        "Số 02-KH/BTG\n\nCăn cứ số 18\ndòng hai\n\nđoạn mới"
    )


def test_html_meta_charset_windows_1258(tmp_path: Path) -> None:
    markup = PAGE.format(title=VIETNAMESE).replace(
        "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
    )
    loaded = load(write(tmp_path / "old.htm", encode_cp1258(markup)))
    assert loaded.encoding == "html(windows-1258)"
    assert VIETNAMESE in loaded.text


def test_html_without_meta_uses_fallback_chain(tmp_path: Path) -> None:
    data = f"<p>{VIETNAMESE}</p>".encode("utf-16")
    assert load(write(tmp_path / "u16.html", data)).encoding == "html(utf-16)"


def test_html_with_only_chrome_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "chrome.html", "<nav>Menu</nav><script>x()</script>")
    assert load_error(path).message.startswith("Tệp rỗng")


# --- errors in general --------------------------------------------------------------------------


def test_unexpected_exception_becomes_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(path: Path, data: bytes) -> tuple[str, str]:
        raise RuntimeError("boom")

    monkeypatch.setitem(loaders._READERS, ".txt", explode)
    error = load_error(write(tmp_path / "x.txt", "nội dung"))
    assert "boom" not in error.message
    assert isinstance(error.__cause__, RuntimeError)


def test_load_missing_and_unsupported(tmp_path: Path) -> None:
    assert "Không tìm thấy" in load_error(tmp_path / "missing.txt").message
    assert "không được hỗ trợ" in load_error(write(tmp_path / "sheet.xlsx", b"x")).message


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_any_bytes_load_or_raise_load_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = write(tmp_path / f"fuzz{suffix}", data)
    try:
        loaded = load(path)
    except LoadError as error:
        assert error.message and "\n" not in error.message
    else:
        assert loaded.text.strip()


# --- discover -----------------------------------------------------------------------------------


def test_discover_folder_and_explicit_paths(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for name in ["b.md", "a.txt", "sub/c.docx", "sub/d.PDF", "sub/e.htm", "z.html", "ref/l.csv"]:
        write(root / name, "x")
    for name in [".hidden.txt", ".git/a.txt", "sub/.cache/f.md", "~$c.docx", "x.pptx", "README"]:
        write(root / name, "x")
    extra = write(tmp_path / "extra.md", "x")
    unsupported = write(tmp_path / "slides.pptx", "x")

    files, errors = discover([root, extra, tmp_path / "missing", unsupported, root / "a.txt"])

    assert files == [
        root / "a.txt",
        root / "b.md",
        root / "ref/l.csv",
        root / "sub/c.docx",
        root / "sub/d.PDF",
        root / "sub/e.htm",
        root / "z.html",
        extra,
    ]
    assert [error.path for error in errors] == [tmp_path / "missing", unsupported]
    assert "Không tìm thấy" in errors[0].message
    assert "slides.pptx" in errors[1].message and "không được hỗ trợ" in errors[1].message


def test_discover_then_load_reports_each_bad_file(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", VIETNAMESE)
    write(tmp_path / "empty.md", b"")
    write(tmp_path / "bad.pdf", b"not a pdf")
    files, errors = discover([tmp_path])
    assert errors == []
    loaded, failed = [], []
    for path in files:
        try:
            loaded.append(load(path))
        except LoadError as error:
            failed.append(error.path.name)
    assert [item.path.name for item in loaded] == ["good.txt"]
    assert failed == ["bad.pdf", "empty.md"]
