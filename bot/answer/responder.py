"""Question in, Answer out: the one responder behind every channel.

normalise → route → (registries | retrieval) → compose → cite, or decline.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Any, Protocol

from bot.answer.cache import AnswerCache, Entry
from bot.answer.compose import (
    STOP_WORDS,
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
from bot.answer.engine import Engine, Loaded
from bot.answer.llm import LLMComposer
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
from bot.answer.router import (
    REGISTRY_MODES,
    Mode,
    asked_facts,
    asks_centre,
    asks_direction,
    asks_order,
    asks_which_documents,
    is_injection,
    is_off_topic,
    looks_like_unit_question,
    official_terms,
    route,
    uncovered_topic,
)
from bot.answer.subjects import missing_words, subject_of
from index.query import Hints, analyze
from index.retriever import Filters, Retrieval
from ingest.text import fold, match_form, normalize
from prompts import template

MAX_QUESTION_CHARS = 1000
FOLLOW_UP_WORDS = 8
_CITED = re.compile(r"\[(\d+)\]")
CONVERSATIONS = 10_000


class Memory(Protocol):
    """Where the last question of each conversation is kept (in process, or in `StateStore`)."""

    def last(self, conversation: str) -> str | None: ...

    def remember(self, conversation: str, question: str, mode: str) -> None: ...


class Conversations:
    """In-process memory: bounded, oldest conversation dropped first."""

    def __init__(self, limit: int = CONVERSATIONS):
        self.limit = limit
        self._questions: OrderedDict[str, str] = OrderedDict()

    def last(self, conversation: str) -> str | None:
        return self._questions.get(conversation)

    def remember(self, conversation: str, question: str, mode: str) -> None:
        self._questions[conversation] = question
        self._questions.move_to_end(conversation)
        while len(self._questions) > self.limit:
            self._questions.popitem(last=False)


class Responder:
    def __init__(
        self,
        engine: Engine,
        k: int = 8,
        conversations: Memory | None = None,
        llm: LLMComposer | None = None,
        paraphrase: bool = True,
        cache: AnswerCache | None = None,
    ):
        """`cache`: answers kept for questions asked again (None: every question answered)."""
        self.engine = engine
        self.cache = cache
        self.k = k
        self.conversations = conversations or Conversations()
        self.llm = llm if llm is not None else engine.llm
        self.paraphrase = paraphrase  # colloquial words searched with the plans' own too

    def ask(
        self, question: str, conversation: str | None = None, filters: Filters | None = None
    ) -> Answer:
        started = time.perf_counter()
        text = normalize(question or "")
        declined = _unreadable(text)  # before any index is needed
        if declined is None and is_injection(text):
            declined = _refusal(text, "refusal.injection", "topic.injection")
        if declined is not None:
            declined.latency_ms = round((time.perf_counter() - started) * 1000, 2)
            return declined
        previous = None
        if conversation and len(text.split()) <= FOLLOW_UP_WORDS:
            previous = self.conversations.last(conversation)
        loaded = self.engine.load()
        key = (loaded.index.path.name, text, _filters_key(filters), previous or "")
        entry = self.cache.get(key) if self.cache is not None else None
        if entry is None:
            understood: list[tuple[str, str]] = []
            answer = self._answer(text, previous, filters, loaded, understood)
            seconds = time.perf_counter() - started
            entry = Entry(answer, understood[0] if understood else None, seconds)
            if self.cache is not None:
                self.cache.put(key, entry)
        if conversation and entry.remembered:
            self.conversations.remember(conversation, *entry.remembered)
        answer = entry.answer.model_copy()  # callers set only latency_ms and answer_id on it
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def _answer(
        self,
        question: str,
        previous: str | None,
        filters: Filters | None,
        loaded: Loaded,
        understood: list[tuple[str, str]],
    ) -> Answer:
        """`understood` receives (the question as read in its conversation, its mode)."""
        effective, hints = self._in_context(question, previous, loaded)
        if is_off_topic(effective, hints):
            return _refusal(question, "refusal.off_topic", "topic.off_topic")
        topic = uncovered_topic(effective, loaded.retriever.vocabulary)
        if topic is not None and not (hints.units or hints.address):
            text = template("refusal.uncovered", topic=topic["name"], who=topic["who"])
            return Answer(question=question, answer=text, refused=True, mode="general", topic=topic["name"])
        if filters and filters.provinces:
            wanted = [fold(p) for p in filters.provinces]
            hints.units = [u for u in hints.units if any(w in fold(u.change.province) for w in wanted)]
            hints.provinces = hints.provinces or list(filters.provinces)
        own = [fold(loaded.index.files[d].document.number) for d in hints.doc_ids]
        mode = route(effective, hints, [n for n in own if n])
        understood.append((effective, mode))
        sources = Sources(loaded.index)
        if mode in REGISTRY_MODES:
            if mode in ("address", "unit_lookup") and not hints.units:
                unit = _unknown_unit(hints)
                text, missing = template("refusal.unit_unknown", unit=unit), template("topic.unit_unknown", unit=unit)
                return Answer(question=question, answer=text, refused=True, mode=mode, topic=missing)
            text, facts = self._from_map(mode, effective, hints, loaded, sources)
            return Answer(question=question, answer=text, mode=mode, citations=sources.citations,
                          facts=facts, subject=subject_of(mode, hints, loaded.index))  # fmt: skip
        searched = f"{effective} {official_terms(effective)}".strip() if self.paraphrase else effective
        # a document's facts come from its parsed header, an agency's tasks from the duties
        # registry: then passages are only related, and the question need not be embedded
        duties = _duties(searched, hints, loaded) if mode == "duty_lookup" else []
        registry = mode == "document_facts" or bool(duties)
        retrieval = loaded.retriever.retrieve(
            searched, self.k, filters, hints, dense=not registry, meaning=effective
        )
        text, refused = self._compose(mode, searched, hints, retrieval, loaded, sources, duties)
        if text and not refused and self.llm is not None and mode in ("general", "talking_points"):
            # the LLM gets what the extractive answer cites; any failure or rule-breaking
            # output gives None, and the extractive answer stands
            text = self.llm.compose(question, mode, list(sources.citations)) or text
        for hit in retrieval.hits:
            sources.cite(hit.chunk, hit.score)
        if not text:
            text, refused = template("refusal.not_found"), True
        missing = ""
        if refused:
            retriever = loaded.retriever
            words = missing_words(question, retriever.idf, retriever.vocabulary, STOP_WORDS)
            missing = template("topic.not_found", words=words) if words else ""
        cited = {int(n) for n in _CITED.findall(text)}
        return Answer(
            question=question, answer=text, refused=refused, mode=mode,
            citations=[c for c in sources.citations if c.n in cited],
            related=[c for c in sources.citations if c.n not in cited],
            subject=subject_of(mode, hints, loaded.index), topic=missing,
        )  # fmt: skip

    def _from_map(
        self, mode: Mode, question: str, hints: Hints, loaded: Loaded, sources: Sources
    ) -> tuple[str, list[dict[str, Any]]]:
        """Registry answers: no retrieval, only the clauses they state."""
        chunk_of = loaded.retriever.clause_chunks
        if mode == "address":
            return compose_address(hints, chunk_of, sources)
        if mode == "unit_reverse":
            return compose_reverse(hints.formed, chunk_of, sources), []
        if mode == "unit_count":
            province = hints.mentions[0].change.new_name
            count = loaded.registry.provinces.count(province)
            return compose_count(count, province, chunk_of, sources), []
        if mode == "province_lookup":
            return compose_province(hints.mentions, asks_centre(question), chunk_of, sources), []
        placements = _in_provinces(hints)
        forward, _ = asks_direction(question)
        if hints.formed and not forward:
            return compose_both(hints, chunk_of, sources), unit_facts(placements)
        return compose_units(placements, chunk_of, sources), unit_facts(placements)

    def _in_context(self, question: str, previous: str | None, loaded: Loaded):
        """A short follow-up ("còn ở Cao Bằng thì sao?") is read with the previous question;
        one that names its own unit ("còn phường 2 thì sao?") keeps the previous place."""
        catalog, registry = loaded.retriever.catalog, loaded.registry
        hints = analyze(question, catalog, registry)
        if previous is None or len(question.split()) > FOLLOW_UP_WORDS:
            return question, hints
        if hints.units or hints.formed:
            place = "" if hints.provinces else _place_of(analyze(previous, catalog, registry))
            if not place:
                return question, hints
            placed = f"{question} ({place})"
            return placed, analyze(placed, catalog, registry)
        if hints.doc_ids and not match_form(question).startswith(("con ", "the con", "vay con")):
            return question, hints
        merged = f"{previous} {question}"
        merged_hints = analyze(merged, catalog, registry)
        if hints.mentions:  # "còn Nam Định thì sao?": the previous wording, this province
            merged_hints.mentions = hints.mentions
        return merged, merged_hints

    def _compose(
        self,
        mode: Mode,
        question: str,
        hints: Hints,
        retrieval: Retrieval,
        loaded: Loaded,
        sources: Sources,
        duties: list,
    ) -> tuple[str, bool]:
        """`duties`: the duties registry's entries for the agency a duty question names."""
        if looks_like_unit_question(question) and not hints.doc_ids:
            return template("refusal.unit_unknown", unit="đơn vị này"), True
        compared, earliest = asks_order(question)
        if len(hints.doc_ids) >= 2 and compared:
            files = [loaded.index.files[d] for d in hints.doc_ids[:4]]
            heads = [next((c for c in f.chunks if c.section == "Phần mở đầu"), f.chunks[0]) for f in files]
            return compose_order([f.document for f in files], heads, sources, earliest), False
        if mode == "document_facts":
            doc_id = hints.doc_ids[0]
            chunks = loaded.index.files[doc_id].chunks
            doc = loaded.index.files[doc_id].document
            return compose_facts(doc, asked_facts(question), chunks, sources)
        if duties:
            return compose_duties(duties, loaded.index, sources), False
        named = [a for a, docs in loaded.retriever.catalog.aliases.items() if set(docs) & set(hints.doc_ids)]
        scored = score_sentences(question, retrieval.hits, loaded.retriever.idf, named)
        if not supports_an_answer(scored, loaded.retriever.search.sentences, retrieval.query_vector):
            return "", True
        if asks_which_documents(question):
            return compose_documents(scored, loaded.index, sources), False
        return compose_sentences(scored, loaded.index, sources, bullets=mode == "talking_points"), False


def _filters_key(filters: Filters | None) -> str:
    if not filters:
        return ""
    return "|".join(",".join(sorted(v)) for v in (filters.doc_ids, filters.provinces, filters.doc_types))


def _refusal(question: str, key: str, topic: str = "topic.unreadable") -> Answer:
    return Answer(question=question, answer=template(key), refused=True, mode="general", topic=template(topic))


def _unreadable(question: str) -> Answer | None:
    """The input guard, before any retrieval (so hostile input costs one pass over the text):
    a (normalised) question over the limit gets its length and the limit, one with no letter
    or digit (empty, whitespace, punctuation, emoji) is asked again; None lets it through."""
    if len(question) > MAX_QUESTION_CHARS:
        length, limit = group_thousands(len(question)), group_thousands(MAX_QUESTION_CHARS)
        size = template("refusal.too_long_size", length=length, limit=limit)
        text = f"{template('refusal.too_long')} {size}"
        return Answer(question=question, answer=text, refused=True, topic=template("topic.unreadable"))
    if not any(c.isalnum() for c in question):
        return _refusal(question, "refusal.empty")
    return None


def group_thousands(n: int) -> str:
    """12345 -> "12.345", the Vietnamese grouping."""
    return f"{n:,}".replace(",", ".")


def _in_provinces(hints: Hints):
    """With a province named (or known from the conversation), only its namesake."""
    if hints.provinces:
        chosen = [p for p in hints.units if p.change.province in hints.provinces]
        if chosen:
            return chosen
    return hints.units


def _unknown_unit(hints: Hints) -> str:
    """"xã Hợp Thịnh (Hòa Bình)": the unit as the question gave it, for "not found"."""
    address = hints.address
    if address is not None and address.commune is not None:
        place = f" ({address.province})" if address.province else ""
        return f"{address.commune.kind} {address.commune.name}{place}"
    return hints.unit_names[0] if hints.unit_names else "đơn vị này"


def _place_of(hints: Hints) -> str:
    """"Quận 3, Thành phố Hồ Chí Minh": where the units of a turn are, when that is one place."""
    provinces = {p.change.province for p in hints.units} or set(hints.provinces[:1])
    qualifiers = {p.old.qualifier for p in hints.units if p.old.qualifier}
    district = ""
    if len(qualifiers) == 1:
        district = qualifiers.pop()
    elif hints.address is not None and hints.address.district is not None:
        district = f"{hints.address.district.kind} {hints.address.district.name}"
    province = provinces.pop() if len(provinces) == 1 else ""
    return ", ".join(part for part in (district, province) if part)


def _duties(question: str, hints: Hints, loaded: Loaded):
    files = [loaded.index.files[d] for d in hints.doc_ids] or [
        f for f in loaded.index.files.values() if f.document.doc_type == "KẾ HOẠCH"
    ]
    scored = [(agency_score(d.agency, question), d) for f in files for d in f.duties]
    best = max((s for s, _ in scored), default=0.0)
    if best < 0.75:
        return []
    return [d for s, d in scored if s >= best - 1e-9][:3]
