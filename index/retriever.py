"""Hybrid retrieval: BM25 and dense vectors fused by reciprocal rank, steered by what the
question names (a document, a province, an old commune or ward)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from index.query import Catalog, Hints, analyze
from index.registry import UnitRegistry
from index.search import Embedder, SearchIndex
from ingest.records import Chunk
from ingest.text import expand_abbreviations, fold, has_diacritics, lexical_tokens, normalize

Routing = Literal["restore", "lexical"]


@dataclass
class Filters:
    doc_ids: list[str] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)
    doc_types: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.provinces or self.doc_types)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    named: bool = False  # the clause of an old unit the question names


@dataclass
class Retrieval:
    hits: list[Hit]
    hints: Hints
    dense_query: str
    query_vector: np.ndarray | None = None  # None when the dense side was not asked


@dataclass
class Weights:
    """Measured on the dev sets (sapxep eval): BM25 over folded syllables is the stronger
    single retriever here; the dense side breaks its ties and finds paraphrases."""

    rrf_k: int = 30
    lexical: float = 1.0
    dense: float = 0.3
    named_document: float = 0.02  # a document the question names: about a dozen ranks up
    pool: int = 60


class HybridRetriever:
    def __init__(
        self,
        search: SearchIndex,
        embedder: Embedder,
        catalog: Catalog,
        registry: UnitRegistry | None,
        weights: Weights | None = None,
        routing: Routing = "restore",
    ):
        self.search = search
        self.embedder = embedder
        self.catalog = catalog
        self.registry = registry
        self.weights = weights or Weights()
        self.routing = routing
        self.chunks = search.chunks
        self._position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self._clauses: dict[tuple[str, str], int] = {}
        for i, c in enumerate(self.chunks):
            self._clauses.setdefault((c.doc_id, c.section), i)
        self._doc_of = np.array([c.doc_id for c in self.chunks])
        self._province_of = [fold(c.province) for c in self.chunks]
        self._type_of = np.array([fold(c.doc_type) for c in self.chunks])
        # (doc_id, section) -> chunk: the clause an answer from the units registry cites
        self.clause_chunks = {key: self.chunks[i] for key, i in self._clauses.items()}
        self.idf, self.vocabulary = syllable_idf(self.chunks)

    def retrieve(
        self,
        question: str,
        k: int = 8,
        filters: Filters | None = None,
        hints: Hints | None = None,
        dense: bool = True,
        meaning: str | None = None,
        vector: np.ndarray | None = None,
    ) -> Retrieval:
        """`hints`: the question's analysis when the caller already made it; `dense=False`
        leaves the question unembedded (an answer from a registry needs only related passages);
        `meaning`: the words to embed when they differ from those searched (the question as
        asked, without the plans' synonyms added for BM25: shorter, as fast to embed);
        `vector`: that embedding when the caller already made it (one per question)."""
        hints = hints or analyze(question, self.catalog, self.registry)
        allowed = self._mask(filters) if filters else None
        w = self.weights
        fused: dict[int, float] = {}
        lexical = self._lexical(question, allowed)
        for rank, i in enumerate(lexical):
            fused[i] = fused.get(i, 0.0) + w.lexical / (w.rrf_k + rank + 1)
        dense_query = self._dense_query(meaning or question) if dense else ""
        if vector is None and dense_query:
            vector = self._vector(dense_query)
        vector = vector if dense else None
        nearest = self._dense(vector, allowed) if vector is not None else []
        for rank, i in enumerate(nearest):
            fused[i] = fused.get(i, 0.0) + w.dense / (w.rrf_k + rank + 1)
        for i in fused:
            if self.chunks[i].doc_id in hints.doc_ids:
                fused[i] += w.named_document
        named = self._named_clauses(hints, allowed)
        top = max(fused.values(), default=0.0)
        for order, i in enumerate(named):
            fused[i] = top + 1.0 - order * 1e-3
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        lex_rank = {i: r for r, i in enumerate(lexical)}
        dense_rank = {i: r for r, i in enumerate(nearest)}
        hits = [
            Hit(
                chunk=self.chunks[i],
                score=round(fused[i], 6),
                lexical_rank=lex_rank.get(i),
                dense_rank=dense_rank.get(i),
                named=i in named,
            )
            for i in ranked
        ]
        return Retrieval(hits=hits, hints=hints, dense_query=dense_query, query_vector=vector)

    def _mask(self, filters: Filters) -> np.ndarray:
        mask = np.ones(len(self.chunks), dtype=bool)
        if filters.doc_ids:
            mask &= np.isin(self._doc_of, filters.doc_ids)
        if filters.provinces:
            wanted = {fold(p) for p in filters.provinces}
            mask &= np.array([any(w in p for w in wanted) for p in self._province_of])
        if filters.doc_types:
            mask &= np.isin(self._type_of, [fold(t) for t in filters.doc_types])
        return mask

    def _lexical(self, question: str, allowed: np.ndarray | None) -> list[int]:
        scores = self.search.lexical.scores(question)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        n = min(self.weights.pool, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        return [int(i) for i in top[np.argsort(-scores[top])] if scores[i] > 0]

    def question_vector(self, question: str) -> np.ndarray | None:
        """The question's e5 vector as the dense search embeds it (None when routed lexically)."""
        query = self._dense_query(question)
        return self._vector(query) if query else None

    def _dense_query(self, question: str) -> str:
        text = normalize(question)
        if not has_diacritics(text):
            if self.routing == "lexical":
                return ""
            text = self.search.restorer.restore(text)
        return expand_abbreviations(text, chat=True)

    def _vector(self, query: str) -> np.ndarray:
        return np.asarray(self.embedder.encode([query], kind="query"), dtype=np.float32)[0]

    def _dense(self, vector: np.ndarray, allowed: np.ndarray | None) -> list[int]:
        wanted = self.weights.pool * (4 if allowed is not None else 1)
        found = [self._position[i] for i, _ in self.search.vectors.search(vector, wanted)]
        if allowed is not None:
            found = [i for i in found if allowed[i]]
        return found[: self.weights.pool]

    def _named_clauses(self, hints: Hints, allowed: np.ndarray | None) -> list[int]:
        out: list[int] = []
        for placement in hints.units:
            i = self._clauses.get((placement.change.doc_id, placement.change.section))
            if i is not None and i not in out and (allowed is None or allowed[i]):
                out.append(i)
        return out


def syllable_idf(chunks: list[Chunk]) -> tuple[dict[str, float], frozenset[str]]:
    """How telling each folded syllable is (rare ones name the topic, common ones do not), and
    every syllable and syllable pair the documents use: what they can speak of at all."""
    df: Counter[str] = Counter()
    vocabulary: set[str] = set()
    for chunk in chunks:
        tokens = set(lexical_tokens(chunk.text))
        vocabulary |= tokens
        df.update(t for t in tokens if "_" not in t)
    n = len(chunks)
    return {t: math.log(1 + n / c) for t, c in df.items()}, frozenset(vocabulary)


class LangChainRetriever(BaseRetriever):
    """The hybrid retriever behind LangChain's retriever interface."""

    hybrid: Any
    k: int = 8

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [
            LCDocument(
                page_content=hit.chunk.text,
                metadata={
                    "chunk_id": hit.chunk.chunk_id,
                    "doc_id": hit.chunk.doc_id,
                    "section": hit.chunk.section,
                    "score": hit.score,
                },
            )
            for hit in self.hybrid.retrieve(query, self.k).hits
        ]
