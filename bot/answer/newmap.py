"""Answers from the new map, each a direct sentence with its clause: where an old commune went
(every part of a split, every namesake), which old units a new one took, a province's merge
and centre, a province's commune count, and an old address rewritten."""

from __future__ import annotations

from typing import Any

from bot.answer.compose import Sources
from index.addresses import by_old_unit, conversion, new_unit_label, old_unit_label
from index.provinces import ProvinceMention
from index.query import Hints
from index.registry import Placement
from ingest.provinces import province_key
from ingest.records import Chunk, UnitChange, UnitCount
from prompts import template

ChunkOf = dict[tuple[str, str], Chunk]
MAX_LISTED = 8  # old units named in one sentence before "…"
COMPACT_AFTER = 4  # namesakes listed one line each beyond this many


def _cite(sources: Sources, chunk_of: ChunkOf, doc_id: str, section: str) -> str:
    chunk = chunk_of.get((doc_id, section))
    return f" [{sources.cite(chunk, 1.0)}]" if chunk is not None else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _line(sentence: str, cite: str, bullet: bool = False) -> str:
    return f"{'- ' if bullet else ''}{_capital(sentence)}{cite}."


# --- old unit -> new unit(s) ----------------------------------------------------------------


def compose_units(placements: list[Placement], chunk_of: ChunkOf, sources: Sources) -> str:
    """Where each old unit went: every part of a split, every district and province of a
    namesake ("Phường 1" of Quận 3 and of Quận 4 are two old units)."""
    groups = by_old_unit(placements)
    lines: list[str] = []
    if len(groups) > 1:
        first = next(iter(groups.values()))[0]
        numbered = first.old.name.isdigit()
        key = "unit.numbered_many" if numbered else "unit.intro_many"
        unit = f"{first.old.kind} {first.old.name}"
        lines.append(template(key, count=len(groups), unit=unit))
    for group in groups.values():
        if len(groups) > COMPACT_AFTER:
            lines.append(_compact_line(group, chunk_of, sources))
        else:
            lines.extend(_placement_lines(group, chunk_of, sources, bullet=len(groups) > 1))
    return "\n".join(lines)


def _compact_line(group: list[Placement], chunk_of: ChunkOf, sources: Sources) -> str:
    """"- Quận 3, Thành phố Hồ Chí Minh → phường Bàn Cờ [20]": one namesake of many."""
    first = group[0]
    place = ", ".join(part for part in (first.old.qualifier, first.change.province) if part)
    news = "; ".join(
        _new(p.change) + _cite(sources, chunk_of, p.change.doc_id, p.change.section) for p in group
    )
    return f"- {_capital(place)} → {news}."


def _placement_lines(
    group: list[Placement], chunk_of: ChunkOf, sources: Sources, bullet: bool
) -> list[str]:
    first = group[0]
    place = ", ".join(part for part in (first.old.qualifier, first.change.province) if part)
    old = f"{first.old.kind} {first.old.name} ({place})"
    if len(group) > 1:
        intro = template("unit.split_intro", old=old, count=len(group))
        lines = [("- " if bullet else "") + _capital(intro)]
        for p in group:
            sentence = template(f"unit.split_{p.old.share}", new=_new(p.change))
            lines.append(_line(f"  {sentence}" if bullet else sentence, _source(p, chunk_of, sources), True))
        return lines
    p = group[0]
    if p.change.unchanged:
        sentence = template("unit.unchanged", old=old)
    else:
        sentence = template(f"unit.{p.old.share}", old=old, new=_new(p.change))
        others = [f"{o.kind} {o.name}" for o in p.change.olds if o is not p.old]
        if others:
            more = "…" if len(others) > MAX_LISTED else ""
            sentence += f", cùng với {', '.join(others[:MAX_LISTED])}{more}"
    return [_line(sentence, _source(p, chunk_of, sources), bullet)]


def _new(change: UnitChange) -> str:
    return f"{change.new_kind} {change.new_name}"


def _source(p: Placement, chunk_of: ChunkOf, sources: Sources) -> str:
    basis = template("unit.source", number=p.change.number, section=p.change.section)
    return f" ({basis}){_cite(sources, chunk_of, p.change.doc_id, p.change.section)}"


# --- new unit -> old units ------------------------------------------------------------------


def compose_reverse(changes: list[UnitChange], chunk_of: ChunkOf, sources: Sources) -> str:
    """Which old units each new unit of that name took, by share, with its clause."""
    lines: list[str] = []
    if len(changes) > 1:
        lines.append(template("reverse.intro_many", count=len(changes), unit=_new(changes[0])))
    for change in changes:
        values = {"new": _capital(_new(change)), "province": change.province,
                  "number": change.number, "section": change.section}  # fmt: skip
        if change.unchanged:
            sentence = template("reverse.unchanged", **values)
        else:
            sentence = template("reverse.formed", olds=_olds(change), **values)
        cite = _cite(sources, chunk_of, change.doc_id, change.section)
        lines.append(_line(sentence, cite, bullet=len(changes) > 1))
    return "\n".join(lines)


def _olds(change: UnitChange) -> str:
    parts = []
    for share in ("whole", "part", "remaining"):
        units = [f"{o.kind} {o.name}" for o in change.olds if o.share == share]
        if units:
            listed = ", ".join(units[:MAX_LISTED]) + ("…" if len(units) > MAX_LISTED else "")
            parts.append(template(f"reverse.{share}", units=listed))
    return "; ".join(parts)


def compose_both(hints: Hints, chunk_of: ChunkOf, sources: Sources) -> str:
    """A name that is both an old and a new unit, asked without a direction: both, labelled."""
    unit = hints.unit_names[0] if hints.unit_names else _new(hints.formed[0])
    return "\n".join([
        template("reverse.both_old", unit=unit), compose_units(hints.units, chunk_of, sources),
        template("reverse.both_new", unit=unit), compose_reverse(hints.formed, chunk_of, sources),
    ])  # fmt: skip


# --- provinces and counts -------------------------------------------------------------------


def compose_province(
    mentions: list[ProvinceMention], centre: bool, chunk_of: ChunkOf, sources: Sources
) -> str:
    lines = []
    changes = [m.change for m in mentions]
    for mention in mentions:
        c = mention.change
        if mention.change in changes[: mentions.index(mention)]:
            continue  # "Quảng Nam với Đà Nẵng": one merge, said once
        cite = _cite(sources, chunk_of, c.doc_id, c.section)
        values = {"number": c.number, "section": c.section, "new": c.new_name}
        if not c.merged:
            lines.append(_line(template("province.kept", name=c.new_name, **values), cite))
            continue
        old = next((o for o in c.olds if province_key(o) == mention.key), c.new_name)
        if mention.as_old and not mention.as_new and changes.count(c) == 1:
            others = _join([o for o in c.olds if o != old])
            lines.append(_line(template("province.merged_old", old=old, others=others, **values), cite))
        else:
            lines.append(_line(template("province.merged_new", olds=_join(c.olds), **values), cite))
        if centre and c.centre:
            lines.append(_line(template("province.centre", new=c.new_name, centre=c.centre), cite))
    return "\n".join(lines)


def compose_count(count: UnitCount | None, province: str, chunk_of: ChunkOf, sources: Sources) -> str:
    if count is None:
        return template("count.unknown", province=province)
    sentence = template(
        "count.total", province=count.province, total=count.total, breakdown=count.breakdown,
        number=count.number, section=count.section,
    )  # fmt: skip
    return _line(sentence, _cite(sources, chunk_of, count.doc_id, count.section))


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} và {names[-1]}"


# --- addresses ------------------------------------------------------------------------------


def compose_address(
    hints: Hints, chunk_of: ChunkOf, sources: Sources
) -> tuple[str, list[dict[str, Any]]]:
    """The new address line(s) and their facts."""
    address = hints.address
    street = address.street if address is not None else ""
    result = conversion(address.text if address else "", street, hints.units)
    facts = [result.to_dict()]
    if result.status == "ambiguous":
        groups = by_old_unit(hints.units)
        first = hints.units[0]
        lines = [template("address.ambiguous", count=len(groups), unit=f"{first.old.kind} {first.old.name}")]
        for group in groups.values():
            p = group[0]
            new = ", ".join(dict.fromkeys(new_unit_label(g) for g in group))
            n = _cite(sources, chunk_of, p.change.doc_id, p.change.section).strip(" []")
            lines.append(template("address.ambiguous_line", old=f"{old_unit_label(p)}, {p.change.province}", new=new, n=n))
        return "\n".join(lines), facts
    numbers = [
        _cite(sources, chunk_of, p.change.doc_id, p.change.section).strip(" []") for p in result.placements
    ]
    if result.status != "split":
        lines = [template("address.one", line=result.new_address[0], n=numbers[0])]
    else:
        p = result.placements[0]
        lines = [template("address.split_intro", old=result.old_unit, count=len(result.placements))]
        for line, n, pl in zip(result.new_address, numbers, result.placements, strict=False):
            share = template(f"address.share_{pl.old.share}")
            lines.append(template("address.split_line", line=line, share=share, n=n))
        lines.append(template("address.split_note", kind=p.change.new_kind))
    lines.append(template("address.basis", citation=result.citation))
    return "\n".join(lines), facts


def unit_facts(placements: list[Placement]) -> list[dict[str, Any]]:
    """The machine-readable form of a unit answer: one conversion per old unit."""
    return [
        conversion(old_unit_label(group[0]), "", group).to_dict()
        for group in by_old_unit(placements).values()
    ]
