"""Question in, Answer out: the one responder behind every channel."""

from __future__ import annotations

import time

from bot.answer import Answer, Citation
from bot.engine import Engine
from index.retriever import Filters, Hit
from index.store import Index


def citation(n: int, hit: Hit, index: Index) -> Citation:
    doc = index.files[hit.chunk.doc_id].document
    return Citation(
        n=n,
        doc=doc.doc_id,
        title=doc.title,
        number=doc.number,
        date=doc.date,
        issuer=doc.issuer,
        section=hit.chunk.section,
        text=hit.chunk.text,
        score=hit.score,
    )


class Responder:
    def __init__(self, engine: Engine, k: int = 8):
        self.engine = engine
        self.k = k

    def ask(self, question: str, filters: Filters | None = None) -> Answer:
        started = time.perf_counter()
        loaded = self.engine.load()
        retrieval = loaded.retriever.retrieve(question, self.k, filters)
        citations = [citation(n, hit, loaded.index) for n, hit in enumerate(retrieval.hits, 1)]
        return Answer(
            question=question,
            answer=f"{citations[0].text} [1]" if citations else "",
            refused=not citations,
            mode="unit_lookup" if retrieval.hints.units else "general",
            citations=citations,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
