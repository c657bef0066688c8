"""Country-wide facts and dates: sums and extremes over the 34 closing count clauses, the
provinces merged and kept (60-NQ/TW), the old communes the resolutions arranged, the dated
provisions (when the new communes start, when the district level ends …), and which resolution
is a province's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.oldmap import OldMap
from index.provinces import ProvinceRegistry
from index.registry import UnitRegistry
from index.store import Index
from ingest.provinces import province_key
from ingest.records import Document, ProvinceChange, Provision, UnitCount

NEW_KINDS = ("xã", "phường", "đặc khu")
_KIND_COUNT = re.compile(r"(\d+)\s+(xã|phường|đặc khu)")


@dataclass
class NationalFacts:
    counts: list[UnitCount]  # the 34 closing clauses, one per new province
    by_kind: dict[str, int]  # "xã" -> 2621, "phường" -> 687, "đặc khu" -> 13
    merged: list[ProvinceChange]  # 60-NQ/TW: the 23 merges
    kept: list[ProvinceChange]  # and the 11 provinces kept as they were
    arranged: int  # new units formed by an arrangement clause
    unchanged: int  # units the resolutions keep as they were
    old_arranged: int  # old communes those clauses took (the list's count when it is loaded)
    old_listed: int = 0  # communes in the reference list (0: none loaded)
    unbalanced: list[UnitCount] = field(default_factory=list)  # breakdown ≠ total: said so

    @property
    def total(self) -> int:
        return sum(c.total for c in self.counts)

    def most(self) -> list[UnitCount]:
        """The provinces with the most commune-level units (several when tied)."""
        top = max((c.total for c in self.counts), default=0)
        return [c for c in self.counts if c.total == top]

    def fewest(self) -> list[UnitCount]:
        low = min((c.total for c in self.counts), default=0)
        return [c for c in self.counts if c.total == low]


def kind_counts(count: UnitCount) -> dict[str, int]:
    """"113 phường, 54 xã và 01 đặc khu" -> {"phường": 113, "xã": 54, "đặc khu": 1}."""
    out: dict[str, int] = {}
    for number, kind in _KIND_COUNT.findall(count.breakdown):
        out[kind] = out.get(kind, 0) + int(number)
    return out


def national_facts(
    index: Index, registry: UnitRegistry, oldmap: OldMap | None = None
) -> NationalFacts:
    """The country-wide facts; with the old map, the old communes arranged are counted on the
    list (namesakes are then told apart), else as the distinct old units the clauses name."""
    counts = index.registry.counts
    by_kind = {kind: sum(kind_counts(c).get(kind, 0) for c in counts) for kind in NEW_KINDS}
    changes = registry.changes
    arranged = [c for c in changes if not c.unchanged]
    if oldmap is not None and oldmap.communes:
        old_arranged = sum(
            any(not p.change.unchanged for p in oldmap.placements(c)) for c in oldmap.communes
        )  # fmt: skip
    else:
        olds = {(c.province, o.kind, o.name, o.qualifier) for c in arranged for o in c.olds}
        old_arranged = len(olds)
    provinces = index.registry.province_changes
    return NationalFacts(
        counts=counts,
        by_kind=by_kind,
        merged=[c for c in provinces if c.merged],
        kept=[c for c in provinces if not c.merged],
        arranged=len(arranged),
        unchanged=len(changes) - len(arranged),
        old_arranged=old_arranged,
        old_listed=len(oldmap.communes) if oldmap is not None else 0,
        unbalanced=[c for c in counts if sum(kind_counts(c).values()) != c.total],
    )


class Provisions:
    """The dated provisions, by kind and by the province a resolution is about."""

    def __init__(self, index: Index, provinces: ProvinceRegistry):
        self.index = index
        self.provinces = provinces
        self.all = index.registry.provisions

    def of(self, kind: str, province: str = "") -> list[Provision]:
        """Every provision of `kind`; with a province (old or new), its resolution's only —
        or all of them when the province has none (60-NQ/TW is about every province)."""
        found = [p for p in self.all if p.kind == kind]
        if province:
            key = province_key(self.provinces.new_province(province) or province)
            own = [p for p in found if province_key(p.province) == key]
            return own or [p for p in found if not p.province]
        return found

    def resolutions(self, province: str) -> list[Document]:
        """The commune-level resolution(s) of a province, old or new name."""
        key = province_key(self.provinces.new_province(province) or province)
        return [
            f.document for f in self.index.files.values()
            if f.document.province and province_key(f.document.province) == key
        ]  # fmt: skip
