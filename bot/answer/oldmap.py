"""Answers from the old map: what an old district's communes became (every new unit that took
a part of it, with its clause), whether a district still exists, the districts of an old
province, and codes both ways. The membership of a district and the old codes cite the
reference list ("Danh mục ĐVHC, Tổng cục Thống kê, 01/03/2025"); where a commune went cites its
clause."""

from __future__ import annotations

from typing import Any

from bot.answer.compose import Sources
from bot.answer.newmap import ChunkOf, _capital, _cite, _line
from index.addresses import new_unit_label
from index.oldmap import OldDistrict, OldMap
from index.registry import Placement
from ingest.records import Chunk, OldCommune, Provision, UnitChange
from ingest.text import date_vi
from ingest.units import ListedUnit
from prompts import template

MAX_NAMED = 12  # old units named on one line before "…"


def cite_chunk(sources: Sources, chunk: Chunk | None) -> str:
    return f" [{sources.cite(chunk, 1.0)}]" if chunk is not None else ""


def passage(sources: Sources, doc_id: str, chunk_id: str) -> Chunk | None:
    """A stored passage by its id (a provision's, a code row's)."""
    record = sources.index.files.get(doc_id)
    return next((c for c in record.chunks if c.chunk_id == chunk_id), None) if record else None


def _kinds(communes: tuple[OldCommune, ...] | list[OldCommune]) -> str:
    """"8 phường", "1 thị trấn và 18 xã"."""
    counts: dict[str, int] = {}
    for c in communes:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    parts = [f"{n} {kind}" for kind, n in counts.items()]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} và {parts[-1]}"


def _named(labels: list[str]) -> str:
    more = "…" if len(labels) > MAX_NAMED else ""
    return ", ".join(labels[:MAX_NAMED]) + more


def by_new_unit(district: OldDistrict, oldmap: OldMap) -> list[list[Placement]]:
    """The district's placements grouped by the clause (new unit) that took them, the unit
    that took most of the district first."""
    groups: dict[int, list[Placement]] = {}
    for commune in district.communes:
        for p in oldmap.placements(commune):
            groups.setdefault(id(p.change), []).append(p)
    return sorted(groups.values(), key=len, reverse=True)


# --- an old district ------------------------------------------------------------------------


def compose_district(
    district: OldDistrict, oldmap: OldMap, chunk_of: ChunkOf, sources: Sources
) -> tuple[str, list[dict[str, Any]]]:
    """"Quận Cầu Giấy cũ giờ gồm những phường mới nào?": the district's communes (the list),
    then every new unit that took any of them, with the share and clause of each."""
    groups = by_new_unit(district, oldmap)
    intro = template(
        "oldmap.district_intro", district=district.name, province=district.province,
        communes=_kinds(district.communes), source=oldmap.list_name(district.doc_id),
    )  # fmt: skip
    cite = cite_chunk(sources, oldmap.district_chunk(district))
    if len(groups) == 1:
        now = "; " + template("oldmap.district_now_one", new=new_unit_label(groups[0][0])) + "."
    else:
        now = "; " + template("oldmap.district_now", count=len(groups)) if groups else "."
    lines = [f"{_capital(intro)}{cite}{now}"]
    lines += [_district_line(group, chunk_of, sources) for group in groups]
    unplaced = [f"{c.kind} {c.name}" for c in district.communes if not oldmap.placements(c)]
    if unplaced:
        lines.append(template("oldmap.district_unplaced", units=_named(unplaced)))
    return "\n".join(lines), [_district_facts(district, groups, oldmap)]


def _district_line(group: list[Placement], chunk_of: ChunkOf, sources: Sources) -> str:
    change = group[0].change
    olds = "; ".join(_shares(group))
    others = len(change.olds) - len(group)
    more = template("oldmap.district_others", count=others) if others > 0 else ""
    sentence = template(
        "oldmap.district_line", new=new_unit_label(group[0]), province=change.province, olds=olds,
        others=more, number=change.number, section=change.section,
    )  # fmt: skip
    return _line(sentence, _cite(sources, chunk_of, change.doc_id, change.section), bullet=True)


def _shares(group: list[Placement]) -> list[str]:
    parts = []
    for share in ("whole", "part", "remaining"):
        units = [f"{p.old.kind} {p.old.name}" for p in group if p.old.share == share]
        if units:
            parts.append(template(f"reverse.{share}", units=_named(units)))
    return parts


def _district_facts(
    district: OldDistrict, groups: list[list[Placement]], oldmap: OldMap
) -> dict[str, Any]:
    return {
        "district": district.name,
        "district_code": district.code,
        "province": district.province,
        "new_units": [new_unit_label(g[0]) for g in groups],
        "new_codes": [_code(oldmap, g[0].change) for g in groups],
        "old_units": [
            {"old_unit": f"{c.kind.capitalize()} {c.name}", "code": c.code,
             "new_units": list(dict.fromkeys(new_unit_label(p) for p in oldmap.placements(c)))}
            for c in district.communes
        ],  # fmt: skip
        "source": oldmap.list_name(district.doc_id),
    }


def _code(oldmap: OldMap, change: UnitChange) -> str:
    listed = oldmap.codes.of_change(change)
    return listed.code if listed else ""


def compose_district_status(
    district: OldDistrict,
    oldmap: OldMap,
    ended: Provision | None,
    chunk_of: ChunkOf,
    sources: Sources,
) -> str:
    """"Huyện Mê Linh còn không?": the district level ended (60-NQ/TW's provision `ended`),
    and which new communes now cover the district."""
    lines = []
    if ended is not None:
        sentence = template("oldmap.district_ended", date=date_vi(ended.date),
                            number=ended.number, section=ended.section)  # fmt: skip
        name = template("oldmap.district_ended_name", district=district.label,
                        province=district.province)  # fmt: skip
        cite = cite_chunk(sources, passage(sources, ended.doc_id, ended.chunk_id))
        lines.append(f"{sentence}{cite}: {name}.")
    groups = by_new_unit(district, oldmap)
    if groups:
        news = ", ".join(
            new_unit_label(g[0]) + _cite(sources, chunk_of, g[0].change.doc_id, g[0].change.section)
            for g in groups
        )
        covered = template("oldmap.district_covered", district=district.label, news=news,
                           number=groups[0][0].change.number)  # fmt: skip
        lines.append(f"{_capital(covered)}.")
    return "\n".join(lines)


def compose_districts_of(
    province: str, districts: list[OldDistrict], oldmap: OldMap, sources: Sources
) -> str:
    """The districts of an old province, as the list has them (the first district's rows
    cited for the list)."""
    if not districts:
        return ""
    names = ", ".join(d.name for d in districts)
    sentence = template("oldmap.districts_of", province=province, count=len(districts),
                        names=names, source=oldmap.list_name(districts[0].doc_id))  # fmt: skip
    return f"{_capital(sentence)}{cite_chunk(sources, oldmap.district_chunk(districts[0]))}."


def compose_districts(
    districts: list[OldDistrict], oldmap: OldMap, chunk_of: ChunkOf, sources: Sources
) -> tuple[str, list[dict[str, Any]]]:
    """Namesake districts (a name in two provinces): each one's answer, under one line."""
    if len(districts) == 1:
        return compose_district(districts[0], oldmap, chunk_of, sources)
    parts = [template("oldmap.district_many", count=len(districts), name=districts[0].bare)]
    facts: list[dict[str, Any]] = []
    for district in districts:
        text, more = compose_district(district, oldmap, chunk_of, sources)
        parts.append(text)
        facts.extend(more)
    return "\n".join(parts), facts


# --- codes ----------------------------------------------------------------------------------


def compose_code(code: str, oldmap: OldMap, sources: Sources) -> tuple[str, list[dict[str, Any]]]:
    """"Mã 00364 là xã nào?": the new unit with that code (1027/CTK-CSCL) and the old unit that
    had it (the list); a three-digit code is an old district's."""
    code = code.strip()
    lines: list[str] = []
    facts: list[dict[str, Any]] = []
    new = oldmap.codes.by_code(code) if len(code) == 5 else None
    if new is not None:
        lines.append(_new_code_line(new, oldmap, sources, "oldmap.code_new"))
        facts.append({"code": new.code, "new_unit": f"{new.kind.capitalize()} {new.name}",
                      "province": _province(new, oldmap)})  # fmt: skip
    old = oldmap.commune_by_code(code) if len(code) == 5 else None
    if old is not None:
        lines.append(_old_code_line(old, oldmap, sources, "oldmap.code_old"))
        facts.append({"code": old.code, "old_unit": f"{old.kind.capitalize()} {old.name}",
                      "district": old.district, "province": old.province})  # fmt: skip
    district = oldmap.district_by_code(code) if len(code) == 3 else None
    if district is not None:
        sentence = template(
            "oldmap.code_district", code=district.code, district=district.name,
            province=district.province, source=oldmap.list_name(district.doc_id),
        )  # fmt: skip
        lines.append(f"{sentence}{cite_chunk(sources, oldmap.district_chunk(district))}.")
        facts.append({"code": district.code, "district": district.name,
                      "province": district.province})  # fmt: skip
    if not lines:
        return template("oldmap.code_unknown", code=code), []
    return "\n".join(lines), facts


def compose_new_codes(units: list[ListedUnit], oldmap: OldMap, sources: Sources) -> str:
    """"Mã số phường Cầu Giấy mới là bao nhiêu?": each new unit of that name, its code."""
    return "\n".join(_new_code_line(u, oldmap, sources, "oldmap.unit_code") for u in units)


def compose_old_codes(communes: list[OldCommune], oldmap: OldMap, sources: Sources) -> str:
    """The codes old communes had in the list, each with its district."""
    return "\n".join(_old_code_line(c, oldmap, sources, "oldmap.old_code") for c in communes)


def _province(unit: ListedUnit, oldmap: OldMap) -> str:
    """The province as 60-NQ/TW names it (the list writes "Tp Hải Phòng")."""
    return oldmap.registry.new_province(unit.province) or unit.province


def _new_code_line(unit: ListedUnit, oldmap: OldMap, sources: Sources, key: str) -> str:
    record = sources.index.files.get(unit.doc_id)
    document = record.document if record else None
    sentence = template(
        key, code=unit.code, unit=f"{unit.kind} {unit.name}", province=_province(unit, oldmap),
        document=document.doc_type.capitalize() if document else "",
        number=document.number if document else "", row=unit.row,
    )  # fmt: skip
    return f"{_capital(sentence)}{cite_chunk(sources, oldmap.codes.row_chunk(unit))}."


def _old_code_line(commune: OldCommune, oldmap: OldMap, sources: Sources, key: str) -> str:
    district = oldmap.district_of(commune)
    sentence = template(
        key, code=commune.code, unit=commune.label, district=commune.district,
        province=commune.province, source=oldmap.list_name(district.doc_id),
    )  # fmt: skip
    return f"{_capital(sentence)}{cite_chunk(sources, oldmap.district_chunk(district))}."
