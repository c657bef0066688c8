"""Chunks that follow the document's structure.

A numbered item or clause stays whole unless it is too long; a long one is cut at paragraph,
then line, then sentence boundaries. Every chunk carries its heading path and a context line
(document and section) that retrieval prefixes to the text.
"""

from __future__ import annotations

import re

from ingest.records import Chunk, Document, Section
from ingest.text import date_vi

MAX_CHARS = 1100
PREAMBLE = "Phần mở đầu"
CLOSING = "Nơi nhận, chữ ký"

_SENTENCE = re.compile(r"(?<=[.;:!?])\s+(?=[A-ZĐÀ-Ỹ0-9\-–“\"(])")


def chunk_document(doc: Document) -> list[Chunk]:
    pieces: list[tuple[list[str], str]] = []
    preamble, closing = _preamble(doc), _closing(doc)
    if preamble:
        pieces.append(([PREAMBLE], preamble))
    for section in doc.sections:
        _walk(section, [], pieces)
    if closing:
        pieces.append(([CLOSING], closing))
    if not pieces and doc.text.strip():
        pieces.append(([], doc.text.strip()))
    head = _document_context(doc)
    chunks = []
    for path, text in pieces:
        for part in split_text(text):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    text=part,
                    section=", ".join(path),
                    heading_path=path,
                    context=" › ".join([head, *path]) if path else head,
                    province=doc.province,
                    doc_type=doc.doc_type,
                )
            )
    return chunks


def _walk(section: Section, path: list[str], out: list[tuple[list[str], str]]) -> None:
    here = [*path, section.cite]
    whole = _full_text(section)
    if len(whole) <= MAX_CHARS or not section.children:
        out.append((here, whole))
        return
    own = _join(_title_line(section), section.text)
    if section.text.strip():
        out.append((here, own))
    for child in section.children:
        _walk(child, here, out)


def _title_line(section: Section) -> str:
    return "" if section.is_paragraph_item else section.heading.strip()


def _full_text(section: Section) -> str:
    parts = [_title_line(section), section.text]
    for child in section.children:
        if _title_line(child):
            parts.append(_full_text(child))
        else:
            number = child.label.removeprefix("khoản ").strip()
            parts.append(_join(f"{number}.", _full_text(child)))
    return _join(*parts)


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Cut at paragraphs, then lines, then sentences; never inside a sentence if avoidable."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n"):
        units = [u for u in text.split(separator) if u.strip()]
        if len(units) > 1:
            return _pack(units, separator, limit)
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    if len(sentences) > 1:
        return _pack(sentences, " ", limit)
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _pack(units: list[str], separator: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for unit in units:
        if len(unit) > limit:
            if current:
                out.append(current)
                current = ""
            out.extend(split_text(unit, limit))
            continue
        candidate = f"{current}{separator}{unit}" if current else unit
        if len(candidate) > limit:
            out.append(current)
            current = unit
        else:
            current = candidate
    if current:
        out.append(current)
    return [o.strip() for o in out if o.strip()]


def _document_context(doc: Document) -> str:
    title = doc.title or doc.doc_type or doc.doc_id
    if len(title) > 160:
        title = title[:159].rsplit(" ", 1)[0] + "…"
    facts = [f for f in (doc.number and f"số {doc.number}", date_vi(doc.date), doc.issuer) if f]
    return f"{title} ({', '.join(facts)})" if facts else title



_LABEL = re.compile(r"^\s*(?:[IVXLC]+|\d+|[a-zđ])\s*[.\-–)]\s*")


def _find_heading(doc: Document, section: Section) -> int:
    """Start of the line holding the section's heading ("I - MỤC ĐÍCH" for "I. MỤC ĐÍCH")."""
    words = _LABEL.sub("", section.heading.rstrip("…")).split()
    if not words:
        return -1
    pos = doc.text.find(" ".join(words[:4]))
    return doc.text.rfind("\n", 0, pos) + 1 if pos >= 0 else -1


def _preamble(doc: Document) -> str:
    if not doc.sections:
        return ""
    start = _find_heading(doc, doc.sections[0])
    return doc.text[:start].strip() if start > 0 else ""


def _closing(doc: Document) -> str:
    """Nơi nhận and the signature: from "Nơi nhận" to the appendix (or the end)."""
    start = doc.text.rfind("Nơi nhận")
    if start < 0 or not doc.sections:
        return ""
    end = len(doc.text)
    for section in doc.sections:
        pos = _find_heading(doc, section)
        if pos > start:
            end = min(end, pos)
    return doc.text[start:end].strip()
