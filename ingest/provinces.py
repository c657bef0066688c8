"""The province level of the new map, from 60-NQ/TW's appendix: the 11 provinces not merged
and, for each of the 23 merges, the old provinces, the new name and where the
political-administrative centre sits. Read from the appendix's chunks, so every fact carries
the section a citation points at."""

from __future__ import annotations

import re
from functools import lru_cache

from ingest.records import Chunk, Document, ProvinceChange
from ingest.text import fold

_MERGE = re.compile(
    r"^Hợp nhất (?P<olds>.+?)[;,]? lấy tên là (?P<new>.+?), trung tâm chính trị\s*-\s*hành chính"
    r" đặt tại (?P<centre>.+?)\.?$",
    re.S,
)
_PROVINCE = re.compile(r"(tỉnh|thành phố|Thành phố)\s+([^,;]+?)(?=,|;| và |$)")
_KEPT = re.compile(r"(?:^|\s)\d+\.\s+((?:Tỉnh|Thành phố) [^.]+)\.")
_KEPT_SECTION = "khong thuc hien sap nhap"  # folded heading of list I


@lru_cache(maxsize=4096)
def province_key(name: str) -> str:
    """"Tỉnh Bình Định" / "tinh binh dinh" / "Bình Định" -> "binh dinh"."""
    key = fold(name).strip()
    return re.sub(r"^(tinh|thanh pho|tp\.?)\s+", "", key).strip()


def extract_provinces(doc: Document, chunks: list[Chunk]) -> list[ProvinceChange]:
    """Every province of the appendix's two lists (empty for any other document)."""
    out: list[ProvinceChange] = []
    for chunk in chunks:
        text = " ".join(chunk.text.split())
        if m := _MERGE.match(text):
            olds = [_titled(f"{p.group(1)} {p.group(2)}") for p in _PROVINCE.finditer(m["olds"])]
            out.append(_change(doc, chunk, _titled(m["new"]), olds, m["centre"], text))
        elif _KEPT_SECTION in fold(chunk.section):
            for kept in dict.fromkeys(k.strip() for k in _KEPT.findall(text)):
                out.append(_change(doc, chunk, kept, [kept], "", text, merged=False))
    return out


def _change(
    doc: Document, chunk: Chunk, new: str, olds: list[str], centre: str, text: str,
    merged: bool = True,
) -> ProvinceChange:
    return ProvinceChange(
        new_name=new, olds=olds, centre=centre.strip(), doc_id=doc.doc_id, number=doc.number,
        section=chunk.section, date=doc.date, text=text, merged=merged,
    )  # fmt: skip


def province_merges(changes: list[ProvinceChange]) -> dict[str, str]:
    """Old province key -> new province name."""
    return {province_key(old): c.new_name for c in changes for old in c.olds}


def _titled(name: str) -> str:
    name = re.sub(r"\s+", " ", name.strip())
    return name[0].upper() + name[1:]
