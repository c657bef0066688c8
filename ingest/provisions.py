"""The dated provisions residents ask about, found in the texts themselves: each resolution's
Điều 2 (the new communes work from 01/7/2025, the old ones until then; in force when passed),
its Điều 3 (the exact areas published before 30/9/2025) and its closing line (passed on …), and
60-NQ/TW's end of the district level and count of provinces."""

from __future__ import annotations

import re

from ingest.records import Chunk, Document, Provision

_DATE = r"(\d{1,2})(?: tháng |/)(\d{1,2})(?: năm |/)(\d{4})"


def _pattern(text: str) -> re.Pattern[str]:
    """Words the source sometimes glues together ("16tháng", "ngàyđược") may touch."""
    return re.compile(text.replace(" ", r"\s*"), re.S)


# kind -> what the sentence says; a date in it is the provision's date
PATTERNS = {
    "communes_start": _pattern(
        rf"hình thành sau sắp xếp.{{0,160}}?chính thức hoạt động từ ngày {_DATE}"
    ),
    "old_until": _pattern(r"trước sắp xếp tiếp tục hoạt động cho đến khi"),
    "effective": _pattern(r"có hiệu lực thi hành từ ngày được thông qua"),
    "area_published": _pattern(
        rf"diện tích tự nhiên.{{0,200}}?công bố công khai trước ngày {_DATE}"
    ),
    "passed": _pattern(rf"được .{{0,120}}?thông qua ngày {_DATE}"),
    "district_end": _pattern(
        rf"kết thúc hoạt động của đơn vị hành chính cấp huyện từ ngày {_DATE}"
    ),
    "province_total": _pattern(
        r"số lượng đơn vị hành chính cấp tỉnh sau sáp nhập là \d+ tỉnh, thành phố"
    ),
}
# "Nghị quyết này được … thông qua ngày …" closes the text, after its last article
CLOSING = "câu kết"
_ITEM = re.compile(r"(?:^|\n)(\d+)\.\s")
_TOP_ITEM = re.compile(r"^(\d+)\.$")


def extract_provisions(doc: Document, chunks: list[Chunk]) -> list[Provision]:
    """Each provision once per document, from the first passage that states it."""
    found: dict[str, Provision] = {}
    for chunk in chunks:
        for kind, pattern in PATTERNS.items():
            m = pattern.search(chunk.text)
            if m is None or kind in found:
                continue
            date = _iso(m) if m.lastindex else (doc.date if kind == "effective" else "")
            section = CLOSING if kind == "passed" else _section(chunk, m.start())
            found[kind] = Provision(
                kind=kind, date=date, doc_id=doc.doc_id, number=doc.number, section=section,
                chunk_id=chunk.chunk_id, text=_sentence(chunk.text, m.start(), m.end()),
                province=doc.province,
            )  # fmt: skip
    return list(found.values())


def _iso(m: re.Match[str]) -> str:
    """The date of the last three groups: day, month, year."""
    last = m.lastindex or 0
    day, month, year = (int(m.group(i)) for i in range(last - 2, last + 1))
    return f"{year:04d}-{month:02d}-{day:02d}"


def _section(chunk: Chunk, at: int) -> str:
    """"Điều 2, khoản 2": the passage's section, with the numbered item the sentence is in."""
    top = _TOP_ITEM.match(chunk.section)
    if top:
        return f"mục {top.group(1)}"
    items = list(_ITEM.finditer(chunk.text, 0, at))
    if items and chunk.section.startswith("Điều") and "khoản" not in chunk.section:
        return f"{chunk.section}, khoản {items[-1].group(1)}"
    return chunk.section


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end]: from the previous full stop or line to the next."""
    full_stop = text.rfind(". ", 0, start)
    begin = max(full_stop + 2 if full_stop >= 0 else 0, text.rfind("\n", 0, start) + 1)
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    stop = min(stops) if stops else len(text)
    sentence = text[begin:stop].strip()
    return re.sub(r"^\d+\.\s+", "", sentence).rstrip(".") + "."
