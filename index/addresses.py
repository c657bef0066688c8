"""Old address → new address: the commune of an address line looked up in the units registry,
and the line rewritten as `<street part>, <new commune>, <new province>` (no district since
1/7/2025). A split commune gives one line per candidate; an unknown or ambiguous one gives the
candidates found, never a guess."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from index.oldmap import OldMap
from index.registry import Placement, UnitRegistry
from ingest.address import ParsedAddress, parse_address
from prompts import template

Status = Literal["unchanged", "merged", "split", "not_found", "ambiguous"]


@dataclass
class Conversion:
    """One old address (or old unit) and where it is now; the `facts` of a registry answer and
    a row of `sapxep convert`."""

    input: str
    status: Status
    old_unit: str = ""  # "Phường Quan Hoa (Quận Cầu Giấy), Thành phố Hà Nội"
    new_units: list[str] = field(default_factory=list)  # "Phường Nghĩa Đô"
    new_address: list[str] = field(default_factory=list)  # one line, or one per candidate
    province: str = ""  # the new province
    citation: str = ""  # "Nghị quyết 1656/NQ-UBTVQH15, Điều 1, khoản 22"
    new_codes: list[str] = field(default_factory=list)  # 1027/CTK-CSCL, one per new unit
    note: str = ""  # why an address was not found, when the reference list tells
    placements: list[Placement] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["placements"]
        return data


def old_unit_label(p: Placement) -> str:
    """"Phường 1 (Quận 3)": the name, and the district the clause gives it."""
    name = f"{p.old.kind.capitalize()} {p.old.name}"
    return f"{name} ({p.old.qualifier})" if p.old.qualifier else name


def new_unit_label(p: Placement) -> str:
    return f"{p.change.new_kind.capitalize()} {p.change.new_name}"


def by_old_unit(placements: list[Placement]) -> dict[tuple[str, str, str, str], list[Placement]]:
    """Placements grouped by old unit: its province, kind, name and district qualifier."""
    groups: dict[tuple[str, str, str, str], list[Placement]] = {}
    for p in placements:
        key = (p.change.province, p.old.kind, p.old.name, p.old.qualifier)
        groups.setdefault(key, []).append(p)
    return groups


def street_part(street: str) -> str:
    """The street part as typed; names typed without diacritics get their capitals at least
    ("số 7 ngõ 15 đường nguyen khanh toan" -> "… đường Nguyen Khanh Toan")."""
    return re.sub(r"(?<![\w])([a-z])(?=[a-z]*(?![\w]))", lambda m: m.group(1).upper(), street)


def conversion(text: str, street: str, placements: list[Placement]) -> Conversion:
    """Where the found placements put the address."""
    groups = by_old_unit(placements)
    if not groups:
        return Conversion(input=text, status="not_found")
    if len(groups) > 1:
        lines = [f"{old_unit_label(g[0])}, {g[0].change.province}" for g in groups.values()]
        return Conversion(input=text, status="ambiguous", new_address=[], old_unit="; ".join(lines),
                          new_units=_unique(new_unit_label(p) for p in placements),
                          citation=_citations(placements), placements=placements)
    group = next(iter(groups.values()))
    first = group[0]
    province = first.change.province
    prefix = f"{street_part(street)}, " if street else ""
    status: Status = "split" if len(group) > 1 else ("unchanged" if first.change.unchanged else "merged")
    return Conversion(
        input=text,
        status=status,
        old_unit=f"{old_unit_label(first)}, {province}",
        new_units=_unique(new_unit_label(p) for p in group),
        new_address=_unique(f"{prefix}{new_unit_label(p)}, {province}" for p in group),
        province=province,
        citation=_citations(group),
        placements=group,
    )


def convert(text: str, registry: UnitRegistry, oldmap: OldMap | None = None) -> Conversion:
    """One address line of a file: parsed, looked up (in the old map when there is one: its
    district tells namesakes apart), rewritten, with the new units' codes."""
    address = parse_address(text)
    if oldmap is None or not oldmap.communes:
        return conversion(text, address.street, find_placements(address, registry))
    placements, note = located(address, registry, oldmap)
    result = conversion(text, address.street, placements)
    result.note = note
    result.new_codes = new_codes(result, oldmap)
    return result


def located(
    address: ParsedAddress, registry: UnitRegistry, oldmap: OldMap
) -> tuple[list[Placement], str]:
    """The placements of the address's commune, found in the reference list by its district
    and province; a district the list knows without that commune gives no placement and a
    note with the district's nearest names. A name in no row at all is looked up in the
    clauses, which spell some names otherwise."""
    commune = address.commune
    if commune is None or (address.province and not registry.new_province(address.province)):
        return [], ""
    district = address.district.name if address.district else ""
    found = oldmap.locate(commune.kind, commune.name, address.province, district)
    if found.placements or found.communes:
        return found.placements, ""
    in_clauses = find_placements(address, registry)
    if found.district is None:
        return in_clauses, ""
    if unlisted := oldmap.unlisted(in_clauses):
        return unlisted, ""
    typed = found.district
    note = template("oldmap.not_in_district", unit=f"{commune.kind} {commune.name}",
                    district=typed.label, province=typed.province)  # fmt: skip
    if found.near:
        names = ", ".join(c.label for c in found.near)
        note += "; " + template("oldmap.near_names", district=typed.label, names=names)
    return [], note + "."


def new_codes(result: Conversion, oldmap: OldMap) -> list[str]:
    """The 1027/CTK-CSCL code of each new unit named (namesakes' codes joined by "/")."""
    codes: dict[str, list[str]] = {}
    for p in result.placements:
        listed = oldmap.codes.of_change(p.change)
        codes.setdefault(new_unit_label(p), []).append(listed.code if listed else "")
    return ["/".join(dict.fromkeys(c for c in codes.get(u, []) if c)) for u in result.new_units]


def find_placements(address: ParsedAddress, registry: UnitRegistry) -> list[Placement]:
    """The commune of the address in its province (old or new) and district."""
    if address.commune is None:
        return []
    province = registry.new_province(address.province) if address.province else ""
    if address.province and not province:
        return []
    district = [address.district.name] if address.district else ""
    return registry.find(address.commune.name, address.commune.kind, province, district)


def _citations(placements: list[Placement]) -> str:
    by_number: dict[str, list[str]] = {}
    for p in placements:
        clauses = by_number.setdefault(p.change.number, [])
        if p.change.clause not in clauses:
            clauses.append(p.change.clause)
    return "; ".join(
        f"Nghị quyết {number}, Điều 1, khoản {', '.join(clauses)}"
        for number, clauses in by_number.items()
    )


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
