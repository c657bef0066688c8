"""Steps 2 and 3 of reading a question: what it asks of which entity, in its conversation.

The intents the example bank ranks are tried best first; a reading needs the entity its
intent is about (a unit, a province, a district, a document) among the question's strong
mentions, or from the conversation when the question is a follow-up that leaves it out. What
the conversation keeps is a `Turn`: the last reading's entities and intent, as data.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from bot.answer.compose import STOP_WORDS
from bot.answer.understand.entities import Linked, link, names_a_unit
from bot.answer.understand.intents import Guess, Intent, IntentBank
from index.gazetteer import Gazetteer
from index.query import Catalog, Hints
from index.registry import UnitRegistry, split_unit
from ingest.text import match_form

FOLLOW_UP_WORDS = 8
MIN_SCORE = 0.3  # below this the bank recognises nothing: read as a question on the plans
CLOSE = 0.75  # a weak unit gives way to another reading scoring this share of the best
FIT = 0.15  # added to an intent whose entity the question names (strongly)
UNEXPLAINED = 0.04  # taken from a card's score for each content word it does not account for
ATTRIBUTES_WITHIN = 0.6  # document facts asked together ("ngày ban hành và số")
_MARKER = re.compile(r"^(?:con|vay|the|the con|vay con|con nhu|thi)\b|\b(?:thi sao|nua|the nao)\s*$")
RETRIEVAL = frozenset({"general", "talking_points", "duty_lookup"})
MODES = {"province_centre": "province_lookup", "doc_by_province": "document_facts"}


@dataclass
class Turn:
    """What a conversation keeps of its last reading (never its text)."""

    intent: str = ""
    attribute: str = ""
    provinces: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    province_keys: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)  # "phường Thượng Đình|Thành phố Hà Nội"
    docs: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Turn | None:
        try:
            data = json.loads(text or "")
            return cls(**data) if isinstance(data, dict) else None
        except (ValueError, TypeError):
            return None  # memory from before readings were kept: no context

    def place(self) -> Hints:
        return Hints(provinces=list(self.provinces), districts=list(self.districts))


@dataclass
class Reading:
    intent: Intent
    score: float
    linked: Linked
    attributes: list[str] = field(default_factory=list)
    followup: bool = False
    unknown_unit: bool = False  # a unit was named (type word and name) that the map lacks
    unexplained: frozenset[str] = frozenset()  # topic words the reading's examples do not use

    @property
    def mode(self) -> str:
        return MODES.get(self.intent.name, self.intent.name)

    @property
    def hints(self) -> Hints:
        return self.linked.hints

    def turn(self) -> Turn:
        h = self.hints
        units = [f"{p.old.kind} {p.old.name}|{p.change.province}" for p in h.units[:4]]
        units += [f"{c.new_kind} {c.new_name}|{c.province}" for c in h.formed[:4] if not h.units]
        provinces = list(h.provinces) or sorted({p.change.province for p in h.units})[:1]
        districts = list(h.districts) or sorted({p.old.qualifier for p in h.units if p.old.qualifier})[:1]
        return Turn(self.intent.name, self.intent.attribute, provinces, districts,
                    [m.key for m in h.mentions], units, list(h.doc_ids))  # fmt: skip


@dataclass
class Reader:
    catalog: Catalog
    registry: UnitRegistry
    gazetteer: Gazetteer
    bank: IntentBank

    def link(self, question: str, last: Turn | None) -> Linked:
        short = len(question.split()) <= FOLLOW_UP_WORDS
        place = last.place() if last is not None and short else None
        linked = link(question, self.catalog, self.registry, self.gazetteer, place)
        if place is not None and names_a_unit(linked) and not (linked.hints.units or linked.hints.formed):
            # a unit named that is not in the last turn's place: wherever it is
            linked = link(question, self.catalog, self.registry, self.gazetteer)
        return linked

    def read(self, linked: Linked, last: Turn | None, vector: np.ndarray | None = None) -> Reading:
        content = _content_words(linked)
        guesses = _fitted(self.bank.classify(linked.masked, vector), linked, content)
        followup = last is not None and len(linked.text.split()) <= FOLLOW_UP_WORDS
        if followup:
            self._fill(linked, last, guesses)
        chosen = self._choose(linked, guesses)
        if followup and last is not None and _is_marker(linked.text) and chosen.intent.needs != "none":
            same = next((g for g in guesses if g.intent.name == last.intent and _has(linked, g.intent.needs)), None)
            chosen = same or chosen
        attributes = [g.intent.attribute for g in guesses if g.intent.name == "document_facts"
                      and g.score >= ATTRIBUTES_WITHIN * guesses[0].score and g.intent.attribute]  # fmt: skip
        cut = [m for m in linked.mentions if m.kind == "unit" and m.cut]
        whole = [m for m in linked.mentions if m.kind == "unit" and not m.cut]
        unknown = chosen.intent.needs == "unit" and (
            (not _has(linked, "unit") and names_a_unit(linked)) or (bool(cut) and not whole)
        )
        unexplained = frozenset(content - chosen.cues)
        return Reading(chosen.intent, chosen.score, linked, attributes, followup, unknown, unexplained)

    def _choose(self, linked: Linked, guesses: list[Guess]) -> Guess:
        best = guesses[0]
        if best.score < MIN_SCORE:
            return _general(guesses)
        if best.intent.needs == "unit" and not _has(linked, "unit") and names_a_unit(linked):
            return best  # a unit named that the map does not know: said so, not another answer
        for guess in guesses:
            if guess.score < CLOSE * best.score:
                break
            if _has(linked, guess.intent.needs, strong=True):
                return guess
        if _has(linked, best.intent.needs) or best.intent.needs in ("agency", "none"):
            return best
        return _general(guesses)  # what was asked is about an entity the question does not name

    def _fill(self, linked: Linked, last: Turn, guesses: list[Guess]) -> None:
        """A follow-up leaves out what the last turn named: "trung tâm hành chính ở đâu?",
        "tỉnh đó có bao nhiêu xã?", "còn kế hoạch Kiến An thì sao?"."""
        hints = linked.hints
        if not hints.mentions and last.province_keys:
            hints.mentions = [m for k in last.province_keys for m in self.registry.provinces.mentions(k)]
        if not (hints.units or hints.formed) and last.units and not names_a_unit(linked):
            for entry in last.units:
                name, province = entry.split("|", 1)
                kind, bare = split_unit(name)
                hints.units += self.registry.find(bare, kind, province)
                hints.formed += [c for c in self.registry.formed(bare, kind, province) if not hints.units]
        if not hints.doc_ids and last.docs and (_is_marker(linked.text) or guesses[0].intent.needs == "document"):
            hints.doc_ids = list(last.docs)


def _fitted(guesses: list[Guess], linked: Linked, content: set[str]) -> list[Guess]:
    """An intent about the kind of entity the question names gains over one about none, and
    a card loses for each of the question's `content` words its examples do not use."""
    address = linked.hints.address
    street = bool(address is not None and address.street and linked.hints.units)

    def fit(g: Guess) -> float:
        # documents and agencies are the context of most plan questions, not what they ask about
        named = g.intent.needs in ("unit", "province", "district", "place") and _has(linked, g.intent.needs, strong=True)
        if g.intent.needs in ("province", "district") and linked.strong("unit"):
            named = False  # "xã A, huyện B, tỉnh C": the province places the unit asked about
        # a card answers only what its examples ask; retrieval can account for any words
        unexplained = 0 if g.intent.name in RETRIEVAL else len(content - g.cues)
        if g.intent.name == "address" and street:
            return g.score + 2 * FIT  # the address parser found a street: the line is the question
        return g.score + (FIT if named and linked.mentions else 0.0) - UNEXPLAINED * unexplained

    return sorted((Guess(g.intent, fit(g), g.cues) for g in guesses), key=lambda g: -g.score)


def _content_words(linked: Linked) -> set[str]:
    """The question's topic words: not asking words, not names (the mentions account for those)."""
    words = set(re.findall(r"[a-z0-9]+", linked.masked)) - STOP_WORDS - linked.described
    return {w for w in words if not w.startswith("zz") and not w.isdigit()}


def _general(guesses: list[Guess]) -> Guess:
    return next(g for g in guesses if g.intent.name == "general")


def _has(linked: Linked, needs: str, strong: bool = False) -> bool:
    h = linked.hints
    if needs == "unit":
        found = bool(h.units or h.formed)
        return found and (not strong or bool(linked.strong("unit")) or not linked.mentions)
    if needs == "province":
        return bool(h.mentions)
    if needs == "district":
        return bool(linked.strong("district"))
    if needs == "document":
        return bool(h.doc_ids)
    if needs == "place":  # a commune or a province (a district, gone since 1/7/2025, has no office)
        return any(_has(linked, kind, strong) for kind in ("unit", "province"))
    return True


def _is_marker(text: str) -> bool:
    return bool(_MARKER.search(match_form(text, chat=True).strip(" ?.!")))

