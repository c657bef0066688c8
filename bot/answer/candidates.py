"""A reading turned into an answer by the composer it names: the new map's registries, a
document's header, the duties registry, or retrieved sentences. A composer that finds nothing
for its reading returns None and the next candidate is tried; none left, the assistant says
what the documents lack."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.answer.compose import (
    Sources,
    agency_score,
    compose_documents,
    compose_duties,
    compose_facts,
    compose_order,
    compose_sentences,
    score_sentences,
    supports_an_answer,
)
from bot.answer.engine import Loaded
from bot.answer.guards import asks_order, asks_which_documents, names_other_document
from bot.answer.models import Answer
from bot.answer.newmap import (
    compose_address,
    compose_both,
    compose_count,
    compose_province,
    compose_reverse,
    compose_units,
    unit_facts,
)
from bot.answer.subjects import subject_of
from bot.answer.understand.reading import Reading
from index.query import Hints
from index.retriever import Retrieval
from ingest.text import fold
from prompts import template

ALSO_SAID = 0.6  # share of the question's words a document's sentence holds to join its header facts
REGISTRY_MODES = frozenset({"unit_lookup", "unit_reverse", "unit_count", "province_lookup", "address"})


@dataclass
class Drafted:
    text: str
    refused: bool = False
    facts: list[dict[str, Any]] | None = None


def from_map(reading: Reading, loaded: Loaded, sources: Sources) -> Drafted | None:
    """Registry answers: no retrieval, only the clauses they state."""
    hints, mode = reading.hints, reading.mode
    chunk_of = loaded.retriever.clause_chunks
    several = len({fold(n) for n in hints.unit_names}) > 1
    if not several and (mode == "address" or (mode == "unit_lookup" and hints.address is not None and hints.address.street)):
        if not hints.units:
            return None
        text, facts = compose_address(hints, chunk_of, sources)
        return Drafted(text, facts=facts)
    if mode == "unit_count" and hints.mentions and counts_units(reading.linked.masked):
        province = hints.mentions[0].change.new_name
        count = loaded.registry.provinces.count(province)
        return Drafted(compose_count(count, province, chunk_of, sources))
    if mode == "province_lookup" and hints.mentions:
        centre = reading.intent.name == "province_centre"
        return Drafted(compose_province(hints.mentions, centre, chunk_of, sources))
    if mode in ("unit_reverse", "unit_lookup") and hints.formed and not hints.units:
        return Drafted(compose_reverse(hints.formed, chunk_of, sources))  # only a new unit has that name
    if mode in ("unit_lookup", "unit_reverse") and hints.units:
        placements = in_provinces(hints)
        if hints.formed and mode == "unit_reverse":
            return Drafted(compose_both(hints, chunk_of, sources), facts=unit_facts(placements))
        named: dict[str, list] = {}  # "xã A với xã B": each answered, namesakes together
        for p in placements:
            named.setdefault(fold(f"{p.old.kind} {p.old.name}"), []).append(p)
        text = "\n".join(compose_units(group, chunk_of, sources) for group in named.values())
        return Drafted(text, facts=unit_facts(placements))
    return None


def english_lines(facts: list[dict[str, Any]]) -> str:
    """For a question asked in English: one English line per old unit, the names as the
    resolutions write them (the Vietnamese answer and its sources follow)."""
    lines = []
    for fact in facts:
        if not (fact.get("new_units") and fact.get("old_unit")):
            continue  # a line is about one old unit (a district's facts have their own shape)
        key = "english.split" if fact.get("status") == "split" else "english.unchanged" if fact.get("status") == "unchanged" else "english.merged"
        lines.append(template(key, old=fact.get("old_unit") or fact.get("input", ""),
                              new=" / ".join(fact["new_units"]), province=fact.get("province", ""),
                              citation=fact.get("citation", "")))  # fmt: skip
    return "\n".join(lines)


_COUNTED = re.compile(r"\b(?:bao nhieu|may|so luong|how many)\s+([a-z]+)")
UNIT_WORDS = frozenset("xa phuong don dac thi cap communes wards units".split())


def counts_units(masked: str) -> bool:
    """"bao nhiêu xã, phường": what is counted is communes — not "bao nhiêu tin bài"."""
    counted = [m.group(1) for m in _COUNTED.finditer(masked)]
    return not counted or any(c in UNIT_WORDS for c in counted)


def what_is_said(reading: Reading, loaded: Loaded, sources: Sources) -> str:
    """For an attribute the documents never hold: what they do say of the entity asked about."""
    hints = reading.hints
    chunk_of = loaded.retriever.clause_chunks
    if hints.formed:
        return compose_reverse(hints.formed, chunk_of, sources)
    if hints.units:
        return compose_units(in_provinces(hints), chunk_of, sources)
    if hints.mentions:
        return compose_province(hints.mentions, False, chunk_of, sources)
    return ""


def entity_name(reading: Reading) -> str:
    hints = reading.hints
    if hints.formed:
        c = hints.formed[0]
        return f"{c.new_kind} {c.new_name}"
    if hints.units:
        return f"{hints.units[0].old.kind} {hints.units[0].old.name}"
    if hints.mentions:
        return hints.mentions[0].change.new_name
    return hints.unit_names[0] if hints.unit_names else ""


def decline_attribute(reading: Reading, loaded: Loaded, sources: Sources) -> Answer:
    """"Các văn bản hiện có không nêu chủ tịch UBND phường Yên Hòa. …" and what they say."""
    name = entity_name(reading)
    attribute = reading.intent.attribute
    head = template("refusal.attribute", attribute=attribute, entity=f" {name}" if name else "")
    said = what_is_said(reading, loaded, sources)
    text = f"{head}\n{template('refusal.attribute_said')}\n{said}" if said else head
    return Answer(question="", answer=text, refused=True, mode="attribute_missing",
                  citations=sources.citations, topic=attribute)  # fmt: skip


def from_documents(
    reading: Reading, searched: str, retrieval: Retrieval, loaded: Loaded, sources: Sources, duties: list
) -> Drafted | None:
    """Answers from the documents: header facts, an agency's duties, or supporting sentences."""
    hints, mode = reading.hints, reading.mode
    compared, earliest = asks_order(searched)
    if len(hints.doc_ids) >= 2 and compared:
        files = [loaded.index.files[d] for d in hints.doc_ids[:4]]
        heads = [next((c for c in f.chunks if c.section == "Phần mở đầu"), f.chunks[0]) for f in files]
        return Drafted(compose_order([f.document for f in files], heads, sources, earliest))
    if mode == "document_facts" and hints.doc_ids:
        file = loaded.index.files[hints.doc_ids[0]]
        own = [fold(loaded.index.files[d].document.number) for d in hints.doc_ids]
        if not names_other_document(searched, [n for n in own if n]):
            text, refused = compose_facts(file.document, reading.attributes or ["number", "date"], file.chunks, sources)
            said = _also_said(reading, searched, retrieval, loaded, sources) if not refused else ""
            return Drafted(f"{text}\n{said}" if said else text, refused)
    if duties:
        return Drafted(compose_duties(duties, loaded.index, sources))
    named = [a for a, docs in loaded.retriever.catalog.aliases.items() if set(docs) & set(hints.doc_ids)]
    scored = score_sentences(searched, retrieval.hits, loaded.retriever.idf, named)
    if not supports_an_answer(scored, loaded.retriever.search.sentences, retrieval.query_vector):
        return None
    if asks_which_documents(searched):
        return Drafted(compose_documents(scored, loaded.index, sources))
    return Drafted(compose_sentences(scored, loaded.index, sources, bullets=mode == "talking_points"))


def _also_said(reading: Reading, searched: str, retrieval: Retrieval, loaded: Loaded, sources: Sources) -> str:
    """A header fact asked with more words than the fact ("báo cáo cùng với báo cáo nào, gửi qua
    cơ quan nào"): the document's own sentence on them too, when one supports them."""
    hits = [h for h in retrieval.hits if h.chunk.doc_id in reading.hints.doc_ids]
    named = [a for a, docs in loaded.retriever.catalog.aliases.items() if set(docs) & set(reading.hints.doc_ids)]
    scored = score_sentences(searched, hits, loaded.retriever.idf, named)
    if not scored or scored[0].score < ALSO_SAID:
        return ""
    return compose_sentences(scored[:1], loaded.index, sources, bullets=False)


def province_document(hints: Hints, loaded: Loaded) -> None:
    """"Hà Tĩnh sắp xếp cấp xã theo nghị quyết số mấy?": the province's resolution."""
    for mention in hints.mentions:
        province = fold(mention.change.new_name)
        for doc_id, file in loaded.index.files.items():
            if file.units and fold(file.units[0].province) == province and doc_id not in hints.doc_ids:
                hints.doc_ids.append(doc_id)


def place_without_documents(reading: Reading, loaded: Loaded) -> str:
    """"phòng nào của quận Hoàng Mai lo tuyên truyền": a district the plans are not of (the
    plans are local documents: another place's plan does not answer for it)."""
    aliases = loaded.retriever.catalog.aliases
    for mention in reading.linked.strong("district"):
        if not any(mention.words in alias or alias in mention.words for alias in aliases):
            return linked_place(reading, mention.words)
    return ""


def linked_place(reading: Reading, words: str) -> str:
    """"quận Hoàng Mai": a district as the question typed it, with its type word."""
    typed = reading.linked.typed(words)
    before = fold(reading.linked.text).split(fold(typed))[0].split()
    kind = {"quan": "quận", "huyen": "huyện", "xa": "thị xã"}.get(before[-1] if before else "", "quận/huyện")
    return f"{kind} {typed}"


def duties_for(question: str, hints: Hints, loaded: Loaded) -> list:
    files = [loaded.index.files[d] for d in hints.doc_ids] or [
        f for f in loaded.index.files.values() if f.document.doc_type == "KẾ HOẠCH"
    ]
    scored = [(agency_score(d.agency, question), d) for f in files for d in f.duties]
    best = max((s for s, _ in scored), default=0.0)
    if best < 0.75:
        return []
    return [d for s, d in scored if s >= best - 1e-9][:3]


def in_provinces(hints: Hints):
    """With a province named (or known from the conversation), only its namesake."""
    if hints.provinces:
        chosen = [p for p in hints.units if p.change.province in hints.provinces]
        if chosen:
            return chosen
    return hints.units


def subject(reading: Reading, loaded: Loaded) -> str:
    return subject_of(reading.mode, reading.hints, loaded.index)
