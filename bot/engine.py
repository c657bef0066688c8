"""The pieces the channels share, assembled from configuration: the embedding model, the
current index and a retriever over it (rebuilt when another process makes a new index
current)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bot.config import Settings
from bot.llm import LLMComposer, LLMSettings
from index.embeddings import SentenceEmbeddings, resolve_model
from index.query import Catalog
from index.registry import UnitRegistry
from index.retriever import HybridRetriever
from index.search import SearchIndex
from index.store import Index, IndexStore, IndexUnavailable, LiveIndex


@dataclass
class Loaded:
    index: Index
    retriever: HybridRetriever
    registry: UnitRegistry


class Engine:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = IndexStore(settings.index_dir)
        self.live = LiveIndex(self.store)
        self._loaded: Loaded | None = None

    @cached_property
    def embedder(self) -> SentenceEmbeddings:
        path, e5 = resolve_model(self.settings.embedding_model, self.settings.data_dir)
        return SentenceEmbeddings(path, e5_prefixes=e5)

    @cached_property
    def llm(self) -> LLMComposer | None:
        """The optional LLM composer; unset SAPXEP_LLM_BASE_URL means extractive answers only."""
        s = self.settings
        if not s.llm_base_url:
            return None
        return LLMComposer(LLMSettings(base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key))

    def load(self) -> Loaded:
        """The current index and its retriever; raises `IndexUnavailable` with advice."""
        index = self.live.get()
        if self._loaded is None or self._loaded.index.path != index.path:
            if not index.has_search:
                raise IndexUnavailable(
                    "Chỉ mục chưa có phần tìm kiếm. Hãy nạp lại: sapxep ingest <thư mục> --reindex"
                )
            registry = UnitRegistry(
                [u for f in index.files.values() for u in f.units], index.registry.provinces
            )
            search = SearchIndex.load(index.path, index.chunks, self.embedder)
            catalog = Catalog.build(index.documents(), index.registry.provinces)
            self._loaded = Loaded(
                index=index,
                retriever=HybridRetriever(search, self.embedder, catalog, registry),
                registry=registry,
            )
        return self._loaded
