"""Question in, Answer out: the one responder behind every channel.

guard → link the names → read what is asked (in its conversation) → the reading's composer
(registries | document facts | duties | retrieval) → cite, or decline saying what is lacking.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Protocol

from bot.answer import candidates, mapfacts
from bot.answer.cache import AnswerCache, Entry
from bot.answer.compose import STOP_WORDS, Sources
from bot.answer.engine import Engine, Loaded
from bot.answer.guards import is_injection, is_off_topic, official_terms, uncovered_topic
from bot.answer.llm import LLMComposer
from bot.answer.models import Answer
from bot.answer.subjects import missing_words
from bot.answer.understand.reading import FOLLOW_UP_WORDS, RETRIEVAL, Reading, Turn
from index.retriever import Filters
from ingest.text import fold, normalize
from prompts import template

MAX_QUESTION_CHARS = 1000
MARGIN = 0.55  # a reading about no entity scored below this is weighed by meaning too
_CITED = re.compile(r"\[(\d+)\]")
CONVERSATIONS = 10_000


class Memory(Protocol):
    """Where each conversation's last reading is kept, as data (in process, or in `StateStore`)."""

    def last(self, conversation: str) -> str | None: ...

    def remember(self, conversation: str, turn: str, mode: str) -> None: ...


class Conversations:
    """In-process memory: bounded, oldest conversation dropped first."""

    def __init__(self, limit: int = CONVERSATIONS):
        self.limit = limit
        self._questions: OrderedDict[str, str] = OrderedDict()

    def last(self, conversation: str) -> str | None:
        return self._questions.get(conversation)

    def remember(self, conversation: str, turn: str, mode: str) -> None:
        self._questions[conversation] = turn
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
        stored = None
        if conversation and len(text.split()) <= FOLLOW_UP_WORDS:
            stored = self.conversations.last(conversation)
        last = Turn.from_json(stored)
        loaded = self.engine.load()
        # the same words in the same context are the same reading
        key = (loaded.index.path.name, text, _filters_key(filters), last.to_json() if last else "")
        entry = self.cache.get(key) if self.cache is not None else None
        if entry is None:
            understood: list[tuple[str, str]] = []
            answer = self._answer(text, last, filters, loaded, understood)
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
        self, question: str, last: Turn | None, filters: Filters | None, loaded: Loaded,
        understood: list[tuple[str, str]],
    ) -> Answer:  # fmt: skip
        """`understood` receives (the reading kept for follow-ups, its mode)."""
        reader = loaded.reader
        linked = reader.link(question, last)
        hints = linked.hints
        if is_off_topic(linked.text, hints) and last is None:
            return _refusal(question, "refusal.off_topic", "topic.off_topic")
        topic = uncovered_topic(linked.text, loaded.retriever.vocabulary)
        if topic is not None and not (hints.units or hints.address):
            text = template("refusal.uncovered", topic=topic["name"], who=topic["who"])
            return Answer(question=question, answer=text, refused=True, mode="general", topic=topic["name"])
        if filters and filters.provinces:
            wanted = [fold(p) for p in filters.provinces]
            hints.units = [u for u in hints.units if any(w in fold(u.change.province) for w in wanted)]
            hints.provinces = hints.provinces or list(filters.provinces)
        reading = reader.read(linked, last)
        vector = None
        if reading.mode in RETRIEVAL or (reading.score < MARGIN and reading.intent.needs == "none"):
            # the one question vector: it weighs the reading and then searches
            vector = loaded.retriever.question_vector(linked.text)
            reading = reader.read(linked, last, vector) if vector is not None else reading
        understood.append((reading.turn().to_json(), reading.mode))
        answer = self._by_reading(question, reading, filters, loaded, vector)
        answer.question = question
        return answer

    def _by_reading(self, question: str, reading: Reading, filters, loaded: Loaded, vector) -> Answer:
        sources = Sources(loaded.index)
        hints, mode = reading.hints, reading.mode
        if mode == "attribute_missing":
            return candidates.decline_attribute(reading, loaded, sources)
        if reading.unknown_unit:
            unit = _unknown_unit(reading)
            text, missing = template("refusal.unit_unknown", unit=unit), template("topic.unit_unknown", unit=unit)
            return Answer(question=question, answer=text, refused=True, mode=mode, topic=missing)
        drafted = None
        if mode in candidates.REGISTRY_MODES:
            drafted = candidates.from_map(reading, loaded, sources)
            district = mapfacts.district_too(reading, loaded, sources) if drafted is not None else ""
            if district and drafted is not None:
                unit = reading.linked.typed(next(m.words for m in reading.linked.mentions if m.kind == "district"))
                drafted.text = "\n".join([template("reverse.both_commune", unit=unit), drafted.text,
                                          template("reverse.both_district", unit=unit), district])  # fmt: skip
        elif mode in mapfacts.MODES:
            drafted = mapfacts.from_mapfacts(reading, loaded, sources)
        elif reading.intent.name == "doc_by_province":
            drafted = mapfacts.resolution_of(reading, loaded, sources)
        if drafted is not None:
            english = candidates.english_lines(drafted.facts or []) if reading.linked.english else ""
            text = f"{english}\n{drafted.text}" if english else drafted.text
            return Answer(question=question, answer=text, mode=mode, citations=sources.citations,
                          facts=drafted.facts or [], subject=candidates.subject(reading, loaded))  # fmt: skip
        elsewhere = candidates.place_without_documents(reading, loaded) if mode in RETRIEVAL else ""
        if elsewhere:
            text = template("refusal.no_documents_of", place=elsewhere)
            return Answer(question=question, answer=text, refused=True, mode=mode, topic=elsewhere)
        if reading.intent.name == "doc_by_province":
            candidates.province_document(hints, loaded)
        elif mode not in RETRIEVAL and mode != "document_facts":
            mode = "general"  # the card found nothing for this reading: the documents answer
        text = reading.linked.text
        searched = f"{text} {official_terms(text)}".strip() if self.paraphrase else text
        duties = candidates.duties_for(searched, hints, loaded) if mode == "duty_lookup" else []
        registry = (mode == "document_facts" and bool(hints.doc_ids)) or bool(duties)
        retrieval = loaded.retriever.retrieve(
            searched, self.k, filters, hints, dense=not registry, meaning=text, vector=vector
        )
        drafted = candidates.from_documents(reading, searched, retrieval, loaded, sources, duties)
        text, refused = (drafted.text, drafted.refused) if drafted else ("", True)
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
            subject=candidates.subject(reading, loaded), topic=missing,
        )  # fmt: skip


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




def _unknown_unit(reading: Reading) -> str:
    """"xã Hợp Thịnh (Hòa Bình)": the unit as the question gave it, for "not found"."""
    hints = reading.hints
    address = hints.address
    if address is not None and address.commune is not None:
        place = f" ({address.province})" if address.province else ""
        return f"{address.commune.kind} {address.commune.name}{place}"
    cut = next((m.cut for m in reading.linked.mentions if m.cut), "")
    return cut or (hints.unit_names[0] if hints.unit_names else "đơn vị này")



