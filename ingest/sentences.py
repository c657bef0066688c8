"""The sentences of a passage that can stand alone as a quote: its heading line is context, a
recipients line ("Đ/c … - UVBTVTU") or a table row is a listing, and the "Nơi nhận" block
quotes nothing. Shared by the index (sentence vectors) and the answer (what it may quote)."""

from __future__ import annotations

import re
from functools import lru_cache

from ingest.records import Chunk

NOT_QUOTED_SECTIONS = ("Nơi nhận",)
_LISTING = re.compile(r"^(?:\||Đ/c\b|đ/c\b|Đồng chí [^,.]{2,40} -)")
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-ZĐÀ-Ỹ0-9\-–“\"(])")
MIN_CHARS = 20
LEAD_IN_CHARS = 45


def quotable_sentences(chunk: Chunk) -> tuple[str, ...]:
    """Worked out once per passage (cached by text and headings)."""
    if chunk.section.startswith(NOT_QUOTED_SECTIONS):
        return ()
    return _quotable(chunk.text, tuple(chunk.heading_path))


@lru_cache(maxsize=16_384)
def _quotable(text: str, heading_path: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for line in text.splitlines():
        line = line.strip().lstrip("-–+• ").strip()
        if len(line) < MIN_CHARS or _is_heading(line, heading_path) or _LISTING.match(line):
            continue
        pieces = _joined_lead_ins([s.strip() for s in _SENTENCE_END.split(line)])
        out.extend(s for s in pieces if len(s) >= MIN_CHARS)
    return tuple(out)


def _joined_lead_ins(pieces: list[str]) -> list[str]:
    """"Đề nghị các chi bộ trực thuộc; Mặt trận Tổ quốc … nghiêm túc triển khai thực hiện.": a
    short clause ending in ";" introduces what follows, so it is quoted with it."""
    out: list[str] = []
    for piece in pieces:
        if out and out[-1].endswith(";") and len(out[-1]) <= LEAD_IN_CHARS:
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _is_heading(line: str, heading_path: tuple[str, ...]) -> bool:
    if line.isupper() and len(line) < 120:
        return True
    bare = re.sub(r"^(?:[IVXLC]+|\d+)\s*[.\-–]\s*", "", line)
    return any(bare and bare in h for h in heading_path) and not bare.endswith((".", ";"))
