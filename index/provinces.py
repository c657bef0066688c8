"""Lookups over the province level of the new map: which new province an old one is part of,
which old provinces a new one took, where its centre is, and how many communes it has now."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.provinces import province_key
from ingest.records import ProvinceChange, UnitCount

# Names people use for a province that the appendix writes otherwise.
_NICKNAMES = {"hcm": "ho chi minh", "tphcm": "ho chi minh", "sai gon": "ho chi minh"}
# "xã Bình Thuận", "huyện Thái Bình": a unit named like a province is not the province.
_UNIT_BEFORE = re.compile(r"(?<![a-z0-9])(?:xa|phuong|thi tran|dac khu|huyen|quan|thi xa|ap|thon|p|x|h|q)\s+$")


@dataclass(frozen=True)
class ProvinceMention:
    """A province a question names: the key typed, and whether that name is an old province
    that no longer exists under it (Thái Bình), the new one (Hưng Yên), or both (Lào Cai)."""

    key: str
    change: ProvinceChange  # the merge (or kept province) the name belongs to
    as_old: bool  # the name is one of the change's old provinces
    as_new: bool  # the name is the change's new province


class ProvinceRegistry:
    def __init__(self, changes: list[ProvinceChange], counts: list[UnitCount]):
        self.changes = changes
        self._as_old = {province_key(old): c for c in changes for old in c.olds}
        self._as_new = {province_key(c.new_name): c for c in changes}
        self._counts = {province_key(c.province): c for c in counts}
        keys = set(self._as_old) | set(self._as_new) | set(_NICKNAMES)
        self._pattern = re.compile(
            r"(?<![a-z0-9])(" + "|".join(sorted(map(re.escape, keys), key=len, reverse=True))
            + r")(?![a-z0-9])"
        ) if keys else None

    def mentions(self, folded: str) -> list[ProvinceMention]:
        """The provinces a folded question names, in order, each once."""
        if self._pattern is None:
            return []
        found: dict[str, ProvinceMention] = {}
        for m in self._pattern.finditer(folded):
            if _UNIT_BEFORE.search(folded[: m.start()]):
                continue
            key = _NICKNAMES.get(m.group(1), m.group(1))
            change = self._as_old.get(key) or self._as_new.get(key)
            if change is not None and key not in found:
                found[key] = ProvinceMention(
                    key, change, key in self._as_old and self._as_old[key] is change,
                    key in self._as_new,
                )  # fmt: skip
        return list(found.values())

    def new_province(self, name: str) -> str:
        """The new province an old (or new) province name is part of, or ""."""
        key = _NICKNAMES.get(province_key(name), province_key(name))
        change = self._as_old.get(key) or self._as_new.get(key)
        return change.new_name if change else ""

    def count(self, province: str) -> UnitCount | None:
        """The closing count clause of the new province's resolution."""
        return self._counts.get(province_key(self.new_province(province) or province))
