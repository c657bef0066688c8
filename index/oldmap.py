"""The old map: the provinces, districts and communes of the reference list (the GSO list of
01/03/2025), each old commune with the new unit(s) its resolution's clauses put it in, and the
codes both ways. It tells namesakes apart by their district, knows which old names exist at
all, and gives the rows it answers from as a passage to cite."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from index.codes import NewCodes
from index.registry import Placement, UnitRegistry
from index.store import Index
from ingest.oldmatch import district_key, exact_key, loose_key, match_communes
from ingest.provinces import province_key
from ingest.records import Chunk, Document, OldCommune
from ingest.text import fold, normalize
from prompts import template

DISTRICT_KINDS = ("quận", "huyện", "thị xã", "thành phố")
NEAR_NAMES = 5


@dataclass(frozen=True)
class OldDistrict:
    province: str  # the old province, as listed: "Thành phố Hà Nội"
    province_code: str
    name: str  # as listed: "Quận Cầu Giấy"
    code: str  # "005"
    communes: tuple[OldCommune, ...]
    doc_id: str  # the list it comes from

    @property
    def kind(self) -> str:
        return next((k for k in DISTRICT_KINDS if fold(self.name).startswith(fold(k) + " ")), "")

    @property
    def label(self) -> str:
        """"quận Cầu Giấy": as written inside a sentence."""
        return f"{self.kind} {self.bare}" if self.kind else self.name

    @property
    def bare(self) -> str:
        """"Cầu Giấy", "3": the name without its kind."""
        return self.name[len(self.kind) :].strip() if self.kind else self.name


@dataclass(frozen=True)
class Located:
    """What an old address's commune is in the list (in the district typed, when the list
    knows that district)."""

    communes: list[OldCommune]
    placements: list[Placement]
    district: OldDistrict | None = None  # the district typed, found in the list
    near: list[OldCommune] | None = None  # the district's names nearest the one typed, if absent


class OldMap:
    def __init__(self, index: Index, registry: UnitRegistry):
        self.registry = registry
        files = index.files
        self.sources = {d: files[d].document for d in files if files[d].reference}
        self.codes = NewCodes(index.registry.unit_list, {d: f.chunks for d, f in files.items()})
        self.communes: list[OldCommune] = []
        districts: dict[str, list[OldCommune]] = {}
        list_of: dict[str, str] = {}
        for doc_id in self.sources:
            for c in files[doc_id].reference:
                self.communes.append(c)
                districts.setdefault(c.district_code, []).append(c)
                list_of.setdefault(c.district_code, doc_id)
        self.districts = [
            OldDistrict(g[0].province, g[0].province_code, g[0].district, code, tuple(g), list_of[code])
            for code, g in districts.items()
        ]  # fmt: skip
        self._district_by_code = {d.code: d for d in self.districts}
        self._districts_named: dict[str, list[OldDistrict]] = {}
        for d in self.districts:
            self._districts_named.setdefault(district_key(d.name), []).append(d)
        self._old_provinces = {province_key(d.province) for d in self.districts}
        self._by_code = {c.code: c for c in self.communes}
        self._names: dict[str, list[OldCommune]] = {}
        for c in self.communes:
            self._names.setdefault(loose_key(c.name), []).append(c)
        matching = match_communes(self.communes, registry.changes, registry.new_province)
        self._placements = {
            code: [Placement(change, old) for change, old in refs]
            for code, refs in matching.by_code.items()
        }
        self._unlisted = {(id(change), id(old)) for change, old in matching.unlisted}

    # --- districts ------------------------------------------------------------------------

    def districts_of(self, province: str) -> list[OldDistrict]:
        """The districts of an old province (of every old province a new one took, when the
        name is only a new province's)."""
        return [d for d in self.districts if self._in_province(d.province, province)]

    def find_districts(self, name: str, province: str = "") -> list[OldDistrict]:
        """Old districts called `name` ("quận Cầu Giấy", "cau giay", "Quận 3"), in every
        province that has one, or in `province`: the old one of that name, else the new one."""
        # "Quan Hóa" is a name, "quận Hóa" would be another: the text is tried as typed too
        keys = dict.fromkeys((district_key(name), district_key(f"huyện {name}")))
        named = [d for key in keys for d in self._districts_named.get(key, [])]
        if not province:
            return named
        own = [d for d in named if self._in_province(d.province, province)]
        return own or [d for d in named if self._now_in(d.province, province)]

    def district_by_code(self, code: str) -> OldDistrict | None:
        return self._district_by_code.get(code.strip().zfill(3)) if code.strip().isdigit() else None

    def district_of(self, commune: OldCommune) -> OldDistrict:
        return self._district_by_code[commune.district_code]

    # --- communes -------------------------------------------------------------------------

    def commune_by_code(self, code: str) -> OldCommune | None:
        return self._by_code.get(code.strip().zfill(5)) if code.strip().isdigit() else None

    def placements(self, commune: OldCommune) -> list[Placement]:
        """The clauses that put the old commune (or its parts) into new units."""
        return self._placements.get(commune.code, [])

    def find_communes(
        self, name: str, kind: str = "", province: str = "", district: OldDistrict | None = None
    ) -> list[OldCommune]:
        """Listed communes called `name` (spelling variants allowed), of a kind, in a district,
        in a province: the old one of that name, else the new one ("Tuyên Quang" is both)."""
        name = normalize(name)
        found = self._names.get(loose_key(name), [])
        if name != fold(name):  # typed with diacritics: those spelled so, when there are
            spelled = [c for c in found if exact_key(c.name) == exact_key(name)]
            found = spelled or [c for c in found if fold(c.name) == fold(name)] or found
        found = [
            c for c in found
            if (not kind or fold(c.kind) == fold(kind))
            and (district is None or c.district_code == district.code)
        ]  # fmt: skip
        if not province:
            return found
        own = [c for c in found if self._in_province(c.province, province)]
        return own or [c for c in found if self._now_in(c.province, province)]

    def locate(self, kind: str, name: str, province: str = "", district: str = "") -> Located:
        """The commune of an old address: in the typed district when the list knows that
        district (else anywhere in the province), with the district's nearest names when the
        district has no such commune."""
        districts = self.find_districts(district, province) if district else []
        if len(districts) == 1:
            typed = districts[0]
            found = self.find_communes(name, kind, province, typed)
            found = found or self.find_communes(name, "", province, typed)  # "thị trấn" typed "xã"
            near = None if found else self.near(name, typed)
            return Located(found, self._placed(found), typed, near)
        found = self.find_communes(name, kind, province)
        if districts:
            found = [c for c in found if c.district_code in {d.code for d in districts}] or found
        return Located(found, self._placed(found))

    def near(self, name: str, district: OldDistrict) -> list[OldCommune]:
        """The district's communes whose names are nearest `name`, nearest first."""
        names = {fold(c.name): c for c in district.communes}
        close = difflib.get_close_matches(fold(name), list(names), n=NEAR_NAMES, cutoff=0.5)
        return [names[n] for n in close]

    def unlisted(self, placements: list[Placement]) -> list[Placement]:
        """Those of a clause's old units that no row of the list is (the resolution's own
        spelling, "Sủng Cháng" for the list's "Sủng Tráng", or an island district)."""
        return [p for p in placements if (id(p.change), id(p.old)) in self._unlisted]

    def _placed(self, communes: list[OldCommune]) -> list[Placement]:
        placed: dict[tuple[int, int], Placement] = {}
        for c in communes:
            for p in self.placements(c):
                placed.setdefault((id(p.change), id(p.old)), p)
        return list(placed.values())

    def _in_province(self, old_province: str, wanted: str) -> bool:
        """`wanted` names this old province, or the new province it is part of (when the
        name is not itself an old province's)."""
        key = province_key(wanted)
        if key == province_key(old_province):
            return True
        return key not in self._old_provinces and self._now_in(old_province, wanted)

    def _now_in(self, old_province: str, wanted: str) -> bool:
        """The old province is part of the new province `wanted` names (old or new name)."""
        new = self.registry.new_province(wanted)
        return bool(new) and province_key(new) == province_key(self.registry.new_province(old_province))

    # --- citing the list ------------------------------------------------------------------

    def list_name(self, doc_id: str) -> str:
        """"Danh mục ĐVHC, Tổng cục Thống kê, 01/03/2025"."""
        doc: Document = self.sources[doc_id]
        day = "/".join(reversed(doc.date.split("-")))  # as the list is known: 01/03/2025
        return template("oldmap.list_name", issuer=doc.issuer, date=day).rstrip(", ")

    def district_chunk(self, district: OldDistrict) -> Chunk:
        """The district's rows of the list as a passage: what a fact from the list cites."""
        rows = ", ".join(f"{c.kind.capitalize()} {c.name} ({c.code})" for c in district.communes)
        place = f"{district.province} ({district.province_code}) › {district.name} ({district.code})"
        return Chunk(
            chunk_id=f"{district.doc_id}#{district.code}",
            doc_id=district.doc_id,
            text=f"{place}: {rows}.",
            section=f"{district.province} › {district.name} (mã {district.code})",
            province=district.province,
        )
