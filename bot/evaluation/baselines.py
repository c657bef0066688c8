"""Two baselines measured beside the product in the same run:

- plain BM25 over lower-cased syllables of the same chunks (no folding, no abbreviations);
- a naive LangChain pipeline: RecursiveCharacterTextSplitter(1000, 200) over the raw files,
  the same embedding model through `HuggingFaceEmbeddings` (no e5 prefixes), FAISS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np
from langchain_core.documents import Document as LCDocument
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.evaluation.metrics import Passage
from index.vectorstore import FaissStore
from ingest.loaders import LoadError, load
from ingest.records import Chunk, Document


def _syllables(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower()) or [""]


class PlainBM25:
    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self.bm25 = bm25s.BM25()
        self.bm25.index([_syllables(c.text) for c in chunks], show_progress=False)

    def __call__(self, question: str, k: int = 10) -> Sequence[Passage]:
        vocab = self.bm25.vocab_dict
        tokens = [t for t in _syllables(question) if t in vocab]
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        top = np.argsort(-scores)[:k]
        return [Passage(self.chunks[i].doc_id, self.chunks[i].text) for i in top if scores[i] > 0]


class NaiveLangChain:
    def __init__(self, documents: list[Document], model_path: str):
        from langchain_huggingface import HuggingFaceEmbeddings

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        pieces: list[LCDocument] = []
        for doc in documents:
            try:
                raw = load(doc.path).text
            except LoadError:
                continue
            pieces.extend(splitter.create_documents([raw], metadatas=[{"doc_id": doc.doc_id}]))
        embeddings = HuggingFaceEmbeddings(
            model_name=model_path,
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
        self.store = FaissStore.from_texts(
            [p.page_content for p in pieces], embeddings, metadatas=[p.metadata for p in pieces]
        )

    def __call__(self, question: str, k: int = 10) -> Sequence[Passage]:
        found = self.store.similarity_search(question, k=k)
        return [Passage(d.metadata["doc_id"], d.page_content) for d in found]
