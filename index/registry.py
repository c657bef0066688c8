"""Lookups over the units registry: where did an old commune or ward go?"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.provinces import ProvinceRegistry
from index.store import Index
from ingest.provinces import province_key
from ingest.records import OldUnit, UnitChange
from ingest.text import fold, normalize
from ingest.units import KINDS


@dataclass(frozen=True)
class Placement:
    """One old unit (or its part) and the new unit that took it."""

    change: UnitChange
    old: OldUnit


def name_key(name: str) -> str:
    return normalize(re.sub(r"\s*-\s*", " - ", name)).lower()


class UnitRegistry:
    """Old unit -> new unit(s), across all provinces."""

    def __init__(self, changes: list[UnitChange], provinces: ProvinceRegistry):
        self.changes = changes
        self.provinces = provinces
        self._by_name: dict[str, list[Placement]] = {}
        self._by_folded: dict[str, list[Placement]] = {}
        # Where a district name is known to be: from "(huyện …)" qualifiers and from new units
        # named after their old district ("xã Yên Định").
        self._district_provinces: dict[str, set[str]] = {}
        for change in changes:
            self._district_provinces.setdefault(fold(change.new_name), set()).add(change.province)
            for old in change.olds:
                key = _district_key(old.qualifier)
                if key:
                    self._district_provinces.setdefault(key, set()).add(change.province)
        self._by_new: dict[str, list[UnitChange]] = {}
        for change in changes:
            self._by_new.setdefault(fold(change.new_name), []).append(change)
            for old in change.olds:
                placement = Placement(change, old)
                self._by_name.setdefault(name_key(old.name), []).append(placement)
                self._by_folded.setdefault(fold(old.name), []).append(placement)

    @classmethod
    def of(cls, index: Index) -> UnitRegistry:
        """Every arrangement clause of the index, over its provinces and counts."""
        registry = index.registry
        changes = [u for f in index.files.values() for u in f.units]
        return cls(changes, ProvinceRegistry(registry.province_changes, registry.counts))

    def new_province(self, old_province: str) -> str:
        return self.provinces.new_province(old_province)

    def find(
        self,
        name: str,
        kind: str = "",
        province: str = "",
        district: str | list[str] = "",
    ) -> list[Placement]:
        """Placements of the old unit `name`; typed without diacritics, it is matched folded.

        `province` may be the old or the new province; `district` (or several candidate
        district texts, as typed after "quận/huyện …") picks between units of the same name
        that the resolution tells apart by "(huyện …)".
        """
        exact = name != fold(name)
        pool = self._by_name.get(name_key(name), []) if exact else []
        if not pool:
            pool = self._by_folded.get(fold(name), [])
        if kind:
            pool = [p for p in pool if fold(p.old.kind) == fold(kind)]
        if province:
            wanted = {province_key(province), province_key(self.new_province(province))}
            pool = [p for p in pool if province_key(p.change.province) in wanted]
        if district:
            typed = [district] if isinstance(district, str) else district
            pool = _by_district(pool, typed)
            pool = self._in_district_province(pool, typed)
        return pool

    def formed(self, name: str, kind: str = "", province: str = "") -> list[UnitChange]:
        """The new units called `name` (each with the old units it took); typed with
        diacritics, only those spelled so ("Sơn Hà" is not "Sơn Hạ")."""
        pool = self._by_new.get(fold(name), [])
        if name != fold(name):
            pool = [c for c in pool if name_key(c.new_name) == name_key(name)] or pool
        if kind:
            pool = [c for c in pool if fold(c.new_kind) == fold(kind)]
        if province:
            wanted = {province_key(province), province_key(self.new_province(province))}
            pool = [c for c in pool if province_key(c.province) in wanted]
        return pool

    def _in_district_province(self, pool: list[Placement], typed: list[str]) -> list[Placement]:
        """Namesakes in several provinces: keep the province where the typed district is."""
        if len({p.change.province for p in pool}) < 2:
            return pool
        provinces: set[str] = set()
        for text in typed:
            words = _district_key(text).split()
            for n in range(len(words), 0, -1):
                found = self._district_provinces.get(" ".join(words[:n]))
                if found:
                    provinces |= found
                    break
        narrowed = [p for p in pool if p.change.province in provinces]
        return narrowed or pool


def _by_district(pool: list[Placement], districts: list[str]) -> list[Placement]:
    """Keep the units whose "(huyện …)" names the district typed; unqualified namesakes stay
    only in the province where the qualified one was found."""
    typed = [_district_key(d) for d in districts if d.strip()]

    def names_it(p: Placement) -> bool:
        key = _district_key(p.old.qualifier)
        return bool(key) and any(f"{t} ".startswith(f"{key} ") for t in typed)

    matching = [p for p in pool if p.old.qualifier and names_it(p)]
    if not matching:
        return pool
    provinces = {p.change.province for p in matching}
    return [
        p
        for p in pool
        if names_it(p) or (not p.old.qualifier and p.change.province in provinces)
    ]


def _district_key(text: str) -> str:
    key = fold(text.split(",")[0]).strip()
    return re.sub(r"^(huyen|quan|thi xa|thanh pho|tp\.?|tx\.?)\s+", "", key)


def split_unit(text: str) -> tuple[str, str]:
    """"Xã Bình Thuận" -> ("xã", "Bình Thuận"); "Phường 1" -> ("phường", "1")."""
    text = text.strip()
    for kind in KINDS:
        if fold(text).startswith(fold(kind) + " "):
            return kind, text[len(kind) + 1 :].strip()
    return "", text
