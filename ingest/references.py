"""Citations of other documents inside a text ("Nghị quyết số 37-NQ/TW ngày 24/12/2018 của Bộ
Chính trị"): kind, number, date and issuer, de-duplicated, the preamble's marked as bases.
"""

from __future__ import annotations

import re

from ingest.casing import capitalize
from ingest.records import Reference
from ingest.text import fold

# Kinds of cited documents, longest first so "Báo cáo thẩm tra" wins over "Báo cáo".
REFERENCE_KINDS = tuple(
    sorted(
        {
            "Nghị quyết", "Nghị định", "Kế hoạch", "Chỉ thị", "Kết luận", "Hướng dẫn",
            "Quyết định", "Công văn", "Công điện", "Thông báo", "Thông tư", "Thông tri",
            "Quy định", "Quy chế", "Chương trình hành động", "Chương trình", "Tờ trình",
            "Đề án", "Báo cáo thẩm tra", "Báo cáo", "Đề cương", "Pháp lệnh", "Luật",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
KINDS = "|".join(REFERENCE_KINDS)
NUMBER = r"\d+(?:/\d{4})?(?:[-/][^\W_]+)+"  # 37-NQ/TW, 117/NQ-CP, 76/2025/UBTVQH15
_DATE = (
    r"(?:(?P<d>\d{1,2})\s*/\s*(?P<m>\d{1,2})\s*/\s*(?P<y>\d{4})"
    r"|(?P<wd>\d{1,2})?\s*tháng\s+(?P<wm>\d{1,2})\s+năm\s+(?P<wy>\d{4}))"
)
_REFERENCE = re.compile(
    rf"(?<!\w)(?:(?P<kind>{KINDS})(?:\s+số)?\s*:?\s+(?P<number>{NUMBER})"
    rf"|(?-i:(?P<law>Luật|Pháp lệnh))(?:\s+[^\s,;:.()“”\"]+){{1,10}}?"
    rf"\s+số\s+(?P<lawnumber>{NUMBER}))",
    re.IGNORECASE,
)
REF_DATE = re.compile(rf"\s*,?\s*ngày\s+{_DATE}")
_ISSUER_STOP = (
    r"(?=\s+(?:về|ban hành|tuyên truyền|thực hiện|triển khai|hướng dẫn|quy định|tại|để|theo|đã"
    rf"|và\s+(?i:{KINDS}))(?!\w)|\s*(?:[\n,;:()“”\"]|\.(?:\s|$)|$))"
)
REF_ISSUER = re.compile(rf"\s*,?\s*của\s+(?P<issuer>[^\n,;:()“”\"]+?){_ISSUER_STOP}")
_LETTER_CHAR = re.compile(r"[^\W\d_]")


def iso(day: str | None, month: str | None, year: str | None) -> str:
    if not year:
        return ""
    if not month:
        return year
    if not day:
        return f"{int(year):04d}-{int(month):02d}"
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def date_of(match: re.Match[str]) -> str:
    if match["y"]:
        return iso(match["d"], match["m"], match["y"])
    return iso(match["wd"], match["wm"], match["wy"])


def find_references(text: str) -> list[Reference]:
    """Every cited document with its number, in order of appearance (not yet de-duplicated)."""
    found: list[Reference] = []
    for m in _REFERENCE.finditer(text):
        number = m["number"] or m["lawnumber"]
        if "/" not in number or not _LETTER_CHAR.search(number):
            continue
        kind = capitalize((m["kind"] or m["law"]).lower())
        date = REF_DATE.match(text, m.end())
        issuer = REF_ISSUER.match(text, date.end() if date else m.end())
        found.append(
            Reference(
                kind=kind,
                number=number,
                date=date_of(date) if date else "",
                issuer=_issuer_name(issuer["issuer"]) if issuer else "",
            )
        )
    return found


def _issuer_name(raw: str) -> str:
    """A cited issuer, or "" when the match ran on into a sentence."""
    name = " ".join(raw.split())
    return name if len(name.split()) <= 12 else ""


def merge_references(
    found: list[Reference], bases: list[Reference], own_number: str
) -> tuple[list[Reference], list[Reference]]:
    """De-duplicate by (kind, number), completing date and issuer; mark the preamble's as bases."""
    merged: dict[tuple[str, str], Reference] = {}
    for ref in [*bases, *found]:
        if own_number and ref.number == own_number:
            continue
        key = (fold(ref.kind), fold(ref.number))
        kept = merged.setdefault(key, Reference(kind=ref.kind, number=ref.number))
        kept.date = kept.date or ref.date
        kept.issuer = kept.issuer or ref.issuer
    basis_keys = list(dict.fromkeys((fold(r.kind), fold(r.number)) for r in bases))
    for key in basis_keys:
        if key in merged:
            merged[key].basis = True
    order = list(dict.fromkeys((fold(r.kind), fold(r.number)) for r in found))
    references = [merged[k] for k in order if k in merged]
    references += [ref for k, ref in merged.items() if k not in order]
    return references, [merged[k] for k in basis_keys if k in merged]
