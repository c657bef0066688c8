"""What a question asks: its intent and attribute, from the example bank (prompts/intents.toml).

A question, with the names the linker found replaced by their placeholders, is compared with
every example: by its words (TF-IDF over folded syllables and pairs, diacritics and
abbreviations aside) and, when the caller has the question's e5 vector, by meaning too. An
intent's score is that of its nearest examples.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.text import match_form
from prompts import intent_bank

PLACEHOLDERS = ("unit", "province", "district", "doc", "agency")
# What a placeholder is filled with when an example is embedded (e5 reads names, not symbols).
SAMPLES = {
    "unit": "phường Thượng Đình",
    "province": "tỉnh Phú Thọ",
    "district": "quận Thanh Xuân",
    "doc": "Kế hoạch số 02-KH/BTGDVDUK",
    "agency": "Ban Tuyên giáo và Dân vận",
}
NEAREST = 3  # an intent's score: its best example, steadied by the mean of its best three
DENSE_SHARE = 0.4  # of the score, when the question's vector is given


@dataclass(frozen=True)
class Intent:
    name: str
    attribute: str
    needs: str


@dataclass(frozen=True)
class Guess:
    intent: Intent
    score: float
    cues: frozenset[str]  # the question's words that this intent's examples use


def placeholder(kind: str) -> str:
    """The token a linked name becomes: "zzunit" (folding keeps letters only)."""
    return f"zz{kind}"


def _terms(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", match_form(text, chat=True))
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


def _example_text(example: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: placeholder(m.group(1)), example)


def _filled(example: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), m.group(1)), example)


class IntentBank:
    def __init__(self, intents: Sequence[Intent], examples: Sequence[tuple[int, str]]):
        self.intents = list(intents)
        self.examples = list(examples)  # (intent index, example text with placeholders)
        docs = [Counter(_terms(_example_text(text))) for _, text in self.examples]
        df = Counter(t for d in docs for t in d)
        n = len(docs)
        self.vocabulary = {t: i for i, t in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in sorted(df)], dtype=np.float32)
        self.matrix = np.stack([self._vector(d) for d in docs])
        owner = [i for i, _ in self.examples]
        # an intent's examples sit together: its scores are one slice of the similarities
        self.slices = [slice(owner.index(i), len(owner) - owner[::-1].index(i)) for i in range(len(self.intents))]
        self.words = [frozenset() for _ in self.intents]
        for (i, _), d in zip(self.examples, docs):
            self.words[i] = self.words[i] | {t for t in d if "_" not in t and not t.startswith("zz")}
        self.dense: np.ndarray | None = None
        self._pending: Callable[[], np.ndarray] | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> IntentBank:
        intents: list[Intent] = []
        examples: list[tuple[int, str]] = []
        for entry in intent_bank():
            intents.append(Intent(entry["name"], entry.get("attribute", ""), entry.get("needs", "none")))
            examples.extend((len(intents) - 1, e) for e in entry["examples"])
        return cls(intents, examples)

    def filled_examples(self) -> list[str]:
        """The examples as e5 embeds them (placeholders given sample names)."""
        return [_filled(text) for _, text in self.examples]

    def vectors_from(self, data_dir: Path, model: str, encode: Callable[[list[str]], np.ndarray]) -> None:
        """The examples' vectors, made when a question first brings its own vector and kept in
        `data_dir` for the next start (a changed bank or model makes new ones)."""
        texts = self.filled_examples()
        digest = hashlib.sha256("\n".join([model, *texts]).encode("utf-8")).hexdigest()[:16]
        path = Path(data_dir) / "intents" / f"{digest}.npy"

        def made() -> np.ndarray:
            if path.is_file():
                return np.load(path)
            vectors = np.asarray(encode(texts), dtype=np.float32)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(f".{os.getpid()}.part")
            with part.open("wb") as fh:
                np.save(fh, vectors)
            os.replace(part, path)
            return vectors

        self._pending = made

    def _dense(self) -> np.ndarray | None:
        if self.dense is None and self._pending is not None:
            with self._lock:
                if self.dense is None:
                    vectors = self._pending()
                    self.dense = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return self.dense

    def _vector(self, counts: Counter[str]) -> np.ndarray:
        v = np.zeros(len(self.vocabulary), dtype=np.float32)
        for t, c in counts.items():
            i = self.vocabulary.get(t)
            if i is not None:
                v[i] = (1.0 + math.log(c)) * self.idf[i]
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def classify(self, masked: str, vector: np.ndarray | None = None) -> list[Guess]:
        """Every intent, best first. `masked`: the question with its linked names replaced by
        `placeholder(kind)`; `vector`: its e5 vector, when the caller has one."""
        counts = Counter(_terms(masked))
        similarity = self.matrix @ self._vector(counts)
        dense = self._dense() if vector is not None else None
        if vector is not None and dense is not None:
            q = vector / max(float(np.linalg.norm(vector)), 1e-9)
            similarity = (1 - DENSE_SHARE) * similarity + DENSE_SHARE * (dense @ q)
        words = {t for t in counts if "_" not in t and not t.startswith("zz")}
        guesses = []
        for i, intent in enumerate(self.intents):
            mine = sorted(similarity[self.slices[i]].tolist(), reverse=True)[:NEAREST]
            score = 0.7 * mine[0] + 0.3 * sum(mine) / len(mine)
            guesses.append(Guess(intent, score, frozenset(words & self.words[i])))
        return sorted(guesses, key=lambda g: -g.score)
