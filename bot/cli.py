"""The `sapxep` command line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.config import load_settings
from index.build import IngestReport, update_index
from index.store import IndexStore, IndexUnavailable

console = Console()
err = Console(stderr=True)


def _store() -> IndexStore:
    return IndexStore(load_settings().index_dir)


@click.group(help="Trợ lý hỏi đáp về sắp xếp đơn vị hành chính 2025, có trích dẫn nguồn.")
def main() -> None:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken PDF is reported per file


@main.command(help="Nạp tài liệu (.txt .md .docx .pdf .html; tệp hoặc thư mục) vào chỉ mục.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Bỏ khỏi chỉ mục các tệp đã bị xóa khỏi thư mục.")
def ingest(paths: tuple[Path, ...], prune: bool) -> None:
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]Nạp tài liệu"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)
        try:
            report = update_index(
                _store(),
                paths,
                prune=prune,
                on_start=lambda n: progress.update(task, total=n),
                on_file=lambda p: progress.update(task, advance=1, description=p.name),
            )
        except IndexUnavailable as exc:
            err.print(f"[red]Lỗi:[/red] {exc.message}")
            sys.exit(1)
    _print_report(report, time.perf_counter() - started)
    if report.index is None or not report.index.files:
        sys.exit(1)


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
        console.print("Không có thay đổi: chỉ mục giữ nguyên.")
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
        err.print(f"[red]Lỗi:[/red] {exc.message}")
        sys.exit(1)
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
            _short(d.subject), str(len(f.chunks)),
        )
    console.print(table)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@main.command(help="Chạy dịch vụ web (chat, API).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run("bot.api:create_app", factory=True, host=host, port=port, workers=workers)


@main.command(help="Đo tốc độ và chất lượng truy xuất.")
def bench() -> None:
    console.print("Chưa có: phần truy xuất (tìm kiếm) chưa được xây dựng.")


if __name__ == "__main__":
    main()
