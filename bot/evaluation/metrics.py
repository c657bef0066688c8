"""Evaluation on question sets with gold passages (shared/eval/*.jsonl).

A retrieved passage supports a gold entry when it comes from `gold.doc` and holds the gold
`quote` (compared folded, whitespace and markup ignored; most of the quote is enough) or
every word list in `contains`. Recall@k is the share of an item's gold entries supported in
the top k, MRR the reciprocal rank of the first supporting passage.
"""

from __future__ import annotations

import json
import zlib
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.text import fold, strip_markup

# A passage holding this share of the quote's word triples holds "most of" it.
QUOTE_SHARE = 0.6


@dataclass
class Passage:
    doc_id: str
    text: str


Search = Callable[[str], Sequence[Passage]]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", fold(strip_markup(text)))


def supports(passage: Passage, gold: dict[str, Any]) -> bool:
    if passage.doc_id != gold["doc"]:
        return False
    words = _words(passage.text)
    if "contains" in gold:
        haystack = " ".join(words)
        return all(
            re.search(rf"(?<![a-z0-9]){re.escape(' '.join(_words(w)))}(?![a-z0-9])", haystack)
            for w in gold["contains"]
        )
    quote = _words(gold.get("quote", ""))
    if not quote:
        return False
    if " ".join(quote) in " ".join(words):
        return True
    triples = {tuple(quote[i : i + 3]) for i in range(max(1, len(quote) - 2))}
    present = {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}
    return len(triples & present) >= QUOTE_SHARE * len(triples)


@dataclass
class ItemResult:
    item: dict[str, Any]
    recall1: float
    recall5: float
    rr: float
    latency_ms: float


def score_item(item: dict[str, Any], passages: Sequence[Passage], latency_ms: float) -> ItemResult:
    gold = item["gold"]
    first = next(
        (r for r, p in enumerate(passages, 1) if any(supports(p, g) for g in gold)), None
    )

    def recall(k: int) -> float:
        top = passages[:k]
        return sum(any(supports(p, g) for p in top) for g in gold) / len(gold)

    return ItemResult(item, recall(1), recall(5), 1.0 / first if first else 0.0, latency_ms)


@dataclass
class Summary:
    n: int
    recall1: float
    recall5: float
    mrr: float
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, results: list[ItemResult]) -> Summary:
        if not results:
            return cls(0, 0, 0, 0, 0, 0)
        lat = sorted(r.latency_ms for r in results)
        return cls(
            n=len(results),
            recall1=statistics.fmean(r.recall1 for r in results),
            recall5=statistics.fmean(r.recall5 for r in results),
            mrr=statistics.fmean(r.rr for r in results),
            p50_ms=percentile(lat, 50),
            p95_ms=percentile(lat, 95),
        )


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


HELD_OUT_EVERY = 3  # one item in three (by a hash of its id) is kept out of tuning


def held_out(item: dict[str, Any]) -> bool:
    """Whether an item belongs to the held-out part of its set: a fixed hash of its id (of its
    conversation for follow-ups, so a conversation stays whole)."""
    key = str(item.get("conversation") or item.get("id") or item.get("question", ""))
    return zlib.crc32(key.encode("utf-8")) % HELD_OUT_EVERY == 0


def select(items: list[dict[str, Any]], part: str) -> list[dict[str, Any]]:
    """`part`: "all", "tune" (what thresholds and examples are fitted on) or "holdout"."""
    if part == "all":
        return items
    return [i for i in items if held_out(i) == (part == "holdout")]


def load_items(path: Path) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}, dòng {n}: không phải JSON hợp lệ ({exc.msg})") from exc
    return items


@dataclass
class SystemRun:
    name: str
    results: list[ItemResult] = field(default_factory=list)

    def summary(self, variant: str | None = None) -> Summary:
        chosen = [r for r in self.results if variant is None or r.item.get("variant") == variant]
        return Summary.of(chosen)


def run_retrieval(name: str, items: list[dict[str, Any]], search: Search, k: int = 10) -> SystemRun:
    """Answerable items only: their gold passages are what retrieval must find."""
    run = SystemRun(name)
    answerable = [i for i in items if i.get("answerable", True) and i.get("gold")]
    if answerable:
        search(answerable[0]["question"])  # warm-up
    for item in answerable:
        started = time.perf_counter()
        passages = list(search(item["question"]))[:k]
        run.results.append(score_item(item, passages, (time.perf_counter() - started) * 1000))
    return run


# --- answers ----------------------------------------------------------------------------------


# A direct answer a resident reads on a phone cites at most this many documents.
TIGHT_SOURCES = 2
_CITED = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


@dataclass
class AnswerResult:
    item: dict[str, Any]
    answer: str
    refused: bool
    mode: str
    coverage: float  # share of must_include found in the answer (folded)
    latency_ms: float
    sources: int = 0  # distinct documents the answer's [n] cite
    repeats: bool = False  # a sentence said twice

    @property
    def ok(self) -> bool:
        """Right: an answerable item answered with all of must_include, or a declined one."""
        if not self.item.get("answerable", True):
            return self.refused
        return not self.refused and self.coverage >= 1.0

    @property
    def tight(self) -> bool:
        """Right, citing at most TIGHT_SOURCES documents and repeating no sentence."""
        return self.ok and self.sources <= TIGHT_SOURCES and not self.repeats


def score_answer(
    item: dict[str, Any],
    answer: str,
    refused: bool,
    mode: str,
    ms: float,
    cited_docs: Sequence[str] = (),
) -> AnswerResult:
    """`cited_docs[n - 1]` is the document of citation [n]."""
    must = item.get("must_include") or []
    text = " ".join(_words(answer))
    found = sum(" ".join(_words(m)) in text for m in must)
    coverage = found / len(must) if must else 1.0
    numbers = {int(n) for n in _CITED.findall(answer)}
    sources = len({cited_docs[n - 1] for n in numbers if 0 < n <= len(cited_docs)})
    return AnswerResult(
        item, answer, refused, mode, 0.0 if refused else coverage, ms, sources, _repeats(answer)
    )


def _repeats(answer: str) -> bool:
    seen: set[str] = set()
    for sentence in _SENTENCE.split(_CITED.sub("", answer)):
        key = " ".join(_words(sentence))
        if len(key.split()) < 4:
            continue
        if key in seen:
            return True
        seen.add(key)
    return False


@dataclass
class AnswerSummary:
    answerable: int
    unanswerable: int
    coverage: float  # mean must_include coverage on answerable items
    declined: float  # share of unanswerable items declined
    false_refusals: float  # share of answerable items declined
    p50_ms: float
    p95_ms: float
    ok: float = 0.0  # share right (see AnswerResult.ok)
    tight: float = 0.0
    median_chars: float = 0.0

    @classmethod
    def of(cls, results: list[AnswerResult]) -> AnswerSummary:
        yes = [r for r in results if r.item.get("answerable", True)]
        no = [r for r in results if not r.item.get("answerable", True)]
        lat = sorted(r.latency_ms for r in results)
        return cls(
            answerable=len(yes),
            unanswerable=len(no),
            coverage=statistics.fmean(r.coverage for r in yes) if yes else 0.0,
            declined=sum(r.refused for r in no) / len(no) if no else 0.0,
            false_refusals=sum(r.refused for r in yes) / len(yes) if yes else 0.0,
            p50_ms=percentile(lat, 50),
            p95_ms=percentile(lat, 95),
            ok=statistics.fmean(r.ok for r in results) if results else 0.0,
            tight=statistics.fmean(r.tight for r in results) if results else 0.0,
            median_chars=statistics.median(len(r.answer) for r in results) if results else 0.0,
        )
