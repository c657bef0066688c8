"""The `sapxep` command line."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.config import ConfigError, checked_settings, load_settings
from index.e5_packed import EmbeddingModelError
from index.store import IndexStore, IndexUnavailable, IndexWriteError
from ingest import SAMPLE_CORPUS
from ingest.text import one_line
from prompts import template

if TYPE_CHECKING:
    from bot.answer.engine import Engine
    from bot.answer.models import Answer
    from index.build import IngestReport

# Each command imports what it needs: `sapxep ingest` on an unchanged corpus answers in well
# under a second instead of loading the answering core, the channels and the state first.
console = Console()
err = Console(stderr=True)


def _store() -> IndexStore:
    return IndexStore(load_settings().index_dir)


def _fail(message: str) -> None:
    err.print(f"[red]Lỗi:[/red] {message}")
    sys.exit(1)


@click.group(help="Trợ lý hỏi đáp về sắp xếp đơn vị hành chính 2025, có trích dẫn nguồn.")
def main() -> None:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken PDF is reported per file
    try:
        checked_settings()
    except ConfigError as exc:
        err.print(f"[red]Lỗi cấu hình:[/red] {exc.message}")
        sys.exit(2)


@main.command(help="Nạp tài liệu (.txt .md .docx .pdf .html; tệp hoặc thư mục) vào chỉ mục.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--sample", is_flag=True, help="Nạp bộ tài liệu mẫu kèm theo dự án "
              "(5 kế hoạch, 34 nghị quyết sắp xếp cấp xã, 60-NQ/TW, 1027/CTK-CSCL).")
@click.option("--prune", is_flag=True, help="Bỏ khỏi chỉ mục các tệp đã bị xóa khỏi thư mục.")
@click.option("--reindex", is_flag=True, help="Đọc và nhúng lại tất cả (khi đổi mô hình nhúng).")
def ingest(paths: tuple[Path, ...], sample: bool, prune: bool, reindex: bool) -> None:
    started = time.perf_counter()
    paths = (*paths, SAMPLE_CORPUS) if sample else paths
    if not paths:
        _fail("Hãy chỉ định tệp hoặc thư mục tài liệu (sapxep ingest PATH…), "
              "hoặc --sample để nạp bộ tài liệu mẫu kèm theo.")
    if not any(p.exists() for p in paths):  # a mistyped path fails before the model loads
        _fail("Không tìm thấy tệp hoặc thư mục nào: " + ", ".join(str(p) for p in paths))
    if not reindex and (count := _unchanged(paths, prune)) is not None:
        console.print(template("ingest.unchanged", documents=count,
                               seconds=f"{time.perf_counter() - started:.1f}"))  # fmt: skip
        return
    from bot.answer.engine import Engine
    from index.build import update_index

    engine = Engine(load_settings())
    try:
        embedder = engine.embedder
    except EmbeddingModelError as exc:
        _fail(exc.message)
    with Progress(
        TextColumn("[bold]{task.fields[stage]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None, stage="Đọc tài liệu")

        def embedding(done: int, total: int) -> None:
            progress.update(task, stage="Nhúng các đoạn", completed=done, total=total, description="")

        try:
            report = update_index(
                engine.store,
                paths,
                embedder=embedder,
                prune=prune,
                reindex=reindex,
                on_start=lambda n: progress.update(task, total=n),
                on_file=lambda p: progress.update(task, advance=1, description=p.name),
                on_embed=embedding,
            )
        except (IndexUnavailable, IndexWriteError) as exc:
            _fail(exc.message)
    _print_report(report, time.perf_counter() - started)
    if report.index is None or not report.index.files:
        sys.exit(1)


def _unchanged(paths: tuple[Path, ...], prune: bool) -> int | None:
    """Documents in the index when these files are all it holds, unchanged (checked on the
    manifest and the files' hashes before any model loads)."""
    from index.build import up_to_date
    from index.embeddings import recorded_name

    settings = load_settings()
    try:
        model = recorded_name(settings.embedding_model, settings.data_dir)
    except EmbeddingModelError:
        return None
    return up_to_date(IndexStore(settings.index_dir), paths, model, prune)


def _print_report(report: IngestReport, seconds: float) -> None:
    index = report.index
    counts = index.manifest["counts"] if index else {}
    table = Table(title="Kết quả nạp tài liệu", show_header=True)
    for column in ("Tài liệu", "Đoạn (chunk)", "Đơn vị (mới)", "Đơn vị cũ", "Nhiệm vụ",
                   "Cảnh báo", "Lỗi"):
        table.add_column(column, justify="right")
    table.add_row(
        str(counts.get("documents", 0)),
        str(counts.get("chunks", 0)),
        str(counts.get("units", 0)),
        str(counts.get("old_units", 0)),
        str(counts.get("duties", 0)),
        str(sum(len(w) for w in report.warnings.values())),
        str(len(report.errors)),
    )
    console.print(table)
    console.print(
        f"Mới: {len(report.added)} · cập nhật: {len(report.updated)} · không đổi: "
        f"{len(report.unchanged)} · bỏ đi: {len(report.removed)} · {seconds:.1f} giây"
    )
    if not report.changed and index is not None:
        console.print("Không có gì thay đổi: chỉ mục giữ nguyên.")
    check = index.registry.cross_check if index else None
    if check:
        console.print(
            f"Đối chiếu danh mục 1027/CTK-CSCL: {check.listed} đơn vị trong danh mục, "
            f"{check.arranged} hình thành sau sắp xếp, {check.unchanged} giữ nguyên; "
            f"{len(check.missing_from_list)} không có trong danh mục, "
            f"{len(check.not_arranged)} không tìm thấy trong nghị quyết."
        )
        for line in (check.missing_from_list + check.not_arranged)[:20]:
            console.print(f"  [yellow]≠[/yellow] {line}")
    listed = index.registry.reference_check if index else None
    if listed:
        console.print(template(
            "ingest.reference_check", communes=listed.communes, districts=listed.districts,
            provinces=listed.provinces, unlisted=len(listed.unlisted), unmentioned=len(listed.unmentioned),
        ))  # fmt: skip
        for line in (listed.unlisted[:10] + listed.unmentioned[:10]):
            console.print(f"  [yellow]≠[/yellow] {line}")
    for doc_id, warnings in sorted(report.warnings.items()):
        for w in warnings:
            console.print(f"[yellow]Cảnh báo[/yellow] {doc_id}: {w}")
    for e in report.errors:
        console.print(f"[red]Lỗi[/red] {e.message}")


@main.command(help="Liệt kê các tài liệu đã nạp.")
def docs() -> None:
    try:
        index = _store().load()
    except IndexUnavailable as exc:
        _fail(exc.message)
    table = Table(title=f"{len(index.files)} tài liệu")
    table.add_column("Tệp", no_wrap=True)
    table.add_column("Loại", no_wrap=True)
    table.add_column("Số", no_wrap=True)
    table.add_column("Ngày", no_wrap=True)
    for column in ("Cơ quan ban hành", "Trích yếu"):
        table.add_column(column, overflow="fold")
    table.add_column("Đoạn", justify="right")
    for f in sorted(index.files.values(), key=lambda f: f.document.doc_id):
        d = f.document
        table.add_row(
            d.doc_id, d.doc_type, d.number or "—", d.date or "—", d.issuer or "—",
            one_line(d.subject, 80), str(len(f.chunks)),
        )
    console.print(table)


@main.command(help="Chạy dịch vụ web (chat, API).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here, so /metrics sums them whichever worker answers
        metrics = load_settings().data_dir / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    if workers > 1 and not load_settings().embed_threads:  # the workers share the cores
        os.environ["SAPXEP_EMBED_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    uvicorn.run(
        "bot.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # longer than the platforms' and proxies' idle connections, so that a connection is
        # never closed by us at the instant they reuse it
        timeout_keep_alive=75,
    )


def _engine() -> Engine:
    from bot.answer.engine import Engine
    from index.search import EmbeddingMismatch

    engine = Engine(load_settings())
    try:
        engine.load()
    except (IndexUnavailable, EmbeddingMismatch, EmbeddingModelError) as exc:
        _fail(exc.message)
    return engine


@main.command(help="Hỏi trợ lý một câu (hoặc --batch tệp .jsonl có trường question).")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="In đối tượng Answer dạng JSON.")
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tệp JSONL, mỗi dòng có trường question.")
@click.option("--verbose", "-v", is_flag=True, help="In cả độ liên quan của mỗi nguồn.")
def ask(question: str | None, as_json: bool, batch: Path | None, verbose: bool) -> None:
    if not question and not batch:
        _fail('Hãy nhập câu hỏi, ví dụ: sapxep ask "phường Thanh Xuân Bắc giờ là phường gì"')
    from bot.answer.responder import Responder
    from bot.evaluation.metrics import load_items

    responder = Responder(_engine())
    if batch:
        try:
            items = load_items(batch)
        except ValueError as exc:
            _fail(str(exc))
        for item in items:
            if "question" not in item:
                continue
            answer = responder.ask(str(item["question"]))
            if as_json:
                print(answer.model_dump_json())
            else:
                _print_answer(answer, verbose)
        return
    answer = responder.ask(question or "")
    if as_json:
        print(answer.model_dump_json(indent=1))
        return
    _print_answer(answer, verbose)


def _print_answer(answer: Answer, verbose: bool) -> None:
    """The answer, then each source: title, number, date, clause (`verbose`: its relevance,
    never labelled "điểm", which in a legal text is a point of a clause)."""
    console.print(answer.answer or "[i](không có câu trả lời)[/i]")
    console.print()
    for c in answer.citations:
        facts = ", ".join(f for f in (c.number, c.date) if f)
        score = template("cli.relevance", score=f"{c.score:.2f}".replace(".", ","))
        shown = f" [dim]· {score}[/dim]" if verbose else ""
        where = c.section or "toàn văn"
        console.print(f"[bold][{c.n}][/bold] {c.title[:90]} ({facts}) — {where}{shown}")
        console.print(f"    [dim]{one_line(c.text, 160)}[/dim]")
    console.print(f"[dim]{answer.mode} · {answer.latency_ms:.1f} ms[/dim]")


@main.command(name="eval", help="Đánh giá truy xuất trên các tệp câu hỏi có đáp án (.jsonl).")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-baselines", is_flag=True, help="Không đo hai hệ so sánh.")
@click.option("--misses", is_flag=True, help="In các câu không tìm được đoạn đúng trong top 5.")
@click.option("--part", type=click.Choice(["all", "tune", "holdout"]), default="all", show_default=True,
              help="Phần của mỗi tệp: tune (phần dùng để chỉnh), holdout (một phần ba giữ lại để kiểm).")
def eval_command(files: tuple[Path, ...], no_baselines: bool, misses: bool, part: str) -> None:
    from bot.evaluation import bench as bench_runs  # the baselines' libraries only when measuring
    from bot.evaluation import report as tables

    engine = _engine()
    try:
        results = bench_runs.evaluate(engine, list(files), baselines=not no_baselines,
                           on_step=lambda m: err.print(f"[dim]{m}[/dim]"), part=part)
    except ValueError as exc:
        _fail(str(exc))
    console.print(tables.eval_table(results))
    console.print(tables.answer_table(results))
    if misses:
        for file_runs in results:
            for r in file_runs.runs[0].results:
                if r.recall5 < 1.0:
                    console.print(f"[yellow]trượt[/yellow] {r.item.get('id')} {r.item['question']}")
            for a in file_runs.answers:
                if not a.ok:
                    answer = one_line(a.answer, 160)
                    console.print(f"[red]sai[/red] {a.item.get('id')} [{a.item.get('category', a.mode)}] "
                                  f"{a.item['question']} → {answer}")


@main.command(help="Đổi địa chỉ cũ sang địa chỉ mới cho cả tệp .csv/.xlsx (một địa chỉ mỗi dòng).")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--column", help="Tên cột địa chỉ (mặc định: cột có chữ «địa chỉ»).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Tệp kết quả .csv/.xlsx (mặc định: <tệp>.moi.<đuôi>).")
@click.option("--json", "as_json", is_flag=True, help="In mỗi dòng một đối tượng JSON, theo thứ tự.")
def convert(file: Path, column: str | None, output: Path | None, as_json: bool) -> None:
    from bot.answer.convert import ConvertError, convert_rows, read_table, write_table
    from index.oldmap import OldMap
    from index.registry import UnitRegistry

    try:
        table = read_table(file, column)
        index = _store().load()
    except (ConvertError, IndexUnavailable) as exc:
        _fail(exc.message)
    registry = UnitRegistry.of(index)
    oldmap = OldMap(index, registry)
    started = time.perf_counter()
    with Progress(TextColumn("Đổi địa chỉ"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("", total=len(table.rows))
        results = list(convert_rows(table, registry, oldmap, lambda: progress.advance(task)))
    seconds = max(time.perf_counter() - started, 1e-9)
    if as_json:
        for result in results:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    target = output or file.with_name(f"{file.stem}.moi{file.suffix.lower() or '.csv'}")
    try:
        write_table(target, table, results)
    except OSError as exc:
        _fail(f"Không ghi được {target}: {exc.strerror}")
    summary = ", ".join(f"{n} {status}" for status, n in Counter(r.status for r in results).most_common())
    err.print(template("convert.done", rows=len(results), per_second=f"{len(results) / seconds:,.0f}",
                       summary=summary or "0", output=target))


@main.command(help="Thống kê câu hỏi của người dân: nhiều nhất, bị từ chối, góp ý.")
@click.option("--days", default=30, show_default=True, type=int)
def stats(days: int) -> None:
    from bot.state import open_state

    state = open_state(load_settings())
    s = state.log.stats(days=days)
    state.close()
    console.print(
        f"{s.total} câu hỏi trong {days} ngày, {s.unique_users} người hỏi, "
        f"{s.refused_share:.0%} bị từ chối; góp ý 👍 {s.feedback_up} · 👎 {s.feedback_down}"
    )
    console.print("Theo chế độ: " + ", ".join(f"{k} {v}" for k, v in s.by_mode.items()))
    console.print("Theo kênh: " + ", ".join(f"{k} {v}" for k, v in s.by_channel.items()))
    for title, rows in (
        ("Hỏi nhiều nhất", s.top_questions),
        ("Bị từ chối", s.top_declined),
        ("Bị chê 👎", s.top_unhelpful),
    ):
        table = Table(title=title)
        table.add_column("Số lần", justify="right")
        table.add_column("Câu hỏi", overflow="fold")
        for row in rows:
            table.add_row(str(row.count), row.example)
        console.print(table)


@main.command(help="Chạy bot Telegram bằng long polling (cần TELEGRAM_BOT_TOKEN).")
def telegram() -> None:
    from bot.answer.cache import AnswerCache
    from bot.answer.responder import Responder
    from bot.channels.logged import LoggedResponder, StoredConversations
    from bot.channels.telegram import build_application
    from bot.service.security import install_logging
    from bot.state import open_state

    settings = load_settings()
    if not settings.telegram_bot_token:
        _fail("Chưa đặt TELEGRAM_BOT_TOKEN (xem README, mục Kênh).")
    install_logging(settings)  # httpx logs each Bot API URL, which holds the token
    engine = _engine()
    state = open_state(settings)
    app = build_application(
        settings.telegram_bot_token,
        LoggedResponder(Responder(engine, conversations=StoredConversations(state.shared), cache=AnswerCache()), state),
        base_url=settings.telegram_api_base_url,
    )
    console.print("Bot Telegram đang chạy (long polling). Dừng bằng Ctrl+C.")
    app.run_polling()


@main.command(help="Đo chất lượng (tập dev), tốc độ trả lời, tải HTTP, bộ nhớ, thời gian nạp; in các bảng.")
@click.option("--eval-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("../shared/eval"), show_default=True,
              help="Thư mục các tệp câu hỏi có đáp án (.jsonl).")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path),
              default=SAMPLE_CORPUS, show_default="bộ tài liệu mẫu kèm theo",
              help="Thư mục tài liệu để đo thời gian nạp.")
@click.option("--postgres", default="", help="Một cơ sở dữ liệu PostgreSQL trống để đo bảng điều khiển (sẽ bị ghi đè).")
def bench(eval_dir: Path, corpus: Path, postgres: str) -> None:
    if not eval_dir.is_dir():
        _fail(f"Không tìm thấy thư mục câu hỏi đánh giá {eval_dir}: chỉ định bằng --eval-dir "
              "THƯ_MỤC (chứa các tệp .jsonl có trường question và gold).")
    files = sorted(eval_dir.glob("*.jsonl"))
    if not files:
        _fail(f"Không có tệp .jsonl trong {eval_dir}")
    from bot.evaluation import report as tables

    tables.bench(_engine(), files, corpus, console, lambda m: err.print(f"[dim]{m}[/dim]"), postgres)


if __name__ == "__main__":
    main()
