"""Runs behind `sapxep eval` and `sapxep bench`: the product and the baselines on the same
questions, and a latency/throughput measurement."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answer.engine import Engine
from bot.answer.responder import Responder
from bot.evaluation.baselines import NaiveLangChain, PlainBM25
from bot.evaluation.metrics import (
    AnswerResult,
    Passage,
    SystemRun,
    load_items,
    percentile,
    select,
    run_retrieval,
    score_answer,
    score_item,
)
from ingest.text import match_form

PRODUCT = "sapxep"
PLAIN_BM25 = "bm25-thường"
NAIVE = "langchain-đơn-giản"
VARIANTS = ("diacritics", "no_diacritics", "abbrev", "colloquial")


@dataclass
class FileRuns:
    path: Path
    items: list[dict[str, Any]]
    runs: list[SystemRun]
    answers: list[AnswerResult]


def run_product(items: list[dict[str, Any]], responder: Responder) -> tuple[SystemRun, list]:
    """Each question asked once, follow-ups in their conversation (items marked `"score":
    false` only set one up): its citations score retrieval, its text the answer."""
    run = SystemRun(PRODUCT)
    answers = []
    asked = [i for i in items if "question" in i]
    if asked:
        responder.ask(asked[0]["question"])  # warm-up
    for item in asked:
        started = time.perf_counter()
        answer = responder.ask(item["question"], item.get("conversation"))
        ms = (time.perf_counter() - started) * 1000
        if item.get("score") is False:
            continue
        cited = [c.doc for c in answer.citations]
        answers.append(score_answer(item, answer.answer, answer.refused, answer.mode, ms, cited))
        if item.get("answerable", True) and item.get("gold"):
            retrieved = sorted([*answer.citations, *answer.related], key=lambda c: c.n)
            passages = [Passage(c.doc, c.text) for c in retrieved[:10]]
            run.results.append(score_item(item, passages, ms))
    return run, answers


def evaluate(
    engine: Engine,
    paths: list[Path],
    baselines: bool = True,
    on_step: Callable[[str], None] | None = None,
    build_seconds: dict[str, float] | None = None,
    part: str = "all",
) -> list[FileRuns]:
    """`build_seconds` receives how long each baseline took to build (split, embed, index)."""
    loaded = engine.load()
    responder = Responder(engine, k=10)
    systems: list[tuple[str, Callable[[str], Any]]] = []
    if baselines:
        if on_step:
            on_step("Dựng các hệ so sánh (BM25 thường, LangChain đơn giản)…")
        for name, build in (
            (PLAIN_BM25, lambda: PlainBM25(loaded.index.chunks)),
            (NAIVE, lambda: NaiveLangChain(loaded.index.documents(), engine.model_path)),
        ):
            started = time.perf_counter()
            systems.append((name, build()))
            if build_seconds is not None:
                build_seconds[name] = time.perf_counter() - started
    out = []
    for path in paths:
        items = select(load_items(path), part)
        if on_step:
            on_step(f"{path.name}: {PRODUCT}")
        product, answers = run_product(items, responder)
        runs = [product]
        for name, search in systems:
            if on_step:
                on_step(f"{path.name}: {name}")
            runs.append(run_retrieval(name, items, search))
        out.append(FileRuns(path, items, runs, answers))
    return out


@dataclass
class Throughput:
    questions: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    by_mode: dict[str, tuple[int, float, float]]  # mode -> (answers, p50 ms, p95 ms)

    @property
    def per_second(self) -> float:
        return self.questions / self.seconds if self.seconds else 0.0


def throughput(engine: Engine, questions: list[str], rounds: int = 3) -> Throughput:
    """End-to-end `Responder.ask` in one thread, after a warm-up pass; no answer cache, and
    each round starts without the question texts' matching forms of the round before."""
    responder = Responder(engine)
    for q in questions[:10]:
        responder.ask(q)
    latencies: list[float] = []
    modes: dict[str, list[float]] = {}
    started = time.perf_counter()
    for _ in range(rounds):
        match_form.cache_clear()
        for q in questions:
            t = time.perf_counter()
            mode = responder.ask(q).mode
            latencies.append((time.perf_counter() - t) * 1000)
            modes.setdefault(mode, []).append(latencies[-1])
    seconds = time.perf_counter() - started
    latencies.sort()
    by_mode = {
        mode: (len(ms), percentile(sorted(ms), 50), percentile(sorted(ms), 95))
        for mode, ms in sorted(modes.items())
    }
    return Throughput(
        by_mode=by_mode,
        questions=len(latencies),
        seconds=seconds,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
    )
