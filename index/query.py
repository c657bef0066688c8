"""What a question names: documents ("kế hoạch Thanh Xuân", "nghị quyết 1656"), provinces
("ở Lạng Sơn"), and old communes or wards ("phường Thanh Xuân Bắc", "phuong 8 quan 11")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.registry import Placement, UnitRegistry
from ingest.records import Document
from ingest.text import expand_abbreviations, fold, match_form, normalize

_LOCALITY = re.compile(
    r"\b(?:quận|huyện|thị xã|thành phố|tỉnh|xã|phường|thị trấn|đảng ủy khối|đảng ủy)\s+"
    r"((?:[A-ZĐÀ-Ỹ][^\s,.;:()]*\s*){1,4})"
)
_UNIT_KIND = {"xa": "xã", "phuong": "phường", "thi tran": "thị trấn", "dac khu": "đặc khu", "p": "phường"}
_DISTRICT = re.compile(r"\b(quan|huyen|thi xa|thanh pho|tp|tx)\s+((?:[a-z0-9]+\s*){1,4})")
_UNIT_WORDS = {"xa", "phuong", "thi tran", "dac khu", "huyen", "quan", "thi xa", "p"}


@dataclass
class Hints:
    doc_ids: list[str] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)  # new province names
    units: list[Placement] = field(default_factory=list)
    unit_names: list[str] = field(default_factory=list)  # as recognised: "phường Thanh Xuân Bắc"


@dataclass
class Catalog:
    """Names by which a question can point at a document or a province."""

    numbers: dict[str, str]  # "1656/nq-ubtvqh15", "1656", "02-kh/btgduk" -> doc_id
    aliases: dict[str, set[str]]  # "thanh xuan" -> {doc_id}
    provinces: dict[str, str]  # "lang son" -> "Tỉnh Lạng Sơn" (old and new names)

    @classmethod
    def build(cls, documents: list[Document], provinces: dict[str, str]) -> Catalog:
        numbers: dict[str, str] = {}
        aliases: dict[str, set[str]] = {}
        for doc in documents:
            if doc.number:
                numbers[fold(doc.number)] = doc.doc_id
                head = re.match(r"\d{3,}", doc.number)
                if head:
                    numbers.setdefault(head.group(0), doc.doc_id)
            for name in _localities(doc):
                aliases.setdefault(fold(name), set()).add(doc.doc_id)
        names = {key: new for key, new in provinces.items()}
        for new in set(provinces.values()):
            names[_province_key(new)] = new
        return cls(numbers=numbers, aliases=aliases, provinces=names)


def _province_key(name: str) -> str:
    return re.sub(r"^(tinh|thanh pho)\s+", "", fold(name)).strip()


def _localities(doc: Document) -> set[str]:
    names = {doc.place} if doc.place else set()
    for text in (doc.title, doc.issuer, doc.province):
        names.update(m.group(1).strip() for m in _LOCALITY.finditer(text))
    if doc.province:
        names.add(doc.province)
    return {n for n in names if len(n.split()) >= 2 or n[:1].isdigit()}


def _contains(haystack: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", haystack) is not None


def analyze(question: str, catalog: Catalog, registry: UnitRegistry | None) -> Hints:
    hints = Hints()
    q = match_form(question, chat=True)
    for key, new in catalog.provinces.items():
        if _names_province(q, key) and new not in hints.provinces:
            hints.provinces.append(new)
    if registry is not None:
        _find_units(question, hints, registry)
    # "phường Thanh Xuân Bắc" names a ward, not the plan of quận Thanh Xuân
    for name in hints.unit_names:
        q = q.replace(fold(name), " ")
    for number, doc_id in catalog.numbers.items():
        if _contains(q, number) and doc_id not in hints.doc_ids:
            hints.doc_ids.append(doc_id)
    for alias, doc_ids in catalog.aliases.items():
        if _contains(q, alias):
            hints.doc_ids.extend(d for d in sorted(doc_ids) if d not in hints.doc_ids)
    return hints


def _names_province(q: str, key: str) -> bool:
    """"tỉnh Lạng Sơn", "ở Lạng Sơn" — but not the "Bình Thuận" of "xã Bình Thuận"."""
    for m in re.finditer(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", q):
        before = q[: m.start()].split()[-2:]
        if not before or before[-1] not in _UNIT_WORDS and " ".join(before) not in _UNIT_WORDS:
            return True
    return False


def _find_units(question: str, hints: Hints, registry: UnitRegistry) -> None:
    """After each unit word, the longest run of words that names an old unit.

    Words keep their diacritics when typed with them: "Tân Thạnh" is not "Tân Thành".
    """
    typed = re.findall(r"[^\W_]+", expand_abbreviations(normalize(question), chat=True).lower())
    words = [fold(w) for w in typed]
    district = _districts(" ".join(words))
    province = hints.provinces[0] if len(hints.provinces) == 1 else ""
    i = 0
    while i < len(words):
        kind, width = _kind_at(words, i)
        if not kind:
            i += 1
            continue
        start = i + width
        for end in range(min(len(words), start + 5), start, -1):
            found = registry.find(" ".join(typed[start:end]), kind, province, district)
            if found:
                hints.units.extend(p for p in found if p not in hints.units)
                hints.unit_names.append(" ".join(typed[i:end]))
                i = end
                break
        else:
            i = start
    return None


def _kind_at(words: list[str], i: int) -> tuple[str, int]:
    if i > 0 and words[i - 1] == "dia":  # "địa phương", not a ward
        return "", 0
    two = " ".join(words[i : i + 2])
    if two in _UNIT_KIND:
        return _UNIT_KIND[two], 2
    if words[i] in _UNIT_KIND:
        return _UNIT_KIND[words[i]], 1
    return "", 0


def _districts(q: str) -> list[str]:
    """The words after each "quận/huyện/thị xã/thành phố": candidates for a district."""
    return [m.group(2) for m in _DISTRICT.finditer(q)]
