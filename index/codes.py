"""The codes of the new commune-level units (1027/CTK-CSCL, Phụ lục I), both ways: a unit's
code, and the unit a code names."""

from __future__ import annotations

from ingest.records import Chunk, UnitChange
from ingest.units import ListedUnit, unit_key


class NewCodes:
    def __init__(self, listed: list[ListedUnit], chunks: dict[str, list[Chunk]]):
        """`chunks`: doc_id -> passages, for the row that states a code."""
        self._chunks = chunks
        self._by_code = {u.code: u for u in listed}
        self._by_key = {unit_key(u.kind, u.name, u.province): u for u in listed}
        self._by_change: dict[int, ListedUnit | None] = {}

    def by_code(self, code: str) -> ListedUnit | None:
        return self._by_code.get(code.strip().zfill(5)) if code.strip().isdigit() else None

    def of_change(self, change: UnitChange) -> ListedUnit | None:
        """The listed unit an arrangement clause forms (or keeps)."""
        if id(change) not in self._by_change:  # a file of addresses asks for the same few
            key = unit_key(change.new_kind, change.new_name, change.province)
            self._by_change[id(change)] = self._by_key.get(key)
        return self._by_change[id(change)]

    def of_changes(self, changes: list[UnitChange]) -> list[ListedUnit]:
        """The listed units of new units found by name (`UnitRegistry.formed`)."""
        return [u for u in map(self.of_change, changes) if u is not None]

    def row_chunk(self, unit: ListedUnit) -> Chunk | None:
        """The passage of the list that holds the unit's row."""
        needle = f"| {unit.code} |"
        return next((c for c in self._chunks.get(unit.doc_id, []) if needle in c.text), None)
