"""Hybrid retrieval on the real index (e5 + BM25), and the index's guarantees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.answer.engine import Engine
from index.build import update_index
from index.retriever import Filters, LangChainRetriever
from index.search import EmbeddingMismatch, SearchIndex
from index.store import IndexStore, IndexUnavailable


def top(engine: Engine, question: str, k: int = 5, filters: Filters | None = None):
    return engine.load().retriever.retrieve(question, k, filters).hits


def test_an_old_ward_split_in_two_brings_both_clauses_first(engine: Engine) -> None:
    hits = top(engine, "phuong thanh xuan bac gio la phuong gi")
    assert [(h.chunk.doc_id, h.chunk.section) for h in hits[:2]] == [
        ("1656_NQ-UBTVQH15.md", "Điều 1, khoản 22"),
        ("1656_NQ-UBTVQH15.md", "Điều 1, khoản 48"),
    ]
    assert all(h.named for h in hits[:2])


def test_without_diacritics_finds_what_with_diacritics_finds(engine: Engine) -> None:
    typed = top(engine, "Phòng Tư pháp quận Thanh Xuân có nhiệm vụ gì?", 3)
    folded = top(engine, "phong tu phap quan thanh xuan co nhiem vu gi", 3)
    assert typed[0].chunk.chunk_id == folded[0].chunk.chunk_id
    assert "Phòng Tư pháp" in typed[0].chunk.section


def test_abbreviations_are_understood(engine: Engine) -> None:
    hits = top(engine, "UB MTTQVN và các tổ chức CT-XH quận Kiến An phải làm gì theo KH?", 5)
    assert any(
        h.chunk.doc_id == "004_9019e5537642a323.txt" and "Mặt trận" in h.chunk.text for h in hits
    )


def test_a_named_document_is_preferred(engine: Engine) -> None:
    hits = top(engine, "nghị quyết 1656 quy định gì về hiệu lực thi hành", 3)
    assert hits[0].chunk.doc_id == "1656_NQ-UBTVQH15.md"
    kien_an = top(engine, "Kế hoạch Kiến An đưa ra những hình thức tuyên truyền nào?", 3)
    assert {h.chunk.doc_id for h in kien_an} == {"004_9019e5537642a323.txt"}


def test_province_filter_and_namesakes(engine: Engine) -> None:
    everywhere = top(engine, "xã Tri Phương sáp nhập với xã nào", 5)
    named = {h.chunk.doc_id for h in everywhere if h.named}
    assert {"1672_NQ-UBTVQH15.md", "1657_NQ-UBTVQH15.md"} <= named
    only = top(engine, "xã Tri Phương sáp nhập với xã nào", 5, Filters(provinces=["Lạng Sơn"]))
    assert {h.chunk.doc_id for h in only} == {"1672_NQ-UBTVQH15.md"}
    in_question = top(engine, "xã Tri Phương ở Cao Bằng giờ thuộc xã nào", 3)
    assert in_question[0].chunk.doc_id == "1657_NQ-UBTVQH15.md"


def test_langchain_retriever_interface(engine: Engine) -> None:
    retriever = LangChainRetriever(hybrid=engine.load().retriever, k=4)
    docs = retriever.invoke("ai ký kế hoạch 02-KH/BTGDUK")
    assert len(docs) == 4
    assert docs[0].metadata["doc_id"] == "002_6d727a2a5508cfde.txt"


def test_manifest_records_the_model_and_a_mismatch_is_a_clear_error(engine: Engine) -> None:
    index = engine.load().index
    assert index.manifest["embedding"]["model"] == engine.embedder.name
    assert index.manifest["embedding"]["dimension"] == 384

    class Other:
        name, dimension = "another-model", 384

    with pytest.raises(EmbeddingMismatch, match="sapxep ingest"):
        SearchIndex.load(index.path, index.chunks, Other())  # type: ignore[arg-type]


def test_a_damaged_index_is_a_clear_error(tmp_path: Path, engine: Engine) -> None:
    copy = tmp_path / "index"
    shutil.copytree(engine.store.root, copy)
    store = IndexStore(copy)
    version = store.current_path()
    (version / "records.jsonl").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="bị hỏng"):
        store.load()


def test_one_changed_file_embeds_only_its_own_chunks(
    tmp_path: Path, corpus: Path, engine: Engine
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("001_d71f2da037f574f8.txt", "002_6d727a2a5508cfde.txt"):
        shutil.copy(corpus / "plans" / name, folder / name)
    store = IndexStore(tmp_path / "index")
    embedded: list[int] = []
    update_index(store, [folder], engine.embedder, on_embed=lambda done, total: embedded.append(total))
    first = embedded[-1]
    plan = folder / "002_6d727a2a5508cfde.txt"
    plan.write_text(plan.read_text(encoding="utf-8") + "\nMột dòng mới.\n", encoding="utf-8")
    embedded.clear()
    report = update_index(store, [folder], engine.embedder, on_embed=lambda d, t: embedded.append(t))
    assert report.updated == ["002_6d727a2a5508cfde.txt"]
    assert embedded and embedded[-1] < first / 4
    manifest = json.loads((store.current_path() / "manifest.json").read_text())
    assert manifest["embedding"]["chunks"] == manifest["counts"]["chunks"]
    assert 0 < manifest["embedding"]["dense_chunks"] <= manifest["counts"]["chunks"]
