"""The reference list against the resolutions: which listed old commune each old unit of an
arrangement clause is. The resolutions spell some names otherwise ("Sủng Cháng" for the list's
"Sủng Tráng", "Vũ Quý" for "Vũ Quí") and name a district only to tell namesakes apart, so a name
is matched exactly first, then without diacritics, then loosely, and namesakes by the district
(or province) the clause gives in brackets."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.provinces import province_key
from ingest.records import OldCommune, OldUnit, UnitChange
from ingest.units import ListedUnit
from ingest.text import fold

Ref = tuple[UnitChange, OldUnit]
_DISTRICT_KIND = re.compile(
    r"^(?:thuoc\s+)?(?:huyen|quan|thi xa|thanh pho|tinh|tp|tx|h|q)(?:\.\s*|\s+)"
)
_FARM = re.compile(r"^n\.?\s?t\.?\s+")  # the list's "N.T Phong Hải": "Nông trường Phong Hải"


def exact_key(name: str) -> str:
    """Of a normalised name (ingest normalises every text once): case and hyphens aside."""
    return re.sub(r"\s*-\s*", " - ", name).lower()


def loose_key(name: str) -> str:
    """Spelling variants agree: no diacritics, spaces, hyphens or apostrophes; y as i."""
    folded = _FARM.sub("nong truong ", fold(name))
    return re.sub(r"[^a-z0-9]", "", folded).replace("y", "i").lstrip("0")


def district_key(text: str) -> str:
    """"Quận Cầu Giấy", "huyện Cầu Giấy, tỉnh …" -> "cau giay"; "Quận 03" -> "3"."""
    key = _DISTRICT_KIND.sub("", fold(text.split(",")[0]).strip())
    return key.lstrip("0") if key.isdigit() else key


_LEVELS: tuple[Callable[[str, str], tuple[str, str]], ...] = (
    lambda kind, name: (fold(kind), exact_key(name)),
    lambda kind, name: (fold(kind), fold(name)),
    lambda kind, name: (fold(kind), loose_key(name)),
    # a kind the clause misreads ("các thị trấn A, B và các xã C" glued together)
    lambda kind, name: ("", loose_key(name)),
)


@dataclass
class Matching:
    by_code: dict[str, list[Ref]] = field(default_factory=dict)  # commune code -> its clauses
    unlisted: list[Ref] = field(default_factory=list)  # named by a clause, in no row
    ambiguous: list[Ref] = field(default_factory=list)  # several namesakes, none told apart


class _Province:
    """The listed communes of one new province, by each level's key."""

    def __init__(self, communes: list[OldCommune]):
        self.communes = communes
        self.keys: list[dict[tuple[str, str], list[OldCommune]]] = [{} for _ in _LEVELS]
        for c in communes:
            for keys, level in zip(self.keys, _LEVELS, strict=True):
                keys.setdefault(level(c.kind, c.name), []).append(c)

    def candidates(self, old: OldUnit) -> list[OldCommune]:
        for keys, level in zip(self.keys, _LEVELS, strict=True):
            found = keys.get(level(old.kind, old.name))
            if found:
                return _by_qualifier(found, old.qualifier)
        return []


def _by_qualifier(found: list[OldCommune], qualifier: str) -> list[OldCommune]:
    """Namesakes told apart by "(huyện …)" or else "(tỉnh …)" when the clause gives it."""
    if len(found) < 2 or not qualifier:
        return found
    key = district_key(qualifier)
    for place in (lambda c: c.district, lambda c: c.province):
        named = [c for c in found if district_key(place(c)) == key]
        if named:
            return named
    return found


def _by_neighbours(found: list[OldCommune], neighbours: list[OldCommune]) -> list[OldCommune]:
    """An untold namesake is the one in the district of the clause's other units: a clause
    arranges neighbours, and "xã A, xã B và xã C (huyện D)" names D once, after the last."""
    districts = Counter(c.district_code for c in neighbours)
    best = max((districts[c.district_code] for c in found), default=0)
    chosen = [c for c in found if districts[c.district_code] == best]
    return chosen if best and len(chosen) == 1 else found


def match_communes(
    communes: list[OldCommune], changes: list[UnitChange], new_province: Callable[[str], str]
) -> Matching:
    """Every old unit of every clause against the list; `new_province(old province name)` is
    the province it belongs to now (60-NQ/TW)."""
    grouped: dict[str, list[OldCommune]] = {}
    for c in communes:
        grouped.setdefault(province_key(new_province(c.province) or c.province), []).append(c)
    provinces = {key: _Province(group) for key, group in grouped.items()}
    matching, pending = Matching(), []
    for change in changes:
        province = provinces.get(province_key(change.province))
        found = [province.candidates(old) if province else [] for old in change.olds]
        told = [f[0] for f in found if len(f) == 1]
        for old, candidates in zip(change.olds, found, strict=True):
            if not candidates:
                pending.append((change, old))
                continue
            if len(candidates) > 1:
                candidates = _by_neighbours(candidates, told)
            if len(candidates) > 1:
                matching.ambiguous.append((change, old))
            for c in candidates:
                matching.by_code.setdefault(c.code, []).append((change, old))
    for change, old in pending:  # after every exact match, so a near name takes no one's row
        near = _near_unmatched(provinces.get(province_key(change.province)), old, matching)
        if near is None:
            matching.unlisted.append((change, old))
        else:
            matching.by_code.setdefault(near.code, []).append((change, old))
    return matching


def _near_unmatched(
    province: _Province | None, old: OldUnit, matching: Matching
) -> OldCommune | None:
    """The one listed commune of the same kind, named by no clause, whose loose name is one
    letter away ("Hua Bun" / "Hua Bum", "Nà Pó" / "Nà Bó")."""
    if province is None:
        return None
    key = loose_key(old.name)
    near = [
        c for c in province.communes
        if c.code not in matching.by_code and fold(c.kind) == fold(old.kind)
        and _one_edit(loose_key(c.name), key)
    ]  # fmt: skip
    return near[0] if len(near) == 1 else None


def _one_edit(a: str, b: str) -> bool:
    """At most one letter replaced, added or dropped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


@dataclass
class ReferenceCheck:
    """The reference list against the resolutions, for the ingest summary."""

    communes: int
    districts: int
    provinces: int
    unlisted: list[str] = field(default_factory=list)  # old units of a clause, in no row
    unmentioned: list[str] = field(default_factory=list)  # rows no clause names
    ambiguous: int = 0


def check_reference(communes: list[OldCommune], matching: Matching) -> ReferenceCheck:
    unlisted = dict.fromkeys(
        f"{old.kind} {old.name} ({change.province}, {change.number} khoản {change.clause})"
        for change, old in matching.unlisted
    )
    return ReferenceCheck(
        communes=len(communes),
        districts=len({c.district_code for c in communes}),
        provinces=len({c.province_code for c in communes}),
        unlisted=list(unlisted),
        unmentioned=[
            f"{c.label} ({c.district}, {c.province})"
            for c in communes
            if c.code not in matching.by_code
        ],
        ambiguous=len(matching.ambiguous),
    )


def code_conflicts(
    communes: list[OldCommune], listed: list[ListedUnit], new_province: Callable[[str], str]
) -> list[str]:
    """Codes the list gives a commune of one province while 1027/CTK-CSCL gives them to a new
    unit of another: a new unit keeps the code of one of the communes it took, never one from
    another province."""
    by_code = {u.code: u for u in listed}
    out = []
    for c in communes:
        new = by_code.get(c.code)
        if new and province_key(new_province(c.province) or c.province) != province_key(new.province):
            out.append(
                f"mã {c.code} là {c.label} ({c.district}, {c.province}) trong danh mục, nhưng là "
                f"{new.kind} {new.name} ({new.province}) trong 1027/CTK-CSCL"
            )
    return out
