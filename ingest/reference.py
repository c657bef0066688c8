"""The reference list of administrative units before the 2025 arrangement, as the General
Statistics Office (Tổng cục Thống kê) exports it from danhmuchanhchinh.gso.gov.vn, as CSV or XLSX:
one row per commune, with its district and province and the three codes.

It is data, not a text: its rows become `OldCommune` records (never chunks). A file is taken for
such a list by its columns; one that lacks them, repeats a code or gives one code two places is
refused with one Vietnamese sentence, like any other bad file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.loaders import TABLE_SUFFIXES, LoadError
from ingest.records import Document, OldCommune
from ingest.tables import read_rows
from ingest.text import fold, normalize

MAX_REFERENCE_BYTES = 50 * 1024 * 1024
ISSUER = "Tổng cục Thống kê"
DOC_TYPE = "DANH MỤC"


@dataclass(frozen=True)
class Column:
    field: str  # the OldCommune field it fills
    header: str  # as the GSO export writes it
    aliases: tuple[str, ...]  # other headers seen for it, folded
    width: int = 0  # digits of a code (0: not a code)


COLUMNS = (
    Column("province", "Tỉnh Thành Phố", ("tinh / thanh pho", "tinh/thanh pho", "tinh")),
    Column("province_code", "Mã TP", ("ma tinh",), 2),
    Column("district", "Quận Huyện", ("quan / huyen", "quan/huyen", "ten quan huyen", "huyen")),
    Column("district_code", "Mã QH", ("ma quan huyen", "ma huyen"), 3),
    Column("name", "Phường Xã", ("phuong / xa", "phuong/xa", "ten phuong xa", "xa")),
    Column("code", "Mã PX", ("ma phuong xa", "ma xa"), 5),
    Column("kind", "Cấp", ("cap xa",)),
)
_KINDS = ("thị trấn", "phường", "xã", "đặc khu")
_DATE = re.compile(r"(?<!\d)(20\d\d)[-_.]?(\d\d)[-_.]?(\d\d)(?!\d)")


def is_reference_list(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def read_reference(path: Path, doc_id: str) -> tuple[Document, list[OldCommune]]:
    """The list's document (what cites it) and its rows; a `LoadError` says what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(path, f"Không mở được tệp {path.name}.") from exc
    if size > MAX_REFERENCE_BYTES:
        limit = MAX_REFERENCE_BYTES >> 20
        message = f"Danh mục {path.name} lớn quá {limit} MB; hãy tách theo tỉnh rồi nạp từng tệp."
        raise LoadError(path, message)
    data = path.read_bytes()
    if not data.strip():
        raise LoadError(path, f"Tệp rỗng: {path.name} không có nội dung.")
    rows, encoding = read_rows(path, data)
    communes = _communes(path, rows)
    document = Document(
        doc_id=doc_id, path=str(path), sha256=hashlib.sha256(data).hexdigest(), doc_type=DOC_TYPE,
        date=_date(path.name), issuer=ISSUER, subject=_subject(communes),
        title="Danh mục đơn vị hành chính (Tổng cục Thống kê)", encoding=encoding,
    )  # fmt: skip
    return document, communes


def _positions(path: Path, header: list[str]) -> dict[str, int]:
    """Which column holds each field; every one is required."""
    folded = [fold(h).strip() for h in header]
    found: dict[str, int] = {}
    for column in COLUMNS:
        names = (fold(column.header), *column.aliases)
        at = next((i for i, h in enumerate(folded) if h in names), None)
        if at is not None:
            found[column.field] = at
    missing = ", ".join(f"«{c.header}»" for c in COLUMNS if c.field not in found)
    if missing:
        wanted = ", ".join(c.header for c in COLUMNS)
        has = ", ".join(h.strip() for h in header) or "không cột nào"
        raise LoadError(
            path,
            f"Tệp {path.name} không phải danh mục đơn vị hành chính của Tổng cục Thống kê: "
            f"thiếu cột {missing} (cần các cột {wanted}; tệp có: {has}).",
        )
    return found


def _communes(path: Path, rows: list[list[str]]) -> list[OldCommune]:
    if not rows:
        raise LoadError(path, f"Tệp rỗng: {path.name} không có dòng nào.")
    at = _positions(path, rows[0])
    communes = []
    for line, row in enumerate(rows[1:], start=2):
        cells = {field: (row[i] if i < len(row) else "") for field, i in at.items()}
        communes.append(_commune(path, line, cells))
    if not communes:
        raise LoadError(path, f"Danh mục {path.name} chỉ có dòng tiêu đề, không có đơn vị nào.")
    _check_codes(path, communes)
    return communes


def _commune(path: Path, line: int, cells: dict[str, str]) -> OldCommune:
    values = {field: _tidy(text) for field, text in cells.items()}
    for column in COLUMNS:
        value = values[column.field]
        if not value:
            raise LoadError(path, f"Danh mục {path.name}, dòng {line}: thiếu «{column.header}».")
        if column.width:
            if not value.isdigit() or len(value) > column.width:
                raise LoadError(
                    path, f"Danh mục {path.name}, dòng {line}: «{column.header}» = «{value}» "
                    f"không phải mã số {column.width} chữ số.",
                )  # fmt: skip
            values[column.field] = value.zfill(column.width)  # a spreadsheet drops leading zeros
    kind = values["kind"].lower()
    name = values["name"]
    prefix = next((k for k in (kind, *_KINDS) if fold(name).startswith(fold(k) + " ")), "")
    if prefix:
        name = name[len(prefix) :].strip()
    return OldCommune(
        province=values["province"], province_code=values["province_code"],
        district=values["district"], district_code=values["district_code"],
        kind=kind, name=name, code=values["code"],
    )  # fmt: skip


@lru_cache(maxsize=1 << 14)
def _tidy(text: str) -> str:
    """A cell normalised once: provinces and districts repeat on every row."""
    return normalize(" ".join(text.split()))


def _check_codes(path: Path, communes: list[OldCommune]) -> None:
    """A code names one unit: a commune code once, a district or province code one name."""
    seen: dict[str, OldCommune] = {}
    districts: dict[str, str] = {}
    provinces: dict[str, str] = {}
    for c in communes:
        first = seen.setdefault(c.code, c)
        if first is not c:
            raise LoadError(
                path, f"Danh mục {path.name}: mã {c.code} lặp lại — {first.label} "
                f"({first.district}, {first.province}) và {c.label} ({c.district}, {c.province}).",
            )  # fmt: skip
        _one_name(path, "quận/huyện", c.district_code, f"{c.district}, {c.province}", districts)
        _one_name(path, "tỉnh/thành phố", c.province_code, c.province, provinces)


def _one_name(path: Path, level: str, code: str, name: str, seen: dict[str, str]) -> None:
    first = seen.setdefault(code, name)
    if first != name:
        message = f"Danh mục {path.name}: mã {level} {code} dùng cho hai nơi — {first} và {name}."
        raise LoadError(path, message)


def _date(name: str) -> str:
    """The state of the list, when its file name gives it ("…-2025-03-01.csv")."""
    m = _DATE.search(name)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else ""


def _subject(communes: list[OldCommune]) -> str:
    provinces = len({c.province_code for c in communes})
    districts = len({c.district_code for c in communes})
    return (
        f"đơn vị hành chính trước sắp xếp: {provinces} tỉnh, thành phố; {districts} quận, huyện, "
        f"thị xã, thành phố; {len(communes)} xã, phường, thị trấn"
    )
