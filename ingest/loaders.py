"""Read the files users hand in (.txt .md .docx .pdf .html) into raw text.

Every failure becomes a `LoadError` carrying one Vietnamese sentence for the user, so a bad
file is reported and skipped instead of stopping a batch. Text is returned as found (not
normalised): the caller normalises it once, in `ingest.text`. Paragraphs extracted from
structured formats are separated by blank lines, because the normaliser joins single line
breaks as hard wraps.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
from bs4 import BeautifulSoup
from docx.table import Table
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")  # texts `load` reads
TABLE_SUFFIXES = (".csv", ".xlsx")  # reference lists, which ingest/reference.py reads
_INGESTED = SUPPORTED_SUFFIXES + TABLE_SUFFIXES

_TRIED = "UTF-8, UTF-16, Windows-1258"
_LABELS = {
    "utf-8-sig": "utf-8",
    "utf-16-le": "utf-16",
    "utf-16-be": "utf-16",
    "cp1258": "windows-1258",
}
# Controls that never occur in text; \t \n \v \f \r do (Word exports use \v and \f).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_MIN_PDF_CHARS = 20
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_HTML_DROPPED = ["head", "script", "style", "noscript", "template", "nav", "header", "footer"]
_HTML_BLOCKS = [
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "ul", "ol",
    "section", "article", "main", "blockquote", "pre", "dt", "dd", "figcaption",
]  # fmt: skip
# Private-use sentinels survive BeautifulSoup's get_text() and whitespace collapsing.
_LINE, _PARA, _CELL = "\ue000", "\ue001", "\ue002"


class LoadError(Exception):
    """A file that cannot be read; `message` is a clear Vietnamese sentence for the user."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass
class Loaded:
    path: Path
    text: str  # raw text, paragraphs separated by "\n\n" or "\n"
    encoding: str  # "utf-8", "utf-16", "windows-1258", "docx", "pdf", "html(utf-8)" ...
    sha256: str  # of the file bytes


# --- text decoding ------------------------------------------------------------------------------


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII-heavy text puts a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.5 and zeros_even < 0.05:
        return "utf-16-le"
    if zeros_even > 0.5 and zeros_odd < 0.05:
        return "utf-16-be"
    return None


def _candidate_codecs(data: bytes, declared: str | None) -> list[str]:
    if data.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ["utf-16"]
    guess = _bomless_utf16(data)
    if guess:
        return [guess]
    if b"\0" in data:
        return []
    chain = ["utf-8", "cp1258"]
    return [declared, *(c for c in chain if c != declared)] if declared else chain


def _looks_like_text(text: str) -> bool:
    return len(_CONTROL_CHARS.findall(text)) * 100 <= len(text)


def _looks_vietnamese(text: str) -> bool:
    """cp1258 decodes almost any bytes; accept it only for plausible (NFC) Vietnamese."""
    if not text:
        return False
    categories = [unicodedata.category(c) for c in text]
    ascii_share = sum(c.isascii() for c in text) / len(text)
    stray_marks = categories.count("Mn") / len(text)  # Vietnamese tones all compose under NFC
    odd_symbols = sum(cat[0] == "S" and not c.isascii() for c, cat in zip(text, categories))
    return ascii_share >= 0.5 and stray_marks <= 0.01 and odd_symbols <= 0.05 * len(text)


def _looks_written(text: str) -> bool:
    """A guessed UTF-16 must read as writing: words with spaces, no unassigned code points."""
    odd = sum(unicodedata.category(c) in ("Cn", "Co", "Cs") for c in text)
    spaces = sum(c.isspace() for c in text)
    return bool(text) and odd * 100 <= len(text) and (len(text) < 40 or spaces * 20 >= len(text))


def _looks_binary(data: bytes) -> bool:
    return b"\0" in data or len(_CONTROL_BYTES.findall(data)) * 100 > len(data)


def decode_text(path: Path, data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Bytes -> (text, encoding label); BOM first, then a declared charset, then the chain."""
    for codec in _candidate_codecs(data, declared):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "cp1258":
            text = unicodedata.normalize("NFC", text)  # the codepage stores tones as marks
        if codec == "cp1258":
            plausible = codec == declared or _looks_vietnamese(text)
        else:
            plausible = not codec.startswith("utf-16-") or _looks_written(text)
        if _looks_like_text(text) and plausible:
            return text, _LABELS.get(codec, codec)
    if _looks_binary(data):
        message = f"Tệp {path.name} không phải là tệp văn bản (có vẻ là dữ liệu nhị phân)."
    else:
        message = f"Không giải mã được tệp {path.name} (đã thử các bảng mã {_TRIED})."
    raise LoadError(path, message)


# --- .docx --------------------------------------------------------------------------------------


def _has_document_part(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            return "word/document.xml" in package.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _table_rows(table: Table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a horizontally merged cell is repeated once per column
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _read_docx(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith(_OLE_SIGNATURE):
        message = f"Tệp .docx bị hỏng: {path.name} là tệp Word .doc cũ, hãy lưu lại thành .docx."
        raise LoadError(path, message)
    corrupt = LoadError(path, f"Tệp .docx bị hỏng hoặc không đúng định dạng: {path.name}.")
    if not _has_document_part(data):
        raise corrupt
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise corrupt from exc
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.extend(_table_rows(block))
        elif block.text.strip():
            blocks.append(block.text)
    return "\n\n".join(blocks), "docx"


# --- .pdf ---------------------------------------------------------------------------------------


def _read_pdf(path: Path, data: bytes) -> tuple[str, str]:
    locked = LoadError(path, f"Tệp PDF {path.name} được đặt mật khẩu hoặc mã hóa, không đọc được.")
    try:
        reader = PdfReader(io.BytesIO(data))  # already tries the empty password
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise locked
        texts = [page.extract_text() or "" for page in reader.pages]
    except DependencyError as exc:  # AES encryption without the optional crypto library
        raise locked from exc
    except PyPdfError as exc:  # pypdf's own errors mean the file is malformed
        raise LoadError(path, f"Tệp PDF bị hỏng hoặc không đúng định dạng: {path.name}.") from exc
    if sum(len("".join(t.split())) for t in texts) < _MIN_PDF_CHARS:
        message = f"Tệp PDF {path.name} không có lớp văn bản (bản scan?), cần OCR trước khi nạp."
        raise LoadError(path, message)
    return "\n\n".join(t.strip() for t in texts if t.strip()), "pdf"


# --- .html --------------------------------------------------------------------------------------


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def _html_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(_HTML_DROPPED):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for row in soup.find_all("tr"):
        for cell in row.find_all(["td", "th"], recursive=False)[1:]:
            cell.insert_before(_CELL)
    for tag in soup.find_all(_HTML_BLOCKS):
        # Inside a cell a block only separates words, so a table row stays on one line.
        in_cell = tag.find_parent(["td", "th"]) is not None
        tag.insert_before(" " if in_cell else _PARA)
        tag.append(" " if in_cell else _PARA)
    # Whitespace in the source is not layout; the sentinels are.
    text = re.sub(r"\s+", " ", soup.get_text())
    text = re.sub(rf"\s*{_CELL}\s*", " | ", text)
    text = re.sub(rf"[\s{_LINE}{_PARA}]*[{_LINE}{_PARA}][\s{_LINE}{_PARA}]*", _break, text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _break(match: re.Match[str]) -> str:
    """A run of breaks: one <br> is a line break; a block or <br><br> is a paragraph break."""
    return "\n" if "".join(match.group(0).split()) == _LINE else "\n\n"


def _read_html(path: Path, data: bytes) -> tuple[str, str]:
    markup, encoding = decode_text(path, data, _declared_charset(data))
    return _html_text(markup), f"html({encoding})"


# --- public API ---------------------------------------------------------------------------------

_READERS: dict[str, Callable[[Path, bytes], tuple[str, str]]] = {
    ".txt": decode_text,
    ".md": decode_text,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
}


def _unsupported(path: Path) -> LoadError:
    kind = f"đuôi {path.suffix}" if path.suffix else "không có đuôi"
    allowed = ", ".join(_INGESTED)
    message = f"Tệp {path.name} có định dạng không được hỗ trợ ({kind}); chỉ nhận {allowed}."
    return LoadError(path, message)


def _missing(path: Path) -> LoadError:
    return LoadError(path, f"Không tìm thấy tệp hoặc thư mục: {path}.")


def _empty(path: Path) -> LoadError:
    return LoadError(path, f"Tệp rỗng: {path.name} không có nội dung.")


def load(path: Path | str) -> Loaded:
    """Read one file into raw text; every failure is a `LoadError`."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise _unsupported(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise _missing(path) from exc
    except OSError as exc:
        message = f"Không mở được tệp {path.name} (không có quyền đọc hoặc không phải tệp)."
        raise LoadError(path, message) from exc
    if not data.strip():
        raise _empty(path)
    try:
        text, encoding = reader(path, data)
    except LoadError:
        raise
    except Exception as exc:  # one bad file must never stop the others
        message = f"Không đọc được tệp {path.name} do lỗi không mong đợi khi xử lý."
        raise LoadError(path, message) from exc
    if not text.strip():
        raise _empty(path)
    return Loaded(path, text, encoding, hashlib.sha256(data).hexdigest())


def _hidden(path: Path) -> bool:
    return path.name.startswith((".", "~$"))  # "~$x.docx" is Word's lock file


def _walk(folder: Path, errors: list[LoadError]) -> Iterator[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        errors.append(LoadError(folder, f"Không mở được thư mục {folder}."))
        return
    for entry in entries:
        if _hidden(entry):
            continue
        if entry.is_dir():
            if not entry.is_symlink():  # a linked folder can loop back on itself
                yield from _walk(entry, errors)
        elif entry.is_file() and entry.suffix.lower() in _INGESTED:
            yield entry


def discover(paths: Iterable[Path | str]) -> tuple[list[Path], list[LoadError]]:
    """Expand folders (recursively, sorted, hidden entries skipped) into supported files.

    A path given explicitly that is missing or unsupported becomes a `LoadError`; unsupported
    files found inside folders are skipped silently. Each file is listed once.
    """
    found: list[Path] = []
    errors: list[LoadError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, errors))
        elif not path.is_file():
            errors.append(_missing(path))
        elif path.suffix.lower() not in _INGESTED:
            errors.append(_unsupported(path))
        else:
            found.append(path)
    return list(dict.fromkeys(found)), errors
