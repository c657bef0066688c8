"""What a question names: documents ("kế hoạch Thanh Xuân", "nghị quyết 1656"), provinces
("ở Lạng Sơn"), and old communes or wards ("phường Thanh Xuân Bắc", "phuong 8 quan 11")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.documents import DocumentProfiles
from index.provinces import ProvinceMention
from index.registry import Placement, UnitRegistry
from ingest.address import ParsedAddress, find_address
from ingest.records import Document, UnitChange
from ingest.text import expand_abbreviations, fold, lexical_tokens, match_form, normalize

_LOCALITY = re.compile(
    r"\b(?:quận|huyện|thị xã|thành phố|tỉnh|xã|phường|thị trấn|đảng ủy khối|đảng ủy)\s+"
    r"((?:[A-ZĐÀ-Ỹ][^\s,.;:()]*\s*){1,4})"
)
_UNIT_KIND = {"xa": "xã", "phuong": "phường", "thi tran": "thị trấn", "dac khu": "đặc khu", "p": "phường"}
_DISTRICT = re.compile(r"\b(quan|huyen|thi xa|thanh pho|tp|tx)\s+((?:[a-z0-9]+\s*){1,4})")
_UNIT_WORDS = {"xa", "phuong", "thi tran", "dac khu", "huyen", "quan", "thi xa", "p"}

# new unit -> old units ("xã Thanh Lâm mới gồm những xã cũ nào", "hình thành từ", "ghép từ")
REVERSE = re.compile(
    r"\b(?:gom (?:nhung|cac)|gom (?:xa|phuong|don vi)|hinh thanh tu|ghep tu|hop thanh tu"
    r"|(?:lap|thanh lap|sap xep|sap nhap|nhap|tao|hop nhat) (?:lai )?tu|bao gom"
    r"|(?:xa|phuong|don vi|thi tran)(?: hanh chinh)? cu nao|tu (?:nhung|cac) (?:xa|phuong|don vi))\b"
)
# old unit -> new unit ("giờ là", "nay thuộc", "sáp nhập vào")
FORWARD = re.compile(
    r"\b(?:gio la|nay la|bay gio la|gio thuoc|nay thuoc|thuoc (?:xa|phuong|don vi)|ten moi"
    r"|dia chi moi|(?:sap nhap|nhap|hop nhat) (?:vao|voi)|ve (?:xa|phuong) nao|thanh (?:xa|phuong) nao"
    r"|con ten|doi (?:ten )?thanh|chuyen (?:ve|sang)|di dau|ve dau)\b"
)


@dataclass
class Hints:
    doc_ids: list[str] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)  # new province names
    units: list[Placement] = field(default_factory=list)
    unit_names: list[str] = field(default_factory=list)  # as recognised: "phường Thanh Xuân Bắc"
    mentions: list[ProvinceMention] = field(default_factory=list)  # provinces, old or new
    formed: list[UnitChange] = field(default_factory=list)  # new units of the named names
    districts: list[str] = field(default_factory=list)  # as typed after quận/huyện…
    address: ParsedAddress | None = None  # an address line with its units found

    @property
    def place(self) -> tuple[list[str], list[str]]:
        """(provinces, districts): what a follow-up inherits."""
        return self.provinces, self.districts


@dataclass
class Catalog:
    """Names by which a question can point at a document or a province."""

    numbers: dict[str, str]  # "1656/nq-ubtvqh15", "1656", "02-kh/btgduk" -> doc_id
    aliases: dict[str, set[str]]  # "thanh xuan" -> {doc_id}
    provinces: dict[str, str]  # "lang son" -> "Tỉnh Lạng Sơn" (old and new names)
    profiles: DocumentProfiles | None = None  # by issuer, subject, type and year

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
        return cls(numbers=numbers, aliases=aliases, provinces=names,
                   profiles=DocumentProfiles.build(documents))  # fmt: skip


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


def analyze(
    question: str,
    catalog: Catalog,
    registry: UnitRegistry | None,
    place: Hints | None = None,
) -> Hints:
    """What the question names. `place`: the previous turn's analysis, whose province and
    district a short follow-up keeps when it names none."""
    hints = Hints()
    q = match_form(question, chat=True)
    for key, new in catalog.provinces.items():
        if _names_province(q, key) and new not in hints.provinces:
            hints.provinces.append(new)
    if registry is not None:
        hints.mentions = registry.provinces.mentions(q)
        hints.districts = _districts(" ".join(fold(w) for w in _typed_words(question)))
        if place is not None and not hints.provinces:
            hints.provinces = list(place.provinces)
            hints.districts = hints.districts or list(place.districts)
        if not _find_address(question, hints, registry):
            _find_units(question, hints, registry)
        if not hints.unit_names and not hints.mentions and _asks_where(q, catalog):
            _find_bare_names(question, hints, registry)
        _find_formed(hints, registry)
    # "phường Thanh Xuân Bắc" names a ward, not the plan of quận Thanh Xuân
    for name in hints.unit_names:
        q = q.replace(fold(name), " ")
    for number, doc_id in catalog.numbers.items():
        if _contains(q, number) and doc_id not in hints.doc_ids:
            hints.doc_ids.append(doc_id)
    for alias, doc_ids in catalog.aliases.items():
        if _contains(q, alias):
            hints.doc_ids.extend(d for d in sorted(doc_ids) if d not in hints.doc_ids)
    if not hints.doc_ids and not hints.units and catalog.profiles is not None:
        described = catalog.profiles.best(q, set(lexical_tokens(question, chat=True)))
        hints.doc_ids.extend([described] if described else [])
    return hints


def _find_address(question: str, hints: Hints, registry: UnitRegistry) -> bool:
    """An address line ("số 7 ngõ 15 …, p. Quan Hoa, q. Cầu Giấy, Hà Nội"): its commune looked
    up in its province and district; False when it names none the registry knows."""
    address = find_address(question)
    if address is None or address.commune is None:
        return False
    province = address.province and registry.new_province(address.province)
    if address.province and not province:
        return False
    district = [address.district.name] if address.district else hints.districts
    commune = address.commune
    found = registry.find(commune.name, commune.kind, province or _one(hints.provinces), district)
    if province:
        # the units are looked for in the province the address gives, never in a namesake's
        hints.provinces = [province]
        hints.address = address
    if not found:
        return False
    hints.units = found
    hints.unit_names = [f"{commune.kind} {commune.name}"]
    hints.address = address
    return True


def _one(provinces: list[str]) -> str:
    return provinces[0] if len(provinces) == 1 else ""


def _find_formed(hints: Hints, registry: UnitRegistry) -> None:
    """New units bearing the names the question gives ("xã Thanh Lâm mới gồm …")."""
    province = _one(hints.provinces)
    for name in hints.unit_names:
        kind, bare = _kind_and_name(name)
        hints.formed.extend(
            c for c in registry.formed(bare, kind, province) if c not in hints.formed
        )


def _kind_and_name(name: str) -> tuple[str, str]:
    words = name.split()
    kind, width = _kind_at([fold(w) for w in words], 0)
    return kind, " ".join(words[width:])


def _typed_words(question: str) -> list[str]:
    return re.findall(r"[^\W_]+", expand_abbreviations(normalize(question), chat=True).lower())


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
    typed = _typed_words(question)
    words = [fold(w) for w in typed]
    district = hints.districts
    province = _one(hints.provinces)
    i = 0
    while i < len(words):
        kind, width = _kind_at(words, i)
        if not kind:
            i += 1
            continue
        start = i + width
        for end in range(min(len(words), start + 5), start, -1):
            name = " ".join(typed[start:end])
            found = registry.find(name, kind, province, district)
            if found or registry.formed(name, kind, province):
                hints.units.extend(p for p in found if p not in hints.units)
                hints.unit_names.append(" ".join(typed[i:end]))
                i = end
                break
        else:
            i = start
    return None


def _asks_where(q: str, catalog: Catalog) -> bool:
    """Worded like a unit question, naming no document: its bare names may be units."""
    if not (REVERSE.search(q) or FORWARD.search(q)):
        return False
    return not any(_contains(q, alias) for alias in catalog.aliases)


def _find_bare_names(question: str, hints: Hints, registry: UnitRegistry) -> None:
    """"Ô Chợ Dừa mới được ghép từ …": a unit name without its kind word, of two to four
    syllables, capitalised unless the whole question is typed in lower case."""
    tokens = re.findall(r"[^\W_]+", normalize(question))
    lower = question == question.lower()
    province = _one(hints.provinces)
    for i in range(len(tokens)):
        if not (lower or tokens[i][0].isupper()):
            continue
        for end in range(min(len(tokens), i + 4), i + 1, -1):
            name = " ".join(tokens[i:end])
            found = registry.find(name, "", province, hints.districts)
            if found or registry.formed(name, "", province):
                hints.units.extend(found)
                hints.unit_names.append(f"{(found or [None])[0] and found[0].old.kind or ''} {name}".strip())
                return


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


def kind_words(folded: str) -> list[str]:
    """The commune type word a folded text begins with ("thi tran lam" -> ["thi", "tran"])."""
    words = folded.split()
    _, width = _kind_at(words, 0) if words else ("", 0)
    return words[:width]


def find_units(question: str, hints: Hints, registry: UnitRegistry) -> None:
    """Every unit named after a type word, added to `hints` (an address names only one)."""
    _find_units(question, hints, registry)
    _find_formed(hints, registry)


def find_bare_names(question: str, hints: Hints, registry: UnitRegistry) -> None:
    """A unit named without its type word, in the province (and district) `hints` carries."""
    _find_bare_names(question, hints, registry)
    _find_formed(hints, registry)
