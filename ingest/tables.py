"""Rows of the spreadsheets people hand in: a .csv (UTF-8, UTF-16 or Windows-1258; comma,
semicolon or tab) or the first sheet of an .xlsx, as lists of cell texts, blank rows dropped.
Every failure is a `LoadError` with one Vietnamese sentence."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ingest.loaders import LoadError, decode_text


def read_rows(path: Path, data: bytes) -> tuple[list[list[str]], str]:
    """The rows of `data`, read as the table its suffix says (.txt is read as CSV), and how
    it was read: "xlsx" or the text encoding."""
    if path.suffix.lower() == ".xlsx":
        return _xlsx_rows(path, data), "xlsx"
    text, encoding = decode_text(path, data)
    dialect: type[csv.Dialect] | csv.Dialect
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise LoadError(path, f"Tệp {path.name} không đọc được như bảng CSV ({exc}).") from exc
    return rows, encoding


def _xlsx_rows(path: Path, data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only when a workbook is read
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        message = f"Không mở được tệp Excel {path.name} (tệp hỏng hoặc không phải .xlsx)."
        raise LoadError(path, message) from exc
    try:
        return [
            [_cell(value) for value in row]
            for row in book.worksheets[0].iter_rows(values_only=True)
            if any(value not in (None, "") for value in row)
        ]
    finally:
        book.close()


def _cell(value: object) -> str:
    """A cell as text; a whole number stored as a float ("1.0") is written as the number."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
