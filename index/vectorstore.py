"""A FAISS vector store on `langchain-core` alone: an exact inner-product index over
L2-normalised vectors (so scores are cosines) and the documents beside it, saved as
`index.faiss` + `documents.json` — no pickle, nothing from `langchain-community`.

Any LangChain code that takes a `VectorStore` (retrievers, chains) can use it; the hybrid
retriever asks it for raw (id, score) pairs with `search`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

INDEX_FILE = "index.faiss"
DOCUMENTS_FILE = "documents.json"


class FaissStore(VectorStore):
    def __init__(self, embedding: Embeddings | None, dimension: int):
        self.embedding = embedding
        self.index = faiss.IndexFlatIP(dimension)
        self.ids: list[str] = []
        self.documents: dict[str, Document] = {}

    @property
    def embeddings(self) -> Embeddings | None:
        return self.embedding

    def __len__(self) -> int:
        return self.index.ntotal

    def add_vectors(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Texts with vectors computed elsewhere (unit length: the score is their dot product)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        ids = list(ids) if ids is not None else [str(uuid.uuid4()) for _ in texts]
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        for id_, text, metadata in zip(ids, texts, metadatas, strict=True):
            self.ids.append(id_)
            self.documents[id_] = Document(page_content=text, metadata=metadata, id=id_)
        return ids

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        vectors = np.asarray(self._embedding().embed_documents(texts), dtype=np.float32)
        return self.add_vectors(texts, vectors.reshape(len(texts), -1), metadatas, ids)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(id, cosine) of the `k` nearest, best first."""
        if not self.ids or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        scores, rows = self.index.search(query, min(k, self.index.ntotal))
        return [(self.ids[r], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return [(self.documents[i], score) for i, score in self.search(np.asarray(embedding), k)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self._embedding().embed_query(query), k)

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k)]

    def _select_relevance_score_fn(self):
        return lambda cosine: (cosine + 1.0) / 2.0

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [self.documents[i] for i in ids if i in self.documents]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> FaissStore:
        vectors = np.asarray(embedding.embed_documents(texts), dtype=np.float32)
        store = cls(embedding, vectors.shape[1])
        store.add_vectors(texts, vectors, metadatas, ids)
        return store

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        documents = [
            {
                "id": i,
                "text": self.documents[i].page_content,
                "metadata": self.documents[i].metadata,
            }
            for i in self.ids
        ]
        (directory / DOCUMENTS_FILE).write_text(json.dumps(documents, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path, embedding: Embeddings | None = None) -> FaissStore:
        """Raises OSError/ValueError/RuntimeError (faiss) for a missing or damaged store."""
        index = faiss.read_index(str(directory / INDEX_FILE))
        documents = json.loads((directory / DOCUMENTS_FILE).read_text("utf-8"))
        if len(documents) != index.ntotal:
            raise ValueError(f"{directory}: {index.ntotal} vectors but {len(documents)} documents")
        store = cls(embedding, index.d)
        store.index = index
        for d in documents:
            store.ids.append(d["id"])
            store.documents[d["id"]] = Document(
                page_content=d["text"], metadata=d["metadata"], id=d["id"]
            )
        return store

    def _embedding(self) -> Embeddings:
        if self.embedding is None:
            raise ValueError("this store was opened without an embedding model: search by vector")
        return self.embedding
