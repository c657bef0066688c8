"""The registries an index version holds beside its records (registry.json): the provinces of
60-NQ/TW, each province's count clause, the 1027/CTK-CSCL list and its cross-check, the dated
provisions, and the reference list checked against the resolutions. Built from the ingested
files when a version is written."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.oldmatch import ReferenceCheck, check_reference, match_communes
from ingest.pipeline import IngestedFile
from ingest.provinces import extract_provinces, province_key, province_merges
from ingest.provisions import extract_provisions
from ingest.records import ProvinceChange, Provision, UnitCount, from_dict, to_dict
from ingest.units import CrossCheck, ListedUnit, cross_check, extract_counts, extract_unit_list


@dataclass
class Registry:
    province_changes: list[ProvinceChange] = field(default_factory=list)  # 60-NQ/TW
    counts: list[UnitCount] = field(default_factory=list)  # per province, its resolution
    unit_list: list[ListedUnit] = field(default_factory=list)  # 1027/CTK-CSCL
    cross_check: CrossCheck | None = None
    provisions: list[Provision] = field(default_factory=list)  # ingest/provisions.py
    reference_check: ReferenceCheck | None = None  # the reference list against the resolutions

    @property
    def provinces(self) -> dict[str, str]:
        """Old province key -> new province name."""
        return province_merges(self.province_changes)


def build_registry(files: dict[str, IngestedFile]) -> Registry:
    registry = Registry()
    for doc_id in sorted(files):
        f = files[doc_id]
        registry.province_changes.extend(extract_provinces(f.document, f.chunks))
        registry.counts.extend(extract_counts(f.document))
        registry.unit_list.extend(extract_unit_list(f.document))
        registry.provisions.extend(extract_provisions(f.document, f.chunks))
    changes = [u for f in files.values() for u in f.units]
    if registry.unit_list and changes:
        registry.cross_check = cross_check(changes, registry.unit_list)
    communes = [c for doc_id in sorted(files) for c in files[doc_id].reference]
    if communes and changes:
        merges = registry.provinces
        matching = match_communes(communes, changes, lambda old: merges.get(province_key(old), ""))
        registry.reference_check = check_reference(communes, matching)
    return registry


def registry_dict(registry: Registry) -> dict[str, Any]:
    return {
        "province_changes": [to_dict(c) for c in registry.province_changes],
        "counts": [to_dict(c) for c in registry.counts],
        "unit_list": [asdict(u) for u in registry.unit_list],
        "cross_check": asdict(registry.cross_check) if registry.cross_check else None,
        "provisions": [to_dict(p) for p in registry.provisions],
        "reference_check": asdict(registry.reference_check) if registry.reference_check else None,
    }


def read_registry(path: Path) -> Registry:
    data = json.loads(path.read_text(encoding="utf-8"))
    check, listed = data.get("cross_check"), data.get("reference_check")
    return Registry(
        province_changes=[from_dict(ProvinceChange, c) for c in data["province_changes"]],
        counts=[from_dict(UnitCount, c) for c in data["counts"]],
        unit_list=[ListedUnit(**u) for u in data["unit_list"]],
        cross_check=CrossCheck(**check) if check else None,
        provisions=[from_dict(Provision, p) for p in data["provisions"]],
        reference_check=ReferenceCheck(**listed) if listed else None,
    )
