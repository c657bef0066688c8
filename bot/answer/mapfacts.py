"""Readings answered from the old map and the country-wide facts: an old district's new units
and whether it still exists, totals and extremes, a unit's code, a claim, a date, a province's
resolution. Each returns None when the reading's entity is not there, and the next is tried."""

from __future__ import annotations

import re

from bot.answer.candidates import Drafted, in_provinces
from bot.answer.compose import Sources
from bot.answer.engine import Loaded
from bot.answer.nation import (
    compose_national,
    compose_province_claim,
    compose_provision,
    compose_resolution,
    compose_unit_claim,
)
from bot.answer.oldmap import compose_code, compose_district_status, compose_districts, compose_new_codes, compose_old_codes
from bot.answer.understand.reading import Reading
from index.claims import check_province_claim, check_unit_claim
from index.nation import Provisions
from index.registry import split_unit
from ingest.text import fold

MODES = frozenset({"district_lookup", "district_status", "national", "unit_code", "verify", "dates"})
_CODE = re.compile(r"(?<!\d)(\d{5}|\d{3})(?!\d)")


def from_mapfacts(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    mode = reading.mode
    if mode == "national":
        return _national(reading, loaded, sources)
    if mode == "dates":
        return _dates(reading, loaded, sources)
    if mode == "unit_code":
        return _code(reading, loaded, sources)
    if mode == "verify":
        return _claim(reading, loaded, sources)
    return _district(reading, loaded, sources)


def district_too(reading: Reading, loaded: Loaded, sources: Sources) -> str:
    """A bare name that is an old district's too ("Cầu Giấy giờ gồm những gì?"): both read."""
    bare = {m.words for m in reading.linked.mentions if m.kind == "unit"}
    if not any(m.kind == "district" and m.words in bare for m in reading.linked.mentions):
        return ""
    drafted = _district(reading, loaded, sources)
    return drafted.text if drafted is not None else ""


def resolution_of(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    """"Hà Tĩnh sắp xếp cấp xã theo nghị quyết số mấy?": its number, date, signer, dates."""
    provisions = Provisions(loaded.index, loaded.registry.provinces)
    for mention in reading.hints.mentions:
        for doc in provisions.resolutions(mention.change.new_name):
            return Drafted(compose_resolution(doc, provisions.all, sources))
    return None


def _national(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted:
    facts = loaded.national
    aspect = reading.intent.attribute or "total"
    provisions = Provisions(loaded.index, loaded.registry.provinces).of("province_total")
    text, data = compose_national(facts, aspect, loaded.retriever.clause_chunks, sources,  # type: ignore[arg-type]
                                  provisions=provisions, oldmap=loaded.oldmap)  # fmt: skip
    return Drafted(text, facts=data)


def _dates(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted:
    kind = reading.intent.attribute or "communes_start"
    province = reading.hints.mentions[0].change.new_name if reading.hints.mentions else ""
    found = Provisions(loaded.index, loaded.registry.provinces).of(kind, province)
    return Drafted(compose_provision(kind, found, sources))


def _code(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    hints, oldmap = reading.hints, loaded.oldmap
    typed = _CODE.search(reading.linked.text)
    if typed and not (hints.units or hints.formed):
        text, data = compose_code(typed.group(1), oldmap, sources)
        return Drafted(text, facts=data)
    listed = [u for c in hints.formed if (u := oldmap.codes.of_change(c)) is not None]
    if listed:
        return Drafted(compose_new_codes(listed, oldmap, sources))
    province = hints.provinces[0] if len(hints.provinces) == 1 else ""
    communes = [c for p in in_provinces(hints)[:1] for c in oldmap.find_communes(p.old.name, p.old.kind, province)]
    if not communes:
        return None
    news = [u for p in in_provinces(hints) if (u := oldmap.codes.of_change(p.change)) is not None]
    text = compose_old_codes(communes, oldmap, sources)
    news = list({u.code: u for u in news}.values())  # each new unit once, however many parts went to it
    return Drafted("\n".join([text, compose_new_codes(news, oldmap, sources)]) if news else text)


def _claim(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    """"A nhập vào B": provinces, or an old unit and the new unit it is said to have become."""
    hints, chunk_of = reading.hints, loaded.retriever.clause_chunks
    if len(hints.unit_names) >= 2 and hints.units:
        first = split_unit(hints.unit_names[0])[1]
        placements = [p for p in in_provinces(hints) if fold(p.old.name) == fold(first)]
        kind, into = split_unit(hints.unit_names[-1])
        if placements:
            return Drafted(compose_unit_claim(check_unit_claim(placements, into, kind), chunk_of, sources))
    if len(hints.mentions) >= 2:
        verdict = check_province_claim(hints.mentions[0].key, hints.mentions[1].key, loaded.registry.provinces)
        if verdict is not None:
            return Drafted(compose_province_claim(verdict, chunk_of, sources))
    return None


def _district(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    # the list knows a district by its old province, as the question names it
    provinces = [m.key for m in reading.hints.mentions[:1]] + [""]
    districts = next((found for mention in reading.linked.strong("district") for province in provinces
                      if (found := loaded.oldmap.find_districts(mention.words, province))), [])  # fmt: skip
    if not districts:
        return None
    chunk_of = loaded.retriever.clause_chunks
    if reading.mode == "district_status":
        ended = Provisions(loaded.index, loaded.registry.provinces).of("district_end")
        if ended:
            return Drafted(compose_district_status(districts[0], loaded.oldmap, ended[0], chunk_of, sources))
    text, data = compose_districts(districts, loaded.oldmap, chunk_of, sources)
    return Drafted(text, facts=data)
