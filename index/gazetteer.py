"""Names of the map and a tolerant matcher over them: a name typed with one letter dropped,
added or swapped ("Nghĩa Tn" for "Nghĩa Tân") is found among the names of the province (or
district) the question gives, never across the whole country unless it is long and alone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from index.registry import UnitRegistry, _district_key
from ingest.provinces import province_key
from ingest.text import fold

NATIONWIDE_MIN = 9  # letters a name needs before it is matched with no province given


def allowed_edits(name: str) -> int:
    """Edits tolerated for a name of this length (letters, spaces aside)."""
    letters = len(name.replace(" ", ""))
    return 0 if letters < 5 else 1 if letters < 12 else 2


@dataclass(frozen=True)
class Near:
    name: str  # folded, as the registry knows it
    edits: int


class Gazetteer:
    def __init__(self, registry: UnitRegistry, districts: list[tuple[str, str]] = ()):
        """`districts`: (name, province) of the old districts the reference list gives."""
        self._old: dict[str, set[str]] = defaultdict(set)  # province key -> folded old names
        self._new: dict[str, set[str]] = defaultdict(set)
        self._districts: dict[str, set[str]] = defaultdict(set)  # district key -> provinces
        for change in registry.changes:
            key = province_key(change.province)
            self._new[key].add(fold(change.new_name))
            self._districts[fold(change.new_name)].add(change.province)  # "xã Yên Định" keeps its district's name
            for old in change.olds:
                self._old[key].add(fold(old.name))
                district = _district_key(old.qualifier)
                if district:
                    self._districts[district].add(change.province)
        for name, province in districts:
            self._districts[_district_key(name)].add(province)
        self._all_old = sorted({n for names in self._old.values() for n in names})
        self._all_new = sorted({n for names in self._new.values() for n in names})
        self.registry = registry

    def district_provinces(self, name: str) -> set[str]:
        """The provinces where an old district of this name is known ("Cầu Giấy")."""
        return set(self._districts.get(_district_key(name), set()))

    def near(self, typed: str, province: str = "", new: bool = False) -> list[Near]:
        """Names within the edits the typed name's length allows, closest first."""
        query = fold(typed)
        edits = allowed_edits(query)
        if edits == 0:
            return []
        if province:
            pool = sorted((self._new if new else self._old).get(province_key(province), set()))
        elif len(query.replace(" ", "")) >= NATIONWIDE_MIN:
            pool = self._all_new if new else self._all_old
        else:
            return []
        found = process.extract(query, pool, scorer=OSA.distance, score_cutoff=edits, limit=5)
        ranked = sorted((Near(name, int(d)) for name, d, _ in found if d > 0), key=lambda n: n.edits)
        best = [n for n in ranked if n.edits == ranked[0].edits] if ranked else []
        return best
