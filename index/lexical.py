"""BM25 over folded syllables and syllable pairs, abbreviations expanded (bm25s)."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from ingest.text import lexical_tokens


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25):
        self._bm25 = retriever

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index([lexical_tokens(t) or [""] for t in texts], show_progress=False)
        return cls(retriever)

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in index order."""
        vocab = self._bm25.vocab_dict
        known = [t for t in lexical_tokens(query, chat=True) if t in vocab]
        if not known:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return self._bm25.get_scores(known)
