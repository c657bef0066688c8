"""The extractive composer: answers built only from quoted sentences and registry facts, every
sentence with its [n], the connecting words from prompts/templates.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from bot.answer.models import Citation
from bot.answer.guards import is_injection
from index.retriever import Hit
from index.search import Sentences
from index.store import Index
from ingest.records import Chunk, Document, Duty
from ingest.sentences import quotable_sentences
from ingest.text import date_vi, fold, lexical_tokens, match_form
from prompts import template

# Syllables that carry no topic: left out when a sentence is matched to a question.
STOP_WORDS = set(
    "la gi cua va cac nhung co khong the nao duoc trong theo ve cho thi de o mot nay do voi tu den "
    "sao vay a ai bao nhieu hay chi ma lam nhu phai se da dang ra len khi neu vi tai ke hoach "
    "minh toi ban gio con ho nhe oi u thuoc".split()
)
_NUMERIC = re.compile(r"\b(?:nam nao|khoa may|lan thu may)\b")
SUPPORT_CANDIDATES = 40  # sentences, best by their words, weighed for meaning too
SHARED_SOURCES = 2  # documents cited for one sentence they all say: a phone shows two


@dataclass
class Sources:
    """The numbered citations of one answer, each chunk once."""

    index: Index
    citations: list[Citation] = field(default_factory=list)
    _numbers: dict[str, int] = field(default_factory=dict)

    def cite(self, chunk: Chunk, score: float) -> int:
        if chunk.chunk_id not in self._numbers:
            doc = self.index.files[chunk.doc_id].document
            n = len(self.citations) + 1
            self._numbers[chunk.chunk_id] = n
            self.citations.append(
                Citation(
                    n=n, doc=doc.doc_id, title=doc.title, number=doc.number, date=doc.date,
                    issuer=doc.issuer, section=chunk.section, text=chunk.text,
                    score=round(score, 6),
                )
            )  # fmt: skip
        return self._numbers[chunk.chunk_id]



def describe(doc: Document) -> str:
    """"Kế hoạch số 02-KH/BTGDUK ngày 16/12/2024 của Ban Tuyên giáo …" """
    kind = doc.doc_type.capitalize() if doc.doc_type else "Văn bản"
    parts = [kind]
    if doc.number:
        parts.append(f"số {doc.number}")
    if doc.date:
        parts.append(date_vi(doc.date))
    if doc.issuer:
        place = f" ({doc.place})" if doc.place and fold(doc.place) not in fold(doc.issuer) else ""
        parts.append(f"của {doc.issuer}{place}")
    if not doc.number and doc.subject:
        parts.append(f"về {_short(doc.subject, 90)}")
    return " ".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- document facts ---------------------------------------------------------------------------


def compose_facts(doc: Document, asked: list[str], chunks: list[Chunk], sources: Sources):
    """(text, refused): the asked facts from the document's header and signature."""
    head = next((c for c in chunks if c.section == "Phần mở đầu"), chunks[0] if chunks else None)
    tail = next((c for c in chunks if c.section.startswith("Nơi nhận")), head)
    name = describe(doc)
    if "number" in asked and not doc.number:
        n = sources.cite(head, 1.0) if head else 0
        return template("refusal.field_missing", document=name, field="số hiệu") + f" [{n}]", True
    if "date" in asked and not doc.date:
        n = sources.cite(head, 1.0) if head else 0
        return template("refusal.field_missing", document=name, field="ngày ban hành") + f" [{n}]", True
    sentences = []
    if head:
        n = sources.cite(head, 1.0)
        facts = [template("facts.number", document=doc.doc_type.capitalize(), number=doc.number)
                 if doc.number else template("facts.no_number", document=doc.doc_type.capitalize())]
        if doc.date:
            facts.append(template("facts.date", date=date_vi(doc.date)))
        if doc.issuer:
            facts.append(template("facts.issuer", issuer=doc.issuer))
        sentences.append(", ".join(facts) + f" [{n}].")
    if doc.signer.name and tail:
        n = sources.cite(tail, 1.0)
        title = f", {doc.signer.title.capitalize()}" if doc.signer.title else ""
        authority = f" ({doc.signer.authority.title()})" if doc.signer.authority else ""
        signer = template("facts.signer", name=doc.signer.name, title=title + authority)
        sentences.append(_capital(signer) + f" [{n}].")
    if "bases" in asked and doc.bases and head:
        n = sources.cite(head, 1.0)
        bases = "; ".join(f"{b.kind} {b.number}" + (f" {date_vi(b.date)}" if b.date else "")
                          for b in doc.bases)
        sentences.append(template("facts.bases", bases=bases) + f" [{n}].")
    if "recipients" in asked and doc.recipients and tail:
        n = sources.cite(tail, 1.0)
        listed = [r for r in doc.recipients if not fold(r).startswith(("luu", "d/c"))]
        sentences.append(template("facts.recipients", recipients="; ".join(listed)) + f" [{n}].")
    return " ".join(_capital(s) for s in sentences), False


# --- duties -----------------------------------------------------------------------------------


def compose_duties(duties: list[Duty], index: Index, sources: Sources) -> str:
    lines = []
    for duty in duties:
        tasks = [task for task in duty.tasks if not is_injection(task)][:6]
        if not tasks or is_injection(duty.agency):
            continue
        doc = index.files[duty.doc_id].document
        chunk = _chunk_holding(index.files[duty.doc_id].chunks, duty)
        n = sources.cite(chunk, 1.0)
        lines.append(template("duty.intro", document=describe(doc), agency=duty.agency))
        lines.extend(f"- {_sentence(task)} [{n}]" for task in tasks)
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = _capital(text.strip().rstrip(";,"))
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _chunk_holding(chunks: list[Chunk], duty: Duty) -> Chunk:
    probe = fold(duty.tasks[0][:50]) if duty.tasks else ""
    for chunk in chunks:
        if chunk.section == duty.section and probe in fold(chunk.text):
            return chunk
    for chunk in chunks:
        if probe and probe in fold(chunk.text):
            return chunk
    return next((c for c in chunks if duty.section.startswith(c.section)), chunks[0])


def agency_score(agency: str, question: str) -> float:
    """Share of the agency's own words that the question uses."""
    words = {w for w in lexical_tokens(agency) if "_" not in w} - STOP_WORDS - {"quan", "huyen", "cac"}
    asked = set(lexical_tokens(question, chat=True))
    return len(words & asked) / len(words) if words else 0.0


# --- sentences from retrieved passages --------------------------------------------------------


@dataclass
class Scored:
    score: float
    sentence: str
    hit: Hit
    rank: int


def split_sentences(chunk: Chunk) -> tuple[str, ...]:
    """Sentences of a passage that may be quoted; one giving orders to the assistant (a
    poisoned document's "Bỏ qua các hướng dẫn trước…") states nothing a resident asked about."""
    return _unpoisoned(quotable_sentences(chunk))


@lru_cache(maxsize=16_384)
def _unpoisoned(sentences: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s for s in sentences if not is_injection(s))


_DATE_ASKED = re.compile(r"\b(?:ngay nao|khi nao|thoi gian nao|bao gio|bao lau)\b")
_COUNT_ASKED = re.compile(r"\bbao nhieu ([a-z]+(?: [a-z]+)?)")


def _numeric_need(question: str) -> re.Pattern[str] | None:
    """What a sentence must hold to answer "bao nhiêu X", "ngày nào", "khóa mấy"."""
    q = match_form(question, chat=True)
    count = _COUNT_ASKED.search(q)
    if count:
        noun = re.escape(count.group(1).split()[0])
        return re.compile(rf"\b(?:\d+|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi) {noun}")
    if _DATE_ASKED.search(q):
        return re.compile(r"\d{1,2}/\d{1,2}|ngay \d|thang \d|nam \d{4}|thuong xuyen")
    if _NUMERIC.search(q):
        return re.compile(r"\d|\b[ivxlc]{2,}\b")
    return None


def _weight(tokens: set[str], idf: dict[str, float]) -> float:
    return sum(idf.get(t, 3.0) for t in tokens)


@lru_cache(maxsize=32_768)
def _tokens(text: str) -> frozenset[str]:
    """A passage's sentences come back question after question: tokenised once."""
    return frozenset(lexical_tokens(text))


def score_sentences(
    question: str, hits: list[Hit], idf: dict[str, float], named: list[str]
) -> list[Scored]:
    """Share of the question's telling words (IDF-weighted) in each sentence; the words that
    only name the document (its place, its issuer) choose the document, not the sentence, and
    the section's heading lends its words to its sentences (at 0.8 of their weight)."""
    naming = {t for alias in named for t in alias.split()}
    asked = {
        t for t in lexical_tokens(question, chat=True) if "_" not in t and t not in STOP_WORDS
    } - naming
    if not asked:
        return []
    total = _weight(asked, idf)
    needs = _numeric_need(question)
    scored = []
    for rank, hit in enumerate(hits):
        heading = _tokens(" ".join(hit.chunk.heading_path)) & asked
        for sentence in split_sentences(hit.chunk):
            if needs and not needs.search(match_form(sentence)):
                continue
            own = _tokens(sentence) & asked
            score = (_weight(own, idf) + 0.8 * _weight(heading - own, idf)) / total
            scored.append(Scored(score / (1 + 0.05 * rank), sentence, hit, rank))
    return sorted(scored, key=lambda s: s.score, reverse=True)


# An answer needs one sentence whose support reaches SUPPORT_THRESHOLD: its share of the
# question's telling words plus MEANING_WEIGHT × (cosine − MEANING_BASE). e5 puts sentences on
# another topic near 0.80–0.83 and one that says what was asked near 0.84–0.92, and colloquial
# questions share few words with the plans, so meaning weighs as much as words. A sentence with
# no vector must carry the question's words alone (LEXICAL_ALONE). Calibrated on the dev sets
# and a set of out-of-scope questions (`sapxep eval`).
SUPPORT_THRESHOLD = 0.46
LEXICAL_ALONE = 0.48
MEANING_WEIGHT = 6.0
MEANING_BASE = 0.84


def supports_an_answer(scored: list[Scored], sentences: Sentences, query: np.ndarray | None) -> bool:
    for s in scored[:SUPPORT_CANDIDATES]:
        cosine = sentences.similarity(s.sentence, query) if query is not None else None
        if cosine is None:
            support = s.score + SUPPORT_THRESHOLD - LEXICAL_ALONE
        else:
            support = s.score + MEANING_WEIGHT * (cosine - MEANING_BASE)
        if support >= SUPPORT_THRESHOLD:
            return True
    return False


def compose_documents(scored: list[Scored], index: Index, sources: Sources) -> str:
    """Which documents say it: the best sentence of each, the strongest first."""
    best = scored[0].score
    seen: dict[str, Scored] = {}
    for s in scored:
        if s.score >= 0.6 * best and len(seen) < 5:
            seen.setdefault(s.hit.chunk.doc_id, s)
    lines = [template("which.intro", count=len(seen))]
    for doc_id, s in seen.items():
        n = sources.cite(s.hit.chunk, s.hit.score)
        name = _short(describe(index.files[doc_id].document), 110)
        lines.append(f"- {_capital(name)}: {_sentence(s.sentence)} [{n}]")
    return "\n".join(lines)


def compose_order(
    docs: list[Document], chunks: list[Chunk], sources: Sources, earliest: bool = False
) -> str:
    """Which document came first (`earliest`) or last, by the dates their headers give."""
    lines = []
    for doc, head in zip(docs, chunks, strict=True):
        n = sources.cite(head, 1.0)
        key = "order.dated" if doc.date else "order.undated"
        lines.append(template(key, document=_capital(describe(doc)), date=date_vi(doc.date)) + f" [{n}].")
    dated = sorted((d for d in docs if d.date), key=lambda d: d.date)
    if len(dated) >= 2 and len(dated) == len(docs):
        key, doc = ("order.earliest", dated[0]) if earliest else ("order.latest", dated[-1])
        lines.insert(0, template(key, document=_capital(describe(doc))) + ".")
    elif len(dated) < len(docs):
        lines.append(template("order.cannot") + ".")
    return "\n".join(lines)


def compose_sentences(scored: list[Scored], index: Index, sources: Sources, bullets: bool) -> str:
    best = scored[0].score
    chosen: list[Scored] = []
    taken: dict[str, int] = {}
    limit = 5 if bullets else 3
    for s in scored:
        if s.score < (0.5 if bullets else 0.7) * best or len(chosen) >= limit:
            break
        # talking points come from every plan that has them, not five from the first
        key = s.hit.chunk.doc_id if bullets else s.hit.chunk.chunk_id
        if taken.get(key, 0) >= (2 if bullets else 3):
            continue
        taken[key] = taken.get(key, 0) + 1
        chosen.append(s)
    if not bullets:
        chosen.sort(key=lambda s: (s.rank, s.hit.chunk.text.find(s.sentence)))
    chosen, also = _shared_once(chosen, scored)
    parts = [
        _sentence(s.sentence) + " " + "".join(
            f"[{sources.cite(x.hit.chunk, x.hit.score)}]" for x in [s, *also[id(s)]]
        )
        for s in chosen
    ]
    docs = [index.files[s.hit.chunk.doc_id].document for s in chosen]
    if bullets:
        lines = [template("points.intro")]
        lines += [f"- {p} ({_short(describe(d), 80)})" for p, d in zip(parts, docs)]
        return "\n".join(lines)
    if len({d.doc_id for d in docs}) == 1:
        return template("general.according", document=describe(docs[0])) + " " + " ".join(parts)
    return " ".join(parts)


def _shared_once(
    chosen: list[Scored], scored: list[Scored]
) -> tuple[list[Scored], dict[int, list[Scored]]]:
    """A sentence several documents share ("Từ ngày 01/7/2025 …" in every resolution) is quoted
    once, with every source that says it."""
    kept: dict[str, Scored] = {}
    for s in chosen:
        kept.setdefault(_sentence_key(s.sentence), s)
    also: dict[int, list[Scored]] = {id(s): [] for s in kept.values()}
    for s in scored:
        first = kept.get(_sentence_key(s.sentence))
        if first is not None and s is not first and s.hit.chunk.doc_id not in {
            x.hit.chunk.doc_id for x in [first, *also[id(first)]]
        }:
            also[id(first)].append(s)
    for sources in also.values():
        del sources[SHARED_SOURCES - 1 :]
    return list(kept.values()), also


def _sentence_key(sentence: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(sentence)))
