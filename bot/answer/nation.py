"""Country-wide answers, claims and dates: totals and extremes that add up the 34 closing
clauses (and say so), the provinces merged and kept (60-NQ/TW), "is it true that A went into B"
(yes or no first, then the fact; a false claim is corrected, never repeated), and the dates the
resolutions and 60-NQ/TW set, each with its clause."""

from __future__ import annotations

from typing import Any, Literal

from bot.answer.compose import Sources, compose_facts
from bot.answer.newmap import ChunkOf, _capital, _cite, _line, compose_province, compose_units
from bot.answer.oldmap import cite_chunk, passage
from index.claims import ProvinceVerdict, UnitVerdict
from index.nation import NationalFacts, kind_counts
from index.oldmap import OldMap
from ingest.records import Document, Provision, UnitCount
from ingest.text import date_vi
from prompts import template

Aspect = Literal["total", "most", "fewest", "provinces", "arranged"]


def _number(n: int) -> str:
    """3321 -> "3.321", the Vietnamese grouping."""
    return f"{n:,}".replace(",", ".")


def _breakdown(counts: dict[str, int]) -> str:
    parts = [f"{_number(n)} {kind}" for kind, n in counts.items() if n]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} và {parts[-1]}"


def _count_cite(count: UnitCount, chunk_of: ChunkOf, sources: Sources) -> str:
    return _cite(sources, chunk_of, count.doc_id, count.section)


def _every_count(facts: NationalFacts, chunk_of: ChunkOf, sources: Sources) -> str:
    """" [1]–[34]": every closing clause cited, in the order of the resolutions' numbers."""
    numbers = [
        sources.cite(chunk_of[(c.doc_id, c.section)], 1.0)
        for c in sorted(facts.counts, key=lambda c: c.number)
        if (c.doc_id, c.section) in chunk_of
    ]
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f" [{numbers[0]}]–[{numbers[-1]}]"
    return "".join(f" [{n}]" for n in numbers)


# --- country-wide facts ---------------------------------------------------------------------


def compose_national(
    facts: NationalFacts,
    aspect: Aspect,
    chunk_of: ChunkOf,
    sources: Sources,
    provisions: list[Provision] | None = None,
    oldmap: OldMap | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """One country-wide fact: the total (adding up every closing clause, each cited), the
    province with the most or fewest units, the provinces merged and kept (`provisions`: the
    `province_total` one of 60-NQ/TW), or the old communes arranged (`oldmap`: the list's count)."""
    if aspect == "total":
        return _total(facts, chunk_of, sources), [_total_facts(facts)]
    if aspect in ("most", "fewest"):
        chosen = facts.most() if aspect == "most" else facts.fewest()
        lines = [_extreme(aspect, c, len(facts.counts), chunk_of, sources) for c in chosen]
        facts_of = [{"province": c.province, "total": c.total, "rank": aspect} for c in chosen]
        return "\n".join(lines), facts_of
    if aspect == "provinces":
        return _provinces(facts, chunk_of, sources, provisions or []), [
            {"provinces": len(facts.merged) + len(facts.kept), "merged": len(facts.merged),
             "merged_from": sum(len(c.olds) for c in facts.merged), "kept": len(facts.kept)}
        ]  # fmt: skip
    return _arranged(facts, chunk_of, sources, oldmap), [_total_facts(facts)]


def _total(facts: NationalFacts, chunk_of: ChunkOf, sources: Sources) -> str:
    ordered = sorted(facts.counts, key=lambda c: c.number)
    sentence = template(
        "nation.total", total=_number(facts.total), breakdown=_breakdown(facts.by_kind),
        resolutions=len(ordered), first=ordered[0].number, last=ordered[-1].number,
    )  # fmt: skip
    lines = [_line(sentence, _every_count(facts, chunk_of, sources))]
    lines += [
        template("nation.unbalanced", province=c.province, breakdown=c.breakdown, total=c.total)
        for c in facts.unbalanced
    ]  # fmt: skip
    return "\n".join(lines)


def _total_facts(facts: NationalFacts) -> dict[str, Any]:
    return {
        "total": facts.total, **facts.by_kind, "arranged": facts.arranged,
        "unchanged": facts.unchanged, "old_arranged": facts.old_arranged,
        "resolutions": [c.number for c in facts.counts],
    }  # fmt: skip


def _extreme(
    aspect: str, count: UnitCount, resolutions: int, chunk_of: ChunkOf, sources: Sources
) -> str:
    sentence = template(f"nation.{aspect}", province=count.province, total=count.total,
                        breakdown=_breakdown(kind_counts(count)), number=count.number,
                        section=count.section, resolutions=resolutions)  # fmt: skip
    return _line(sentence, _count_cite(count, chunk_of, sources))


def _provinces(
    facts: NationalFacts, chunk_of: ChunkOf, sources: Sources, provisions: list[Provision]
) -> str:
    kept, merged = facts.kept, facts.merged
    anchor = (merged or kept)[0]
    sentence = template(
        "nation.provinces", total=len(merged) + len(kept), merged=len(merged),
        olds=sum(len(c.olds) for c in merged), kept=len(kept),
        kept_names=", ".join(c.new_name for c in kept), number=anchor.number,
    )  # fmt: skip
    lines = [_line(sentence, _cite(sources, chunk_of, anchor.doc_id, anchor.section))]
    for p in provisions[:1]:
        total = len(merged) + len(kept)
        basis = template("nation.provinces_basis", number=p.number, total=total, section=p.section)
        lines.append(_line(basis, cite_chunk(sources, passage(sources, p.doc_id, p.chunk_id))))
    return "\n".join(lines)


def _arranged(
    facts: NationalFacts, chunk_of: ChunkOf, sources: Sources, oldmap: OldMap | None
) -> str:
    sentence = template(
        "nation.arranged", old=_number(facts.old_arranged), arranged=_number(facts.arranged),
        unchanged=facts.unchanged, total=_number(facts.total), resolutions=len(facts.counts),
    )  # fmt: skip
    lines = [_line(sentence, _every_count(facts, chunk_of, sources))]
    if oldmap is not None and oldmap.districts:
        first = oldmap.districts[0]
        listed = template("nation.arranged_list", listed=_number(facts.old_listed),
                          source=oldmap.list_name(first.doc_id))  # fmt: skip
        lines.insert(0, _line(listed, cite_chunk(sources, oldmap.district_chunk(first))))
    return "\n".join(lines)


# --- claims ---------------------------------------------------------------------------------


def compose_province_claim(verdict: ProvinceVerdict, chunk_of: ChunkOf, sources: Sources) -> str:
    """"Bắc Kạn nhập vào Quảng Trị có đúng không?": yes or no, then what became of A."""
    fact = compose_province([verdict.fact], False, chunk_of, sources)
    return f"{template('nation.yes' if verdict.true else 'nation.no')} {fact}"


def compose_unit_claim(verdict: UnitVerdict, chunk_of: ChunkOf, sources: Sources) -> str:
    """"Xã A có phải thành xã B không?": yes, partly or no, then where A went with its clause."""
    key = "nation.yes" if verdict.true else "nation.partly" if verdict.partial else "nation.no"
    return f"{template(key)} {compose_units(verdict.placements, chunk_of, sources)}"


# --- dates ----------------------------------------------------------------------------------


def compose_provision(kind: str, provisions: list[Provision], sources: Sources) -> str:
    """The date a provision sets (`provisions`: those of `kind`, one province's or all), with
    its clause; the same clause of every resolution is cited once, as every resolution's."""
    if not provisions:
        return template("nation.unknown")
    first = provisions[0]
    shared = len({p.doc_id for p in provisions}) > 1
    key = "nation.every_resolution" if shared else "nation.one_document"
    where = template(key, number=first.number, section=first.section)
    date = next((p.date for p in provisions if p.date), "")
    if kind == "old_until":  # "until the new ones work": the date Điều 2, khoản 2 gives them
        date = next((p.date for p in sources.index.registry.provisions
                     if p.kind == "communes_start" and p.doc_id == first.doc_id), date)  # fmt: skip
    sentence = template(f"nation.{kind}", date=date_vi(date), where=where)
    return _line(sentence, cite_chunk(sources, passage(sources, first.doc_id, first.chunk_id)))


def compose_resolution(doc: Document, provisions: list[Provision], sources: Sources) -> str:
    """A province's resolution: its number, date and signer (its header and signature), then
    when it was passed and came into force (its own provisions)."""
    chunks = sources.index.files[doc.doc_id].chunks
    facts, _ = compose_facts(doc, ["number", "date"], chunks, sources)
    own = [p for p in provisions if p.doc_id == doc.doc_id and p.kind in ("passed", "effective")]
    own.sort(key=lambda p: p.kind != "passed")
    dates = [compose_provision(p.kind, [p], sources) for p in own]
    return "\n".join([f"{doc.title}: {facts}", *dates])
