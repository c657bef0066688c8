"""Is a claim "A nhập vào B" true? For provinces (60-NQ/TW's appendix) and for communes (the
arrangement clauses): the verdict and the fact that decides it, never the claim itself."""

from __future__ import annotations

from dataclasses import dataclass

from index.provinces import ProvinceMention, ProvinceRegistry
from index.registry import Placement, name_key
from ingest.provinces import province_key
from ingest.text import fold


@dataclass(frozen=True)
class ProvinceVerdict:
    true: bool
    fact: ProvinceMention  # what became of A: its merge (or that it was kept)


@dataclass(frozen=True)
class UnitVerdict:
    true: bool  # every part of A went into B
    partial: bool  # some part of A went into B, the rest elsewhere
    placements: list[Placement]  # where A went: the fact that decides


def check_province_claim(
    old: str, into: str, provinces: ProvinceRegistry
) -> ProvinceVerdict | None:
    """"A nhập vào B": true when A was merged into the new province B, or with B into one;
    None when A is no province of the appendix."""
    key = province_key(old)
    mention = next((m for m in provinces.mentions(key) if m.key == key), None)
    if mention is None:
        return None
    change = mention.change
    target = province_key(into)
    together = target in {province_key(name) for name in (change.new_name, *change.olds)}
    fact = ProvinceMention(key, change, as_old=True, as_new=False)
    return ProvinceVerdict(change.merged and together and target != key, fact)


def check_unit_claim(placements: list[Placement], new_name: str, new_kind: str = "") -> UnitVerdict:
    """"Xã A thành xã B": `placements` are where A went (one old unit); B is a new unit."""

    def is_target(p: Placement) -> bool:
        same_name = name_key(p.change.new_name) == name_key(new_name) or (
            new_name == fold(new_name) and fold(p.change.new_name) == fold(new_name)
        )
        return same_name and (not new_kind or fold(p.change.new_kind) == fold(new_kind))

    hits = [p for p in placements if is_target(p)]
    return UnitVerdict(
        true=bool(hits) and len(hits) == len(placements),
        partial=bool(hits) and len(hits) < len(placements),
        placements=placements,
    )
