"""One file in, its records out: load → normalise → parse → chunk → registries."""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunker import chunk_document
from ingest.duties import extract_duties
from ingest.loaders import LoadError, load
from ingest.parser import parse_document
from ingest.records import Chunk, Document, Duty, OldCommune, UnitChange, from_dict, to_dict
from ingest.reference import is_reference_list, read_reference
from ingest.text import clean_document_text
from ingest.units import extract_units, unmatched_clauses

# Bump when parsing changes what is extracted: stored files are then parsed again.
PARSER_VERSION = 4


@dataclass
class IngestedFile:
    document: Document
    chunks: list[Chunk]
    units: list[UnitChange]
    duties: list[Duty]
    warnings: list[str] = field(default_factory=list)
    parser_version: int = PARSER_VERSION
    reference: list[OldCommune] = field(default_factory=list)  # the rows of a reference list

    def to_dict(self) -> dict[str, Any]:
        return {
            "document": to_dict(self.document),
            "chunks": [to_dict(c) for c in self.chunks],
            "units": [to_dict(u) for u in self.units],
            "duties": [to_dict(d) for d in self.duties],
            "warnings": self.warnings,
            "parser_version": self.parser_version,
            "reference": [list(astuple(c)) for c in self.reference],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestedFile:
        return cls(
            document=from_dict(Document, data["document"]),
            chunks=[from_dict(Chunk, c) for c in data["chunks"]],
            units=[from_dict(UnitChange, u) for u in data["units"]],
            duties=[from_dict(Duty, d) for d in data["duties"]],
            warnings=list(data.get("warnings", [])),
            parser_version=int(data.get("parser_version", 0)),
            reference=[OldCommune(*row) for row in data.get("reference", [])],
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(path: Path, doc_id: str | None = None) -> IngestedFile:
    """Read and parse one file. Raises `LoadError` with a Vietnamese message."""
    if is_reference_list(path):
        document, communes = read_reference(path, doc_id or path.name)
        return IngestedFile(document=document, chunks=[], units=[], duties=[], reference=communes)
    loaded = load(path)
    text = clean_document_text(loaded.text)
    if not text.strip():
        raise LoadError(path, f"Tệp {path.name} không có nội dung văn bản sau khi đọc.")
    doc = parse_document(doc_id or path.name, str(path), loaded.sha256, text, loaded.encoding)
    warnings = _warnings(doc)
    return IngestedFile(
        document=doc,
        chunks=chunk_document(doc),
        units=extract_units(doc),
        duties=extract_duties(doc),
        warnings=warnings,
    )


def _warnings(doc: Document) -> list[str]:
    out = []
    if not doc.doc_type:
        out.append("không nhận ra loại văn bản")
    if not doc.date:
        out.append("không có ngày ban hành")
    unread = unmatched_clauses(doc)
    if unread:
        out.append("không đọc được khoản " + ", ".join(unread) + " (sắp xếp đơn vị)")
    return out
