"""What `sapxep eval` and `sapxep bench` print: quality tables, answering speed per mode, one
serving process's footprint, HTTP load with one and two workers, ingest times, and the peers
(plain BM25, the naive LangChain pipeline, vietnamadminunits) on the same rows, as ratios."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.answer.engine import Engine
from bot.answer.responder import Responder
from bot.evaluation import convert_bench, dashboard_bench, footprint, http_bench
from bot.evaluation.bench import NAIVE, PRODUCT, VARIANTS, FileRuns, evaluate, throughput
from bot.evaluation.metrics import AnswerSummary, SystemRun

LOAD_REQUESTS = 800
REGISTRY_MODES = ("unit_lookup", "unit_reverse", "unit_count", "province_lookup", "address")


def eval_table(results: list[FileRuns]) -> Table:
    table = Table(title="Truy xuất: Recall@1, Recall@5, MRR, độ trễ (ms)")
    for column in ("Tệp", "Biến thể", "Hệ", "Số câu", "R@1", "R@5", "MRR", "p50", "p95"):
        table.add_column(column, justify="right" if column not in ("Tệp", "Biến thể", "Hệ") else "left")
    runs_by_system: dict[str, list] = {}
    for file_runs in results:
        for variant in (None, *VARIANTS):
            for run in file_runs.runs:
                s = run.summary(variant)
                if not s.n:
                    continue
                table.add_row(file_runs.path.name, variant or "tất cả", run.name, str(s.n),
                              f"{s.recall1:.3f}", f"{s.recall5:.3f}", f"{s.mrr:.3f}",
                              f"{s.p50_ms:.1f}", f"{s.p95_ms:.1f}")
            table.add_section()
        for run in file_runs.runs:
            runs_by_system.setdefault(run.name, []).extend(run.results)
    if len(results) > 1:
        for variant in (None, *VARIANTS):
            for name, items in runs_by_system.items():
                s = SystemRun(name, items).summary(variant)
                if s.n:
                    table.add_row("cộng chung", variant or "tất cả", name, str(s.n),
                                  f"{s.recall1:.3f}", f"{s.recall5:.3f}", f"{s.mrr:.3f}",
                                  f"{s.p50_ms:.1f}", f"{s.p95_ms:.1f}")
    return table


def answer_table(results: list[FileRuns]) -> Table:
    answers = [a for r in results for a in r.answers]
    table = Table(title="Câu trả lời: đúng (ok), gọn (tight), độ phủ must_include, từ chối, độ trễ")
    for column in ("Nhóm", "Có đáp án", "Không có", "ok", "tight", "Độ phủ", "Từ chối đúng",
                   "Từ chối nhầm", "Dài (trung vị)", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "Nhóm" else "right")
    groups: list[tuple[str, list]] = [("tất cả", answers)]
    groups += [(f"tệp {r.path.name}", r.answers) for r in results if len(results) > 1]
    groups += [(f"loại {c}", [a for a in answers if a.item.get("category") == c])
               for c in sorted({str(a.item.get("category", "")) for a in answers} - {""})]
    groups += [(f"chế độ {m}", [a for a in answers if a.mode == m])
               for m in sorted({a.mode for a in answers})]
    groups += [(f"biến thể {v}", [a for a in answers if a.item.get("variant") == v])
               for v in VARIANTS]
    for name, group in groups:
        if not group:
            continue
        s = AnswerSummary.of(group)
        table.add_row(name, str(s.answerable), str(s.unanswerable), f"{s.ok:.3f}", f"{s.tight:.3f}",
                      f"{s.coverage:.3f}", f"{s.declined:.3f}" if s.unanswerable else "—",
                      f"{s.false_refusals:.3f}", f"{s.median_chars:.0f}", f"{s.p50_ms:.1f}",
                      f"{s.p95_ms:.1f}")
    return table


def bench(
    engine: Engine,
    files: list[Path],
    corpus: Path,
    console: Console,
    step: Callable[[str], None],
    postgres: str = "",
) -> None:
    built: dict[str, float] = {}
    results = evaluate(engine, files, on_step=step, build_seconds=built)
    console.print(eval_table(results))
    console.print(answer_table(results))
    questions = [i["question"] for r in results for i in r.items if "question" in i]
    console.print(_speed_table(engine, questions))
    f = footprint.measure(questions)
    console.print(
        f"Một tiến trình phục vụ: câu trả lời đầu tiên sau {f.first_answer_s:.1f} giây, "
        f"bộ nhớ {f.rss_mb:.0f} MB sau 1.000 câu, torch {'có' if f.torch else 'không'} nạp."
    )
    step("Tải HTTP: sapxep serve với 1 và 2 tiến trình…")
    console.print(_load_table(engine, questions))
    step("Thời gian nạp tài liệu vào một thư mục dữ liệu mới…")
    full, again = _ingest_seconds(engine, corpus)
    naive = built.get(NAIVE, 0.0)
    console.print(
        f"Nạp toàn bộ {corpus}: {full:.1f} giây; nạp lại khi không đổi: {again:.1f} giây. "
        f"LangChain đơn giản (tách + nhúng + FAISS): {naive:.1f} giây"
        + (f" = {naive / full:.1f} × thời gian nạp của {PRODUCT}." if full else ".")
    )
    console.print(_convert_table(engine, [i for r in results for i in r.items]))
    step(f"Bảng điều khiển trên {dashboard_bench.ROWS:,} câu hỏi…")
    console.print(_dashboard_table(postgres))


def _dashboard_table(postgres: str) -> Table:
    """Each panel on a generated log, in a throw-away SQLite file and in `postgres` (an empty
    database given for the benchmark: its tables are filled and wiped)."""
    table = Table(title=f"Bảng điều khiển: mỗi bảng trên {dashboard_bench.ROWS:,} câu hỏi (30 ngày, ms, tốt nhất 3 lần)")
    table.add_column("Bảng")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"SQLite": dashboard_bench.run(f"sqlite:///{tmp}/questions.sqlite3")}
    if postgres:
        runs["PostgreSQL"] = dashboard_bench.run(postgres)
    for name in runs:
        table.add_column(name, justify="right")
    for i, panel in enumerate(runs["SQLite"]):
        table.add_row(panel.panel, *(f"{times[i].ms:.1f}" for times in runs.values()))
    return table


def _speed_table(engine: Engine, questions: list[str]) -> Table:
    t = throughput(engine, questions)
    table = Table(title=f"Tốc độ trả lời một luồng: {t.per_second:.1f} câu/giây")
    for column in ("Chế độ", "Số câu", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "Chế độ" else "right")
    table.add_row("tất cả", str(t.questions), f"{t.p50_ms:.1f}", f"{t.p95_ms:.1f}")
    for mode, (n, p50, p95) in t.by_mode.items():
        table.add_row(mode, str(n), f"{p50:.1f}", f"{p95:.1f}")
    return table


def _load_table(engine: Engine, questions: list[str]) -> Table:
    """Each load without an answer cache starts its own service; the repeated loads share one."""
    responder = Responder(engine)
    unique = list(dict.fromkeys(questions))
    modes = {q: responder.ask(q).mode for q in unique}
    registry = [q for q in questions if modes[q] in REGISTRY_MODES]
    plans = [q for q in unique if modes[q] not in REGISTRY_MODES]
    cold = [
        ("mọi câu một lần, xen kẽ các loại (bộ nhớ đệm trống)", _interleaved(unique)),
        ("chỉ câu về kế hoạch, mỗi câu một lần (bộ nhớ đệm trống)", plans),
    ]
    repeated = [
        (f"hỗn hợp, {LOAD_REQUESTS} câu (có lặp lại)", _cycle(questions, LOAD_REQUESTS)),
        (f"chỉ câu tra sổ, {LOAD_REQUESTS} câu", _cycle(registry, LOAD_REQUESTS)),
    ]
    table = Table(title="HTTP POST /api/ask, 16 yêu cầu đồng thời, máy khách cùng máy")
    for column in ("Tiến trình", "Tải", "Yêu cầu", "Lỗi", "câu/giây", "p50 ms", "p95 ms", "RSS MB mỗi tiến trình"):
        table.add_column(column, justify="left" if column == "Tải" else "right")
    for workers in (1, 2):
        for load in cold:
            _measure_loads(table, workers, [load])
        _measure_loads(table, workers, repeated)
    return table


def _measure_loads(table: Table, workers: int, loads: list[tuple[str, list[str]]]) -> None:
    with http_bench.Served(workers) as served:
        for label, load in loads:
            r = http_bench.run(served, label, load)
            table.add_row(str(workers), label, str(r.requests), str(r.errors), f"{r.per_second:.1f}",
                          f"{r.p50_ms:.0f}", f"{r.p95_ms:.0f}", ", ".join(f"{m:.0f}" for m in r.rss_mb))


def _interleaved(items: list[str]) -> list[str]:
    """A fixed shuffle: the eval files list one kind after another, callers do not."""
    shuffled = list(items)
    random.Random(0).shuffle(shuffled)
    return shuffled


def _cycle(items: list[str], n: int) -> list[str]:
    """`n` questions in a fixed interleaved order, every one asked about as often."""
    return [items[(i * 7) % len(items)] for i in range(n)] if items else []


def _ingest_seconds(engine: Engine, corpus: Path) -> tuple[float, float]:
    """A full ingest into a new data directory (the model already materialised), then again."""
    sapxep = str(Path(sys.executable).with_name("sapxep"))
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(engine.settings.data_dir) / "models"
        if models.is_dir():
            shutil.copytree(models, Path(tmp) / "models")
        env = {**os.environ, "SAPXEP_DATA_DIR": tmp}
        times = []
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run([sapxep, "ingest", str(corpus)], env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
    return times[0], times[1]


def _convert_table(engine: Engine, items: list[dict]) -> Table:
    table = Table(title="Đổi địa chỉ cũ → mới (cùng các dòng; đúng = đúng trọn bộ đơn vị mới)")
    for column in ("Hệ", "Số dòng", "Đúng", "Tách: đủ mọi phần", "dòng/giây", f"so với {PRODUCT} convert"):
        table.add_column(column, justify="left" if column == "Hệ" else "right")
    loaded = engine.load()
    scores = convert_bench.run(items, loaded.registry, Responder(engine), loaded.oldmap)
    ours = scores[0].per_second
    for c in scores:
        ratio = f"{ours / c.per_second:.0f}× chậm hơn" if c is not scores[0] and c.per_second else "—"
        table.add_row(c.system, str(c.rows), f"{c.exact:.3f}", f"{c.splits_named:.3f}", f"{c.per_second:,.0f}", ratio)
    return table
