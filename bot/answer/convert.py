"""Batch conversion for officials and businesses: a CSV or XLSX of old addresses in, the same
table with the new address columns out. A bad row gets its own status and never stops the file;
the output is written aside and renamed into place, so a failure leaves no partial file."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.addresses import Conversion, convert
from index.oldmap import OldMap
from index.registry import UnitRegistry
from ingest.loaders import TABLE_SUFFIXES, LoadError
from ingest.tables import read_rows
from ingest.text import fold
from prompts import template

MAX_BYTES = 20 * 1024 * 1024
MAX_ROW_CHARS = 500  # longer is no address line: the row is reported, not parsed
OUTPUT_COLUMNS = ("new_units", "new_codes", "new_address", "province", "status", "citation", "note")
_ADDRESS_HEADERS = ("dia chi", "address", "dia_chi", "diachi")


class ConvertError(Exception):
    """The file cannot be converted at all; `message` says why, in Vietnamese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, str]]
    address_column: str


def read_table(path: Path, column: str | None = None) -> Table:
    """The rows of a .csv (UTF-8, UTF-16 or Windows-1258) or .xlsx file."""
    if not path.is_file():
        raise ConvertError(template("convert.missing", name=path.name))
    if path.stat().st_size > MAX_BYTES:
        raise ConvertError(template("convert.too_large", name=path.name, limit=MAX_BYTES >> 20))
    if path.suffix.lower() not in (*TABLE_SUFFIXES, ".txt"):
        raise ConvertError(template("convert.unsupported", name=path.name))
    try:
        columns, rows = _records(read_rows(path, path.read_bytes())[0])
    except LoadError as exc:
        raise ConvertError(exc.message) from exc
    if not columns:
        raise ConvertError(template("convert.empty", name=path.name))
    return Table(columns, rows, _address_column(columns, column, path.name))


def _records(lines: list[list[str]]) -> tuple[list[str], list[dict[str, str]]]:
    if not lines:
        return [], []
    columns = [c.strip() or f"cột {i + 1}" for i, c in enumerate(lines[0])]
    rows = [{c: (line[i] if i < len(line) else "") for i, c in enumerate(columns)} for line in lines[1:]]
    return columns, rows


def _address_column(columns: list[str], wanted: str | None, name: str) -> str:
    if wanted:
        for c in columns:
            if fold(c) == fold(wanted):
                return c
        raise ConvertError(template("convert.no_column", name=name, column=wanted, columns=", ".join(columns)))
    found = [c for c in columns if any(h in fold(c) for h in _ADDRESS_HEADERS)]
    if len(found) == 1 or (not found and len(columns) == 1):
        return (found or columns)[0]
    raise ConvertError(template("convert.which_column", name=name, columns=", ".join(columns)))


def convert_line(line: str, registry: UnitRegistry, oldmap: OldMap | None) -> Conversion:
    """One address as typed; an empty or overlong one is reported, not parsed."""
    text = " ".join(line.split())
    if not text or len(text) > MAX_ROW_CHARS:
        return Conversion(input=text[:MAX_ROW_CHARS], status="not_found")
    return convert(text, registry, oldmap)


def convert_rows(
    table: Table,
    registry: UnitRegistry,
    oldmap: OldMap | None = None,
    on_row: Callable[[], None] | None = None,
) -> Iterator[Conversion]:
    """One conversion per row, in order."""
    for row in table.rows:
        yield convert_line(row.get(table.address_column) or "", registry, oldmap)
        if on_row is not None:
            on_row()


def output_row(row: dict[str, str], result: Conversion) -> dict[str, str]:
    """The input columns, then the new address columns (several candidates joined by " | ")."""
    data = result.to_dict()
    added = {
        key: " | ".join(data[key]) if isinstance(data[key], list) else str(data[key])
        for key in OUTPUT_COLUMNS
    }
    return {**row, **added}


def write_table(path: Path, table: Table, results: list[Conversion]) -> None:
    """CSV (UTF-8 with BOM, so Excel reads Vietnamese) or XLSX, by the output's suffix."""
    columns = table.columns + [c for c in OUTPUT_COLUMNS if c not in table.columns]
    rows = [output_row(row, result) for row, result in zip(table.rows, results, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".xlsx":
            _write_xlsx(Path(tmp), columns, rows)
        else:
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_xlsx(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Địa chỉ mới")
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c, "") for c in columns])
    book.save(path)
