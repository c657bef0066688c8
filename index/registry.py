"""Lookups over the units registry: where did an old commune or ward go?"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.records import OldUnit, UnitChange
from ingest.text import fold, normalize
from ingest.units import KINDS, province_key


@dataclass(frozen=True)
class Placement:
    """One old unit (or its part) and the new unit that took it."""

    change: UnitChange
    old: OldUnit


def name_key(name: str) -> str:
    return normalize(re.sub(r"\s*-\s*", " - ", name)).lower()


class UnitRegistry:
    """Old unit -> new unit(s), across all provinces."""

    def __init__(self, changes: list[UnitChange], provinces: dict[str, str]):
        self.changes = changes
        self.provinces = provinces  # old province key -> new province name
        self._by_name: dict[str, list[Placement]] = {}
        self._by_folded: dict[str, list[Placement]] = {}
        for change in changes:
            for old in change.olds:
                placement = Placement(change, old)
                self._by_name.setdefault(name_key(old.name), []).append(placement)
                self._by_folded.setdefault(fold(old.name), []).append(placement)

    def new_province(self, old_province: str) -> str:
        return self.provinces.get(province_key(old_province), "")

    def find(
        self,
        name: str,
        kind: str = "",
        province: str = "",
        district: str = "",
    ) -> list[Placement]:
        """Placements of the old unit `name`; typed without diacritics, it is matched folded.

        `province` may be the old or the new province; `district` picks between two units of
        the same name that the resolution tells apart by "(huyện …)".
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
            pool = _by_district(pool, district)
        return pool


def _by_district(pool: list[Placement], district: str) -> list[Placement]:
    """Drop placements whose qualifier names another district; keep unqualified ones."""
    wanted = _district_key(district)
    matching = [p for p in pool if p.old.qualifier and _district_key(p.old.qualifier) == wanted]
    if not matching:
        return pool
    return [p for p in pool if not p.old.qualifier or _district_key(p.old.qualifier) == wanted]


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
