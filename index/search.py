"""Search artifacts of an index version: BM25, FAISS (our LangChain `VectorStore`), sentence
vectors, diacritics restorer.

BM25 covers every chunk. The dense side covers the running text: arrangement clauses and
table rows are lists of names, which BM25 and the units registry find far better (measured
with `sapxep eval`) and which would cost most of the embedding time on a CPU.
Vectors of chunks whose text did not change are taken from the previous version instead of
being embedded again, so re-ingesting one changed file costs the chunks of that file only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from index.diacritics import DiacriticsRestorer
from index.lexical import LexicalIndex
from index.store import SEARCH_VERSION
from index.vectorstore import FaissStore
from ingest.records import Chunk
from ingest.sentences import quotable_sentences

Progress = Callable[[int, int], None]
BATCH = 256


class EmbeddingMismatch(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Embedder(Protocol):
    """What the index needs of an embedding model: `index.embeddings.SentenceEmbeddings`."""

    name: str
    dimension: int

    def encode(self, texts: list[str], kind: str) -> np.ndarray: ...

    def embed_query(self, text: str) -> list[float]: ...


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class SearchIndex:
    chunks: list[Chunk]
    lexical: LexicalIndex
    vectors: FaissStore
    restorer: DiacriticsRestorer
    sentences: Sentences

    @classmethod
    def load(cls, directory: Path, chunks: list[Chunk], embedder: Embedder) -> SearchIndex:
        meta = json.loads((directory / "embedding.json").read_text(encoding="utf-8"))
        if meta["model"] != embedder.name or meta["dimension"] != embedder.dimension:
            raise EmbeddingMismatch(
                f"Chỉ mục được tạo với mô hình nhúng {meta['model']} ({meta['dimension']} chiều), "
                f"nhưng cấu hình hiện là {embedder.name} ({embedder.dimension} chiều). "
                "Hãy nạp lại tài liệu: sapxep ingest <thư mục> --reindex"
            )
        vectors = FaissStore.load(directory / "faiss", embedder)  # type: ignore[arg-type]
        if len(vectors) != meta.get("dense_chunks"):
            raise EmbeddingMismatch(f"Chỉ mục vectơ ở {directory} không khớp số đoạn; hãy nạp lại.")
        return cls(
            chunks=chunks,
            lexical=LexicalIndex.load(directory / "bm25"),
            vectors=vectors,
            restorer=DiacriticsRestorer.load(directory / "diacritics.json"),
            sentences=Sentences.load(directory),
        )


def is_running_text(chunk: Chunk, clauses: set[tuple[str, str]]) -> bool:
    """Not an arrangement clause, not mostly table rows."""
    if (chunk.doc_id, chunk.section) in clauses:
        return False
    lines = [line for line in chunk.text.splitlines() if line.strip()]
    rows = sum(line.lstrip().startswith("|") for line in lines)
    return rows * 2 < len(lines) or not lines


def build_search(
    directory: Path,
    chunks: list[Chunk],
    embedder: Embedder,
    clauses: set[tuple[str, str]],
    previous: Path | None = None,
    on_progress: Progress | None = None,
) -> dict[str, object]:
    """Write BM25, FAISS and the restorer into `directory`; return the manifest's entry.

    `clauses` are the (doc_id, section) of arrangement clauses, left to BM25 and the registry.
    """
    LexicalIndex.build([c.indexed_text for c in chunks]).save(directory / "bm25")
    DiacriticsRestorer.build([c.text for c in chunks]).save(directory / "diacritics.json")
    dense = [c for c in chunks if is_running_text(c, clauses)]
    texts = [c.indexed_text for c in dense]
    sentences = sorted({s for c in dense for s in quotable_sentences(c)})
    known = _reusable(previous, embedder)
    vectors = _embed([*texts, *sentences], embedder, known, on_progress)
    _save_vectors(directory, "vectors", texts, vectors[: len(texts)])
    _save_vectors(directory, "sentence_vectors", sentences, vectors[len(texts) :])
    _faiss(dense, vectors[: len(texts)], embedder).save(directory / "faiss")
    meta = {
        "model": embedder.name,
        "dimension": embedder.dimension,
        "chunks": len(chunks),
        "dense_chunks": len(dense),
        "sentences": len(sentences),
        "version": SEARCH_VERSION,
    }
    (directory / "embedding.json").write_text(json.dumps(meta, ensure_ascii=False))
    return meta


@dataclass
class Sentences:
    """Vectors of the quotable sentences of the running text: how close a sentence is to the
    question in meaning, beside the words they share."""

    rows: dict[str, int]
    vectors: np.ndarray

    @classmethod
    def load(cls, directory: Path) -> Sentences:
        keys, vectors = _load_vectors(directory, "sentence_vectors")
        return cls({k: i for i, k in enumerate(keys)}, vectors)

    def similarity(self, sentence: str, query: np.ndarray) -> float | None:
        """Cosine with the query vector; None for a sentence with no vector."""
        row = self.rows.get(text_key(sentence))
        return None if row is None else float(self.vectors[row] @ query)


def _files(directory: Path, name: str) -> tuple[Path, Path]:
    """"vectors" -> vectors.npy and vector_keys.json (sha1 of each embedded text)."""
    return directory / f"{name}.npy", directory / f"{name.removesuffix('s')}_keys.json"


def _save_vectors(directory: Path, name: str, texts: list[str], vectors: np.ndarray) -> None:
    array, keys = _files(directory, name)
    np.save(array, vectors)
    keys.write_text(json.dumps([text_key(t) for t in texts]))


def _load_vectors(directory: Path, name: str) -> tuple[list[str], np.ndarray]:
    """(text keys, vectors) of one file pair; nothing when absent or torn."""
    array, key_file = _files(directory, name)
    try:
        keys = json.loads(key_file.read_text())
        vectors = np.load(array)
    except (OSError, ValueError):
        return [], np.zeros((0, 0), np.float32)
    return (keys, vectors) if len(keys) == len(vectors) else ([], np.zeros((0, 0), np.float32))


def _reusable(previous: Path | None, embedder: Embedder) -> dict[str, np.ndarray]:
    if previous is None:
        return {}
    try:
        meta = json.loads((previous / "embedding.json").read_text(encoding="utf-8"))
        if meta["model"] != embedder.name:
            return {}
    except (OSError, ValueError, KeyError):
        return {}
    known: dict[str, np.ndarray] = {}
    for name in ("vectors", "sentence_vectors"):
        keys, vectors = _load_vectors(previous, name)
        known.update(zip(keys, vectors))
    return known


def _embed(
    texts: list[str],
    embedder: Embedder,
    known: dict[str, np.ndarray],
    on_progress: Progress | None,
) -> np.ndarray:
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    todo = []
    for i, text in enumerate(texts):
        cached = known.get(text_key(text))
        if cached is not None:
            out[i] = cached
        else:
            todo.append(i)
    todo.sort(key=lambda i: len(texts[i]))  # like lengths together: little padding per batch
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        out[batch] = embedder.encode([texts[i] for i in batch], kind="passage")
        if on_progress:
            on_progress(start + len(batch), len(todo))
    return out


def _faiss(chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder) -> FaissStore:
    store = FaissStore(embedder, embedder.dimension)  # type: ignore[arg-type]
    metadatas = [{"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section} for c in chunks]
    store.add_vectors([c.text for c in chunks], vectors, metadatas, ids=[c.chunk_id for c in chunks])
    return store
