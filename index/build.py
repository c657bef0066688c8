"""Bring the index up to date with a set of files: parse what changed, keep what did not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from index.store import FORMAT_VERSION, SEARCH_VERSION, Artifacts, Index, IndexStore, ordered_chunks
from ingest.loaders import LoadError, discover
from ingest.oldmatch import code_conflicts
from ingest.pipeline import PARSER_VERSION, IngestedFile, file_sha256, ingest_file
from ingest.provinces import extract_provinces, province_key, province_merges
from ingest.units import extract_unit_list

if TYPE_CHECKING:
    from index.search import Embedder

Progress = Callable[[Path], None]


@dataclass
class FileError:
    path: str
    message: str


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    index: Index | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _doc_ids(files: list[Path]) -> dict[Path, str]:
    """File name as id; a name seen twice gets its parent folder in front."""
    ids: dict[Path, str] = {}
    taken: set[str] = set()
    for path in files:
        doc_id = path.name if path.name not in taken else f"{path.parent.name}/{path.name}"
        taken.add(doc_id)
        ids[path] = doc_id
    return ids


def update_index(
    store: IndexStore,
    paths: Iterable[Path],
    embedder: Embedder | None = None,
    prune: bool = False,
    reindex: bool = False,
    on_file: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    on_embed: Callable[[int, int], None] | None = None,
    wait: bool = False,
) -> IngestReport:
    """Parse what changed, then write a new version with its search structures.

    Without an embedder only the records and registries are written (no search).
    `reindex` parses and embeds everything again (no vector of the previous version is
    trusted); a change of embedding model re-embeds too. `wait` queues behind another writer
    instead of refusing. Stored documents not among `paths` are kept (see `_kept`).
    """
    paths = [Path(p) for p in paths]
    report = IngestReport()
    with store.lock(wait=wait):
        current = store.try_load()
        old = dict(current.files) if current and not reindex else {}
        stale = current is not None and (reindex or _search_stale(current, embedder))
        files, errors = discover(paths)
        report.errors.extend(FileError(str(e.path), e.message) for e in errors)
        if on_start:
            on_start(len(files))
        new: dict[str, IngestedFile] = {}
        for path, doc_id in _doc_ids(files).items():
            _ingest_one(path, doc_id, old.get(doc_id), new, report)
            if on_file:
                on_file(path)
        everything = {**_kept(old, new, paths, prune, report), **new}
        _refuse_conflicting_lists(everything, old, report)
        if everything and (report.changed or stale or current is None):
            build = _artifacts(everything, embedder, on_embed, reuse=not reindex)
            report.index = store.write(everything, build)
        else:
            report.index = current
    return report


def up_to_date(store: IndexStore, paths: Iterable[Path], model: str, prune: bool = False) -> int | None:
    """The number of documents when the current index already holds exactly these files, parsed
    by this version and embedded by `model`; None when an ingest has work to do. Reads only the
    manifest and the files' hashes: no model, no index is loaded."""
    current = store.current_path()
    try:
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8")) if current else {}
    except (OSError, ValueError):
        return None
    embedding = manifest.get("embedding") or {}
    if (
        manifest.get("format_version") != FORMAT_VERSION
        or manifest.get("parser_version") != PARSER_VERSION
        or embedding.get("model") != model
        or embedding.get("version") != SEARCH_VERSION
    ):
        return None
    paths = [Path(p) for p in paths]
    files, errors = discover(paths)
    if errors or not files:
        return None
    stored = manifest.get("documents", {})
    try:
        for path, doc_id in _doc_ids(files).items():
            if doc_id not in stored or stored[doc_id]["sha256"] != file_sha256(path):
                return None
    except OSError:
        return None
    if prune and len(stored) != len(files):
        return None
    return len(stored)


def _search_stale(current: Index, embedder: Embedder | None) -> bool:
    """Another embedding model, or search structures of an older layout."""
    recorded = current.manifest.get("embedding") or {}
    return embedder is not None and (
        recorded.get("model") != embedder.name or recorded.get("version") != SEARCH_VERSION
    )


def _artifacts(
    files: dict[str, IngestedFile],
    embedder: Embedder | None,
    on_embed: Callable[[int, int], None] | None,
    reuse: bool,
) -> Artifacts | None:
    """The search structures; `reuse` takes unchanged chunks' vectors from the previous version."""
    if embedder is None:
        return None
    chunks = ordered_chunks(files)
    clauses = {(u.doc_id, u.section) for f in files.values() for u in f.units}

    def build(directory: Path, previous: Path | None) -> dict[str, object]:
        from index.search import build_search  # FAISS and BM25 only when there is work

        source = previous if reuse else None
        return {"embedding": build_search(directory, chunks, embedder, clauses, source, on_embed)}

    return build


def _ingest_one(
    path: Path,
    doc_id: str,
    previous: IngestedFile | None,
    out: dict[str, IngestedFile],
    report: IngestReport,
) -> None:
    try:
        sha = file_sha256(path)
        if (
            previous
            and previous.document.sha256 == sha
            and previous.parser_version == PARSER_VERSION
        ):
            out[doc_id] = previous
            report.unchanged.append(doc_id)
            return
        record = ingest_file(path, doc_id)
    except LoadError as exc:
        report.errors.append(FileError(str(path), exc.message))
        if previous:  # a file that went bad keeps what was stored before
            out[doc_id] = previous
        return
    except OSError as exc:
        report.errors.append(FileError(str(path), f"Không đọc được tệp {path.name}: {exc.strerror}"))
        return
    out[doc_id] = record
    (report.updated if previous else report.added).append(doc_id)
    if record.warnings:
        report.warnings[doc_id] = record.warnings


def _refuse_conflicting_lists(
    files: dict[str, IngestedFile], old: dict[str, IngestedFile], report: IngestReport
) -> None:
    """A reference list read this run whose codes contradict 1027/CTK-CSCL is refused like a
    bad file: the version stored before stays, or none."""
    fresh = [d for d in (*report.added, *report.updated) if files[d].reference]
    if not fresh:
        return
    listed = [u for f in files.values() for u in extract_unit_list(f.document)]
    changes = [c for f in files.values() for c in extract_provinces(f.document, f.chunks)]
    merges = province_merges(changes)
    if not listed or not merges:  # without 1027 and 60-NQ/TW there is nothing to contradict
        return
    for doc_id in fresh:
        rows = files[doc_id].reference
        conflicts = code_conflicts(rows, listed, lambda p: merges.get(province_key(p), ""))
        if not conflicts:
            continue
        more = f" (và {len(conflicts) - 3} mã khác)" if len(conflicts) > 3 else ""
        shown = "; ".join(conflicts[:3]) + more
        message = f"Danh mục {Path(files[doc_id].document.path).name} không được nạp: {shown}."
        report.errors.append(FileError(files[doc_id].document.path, message))
        (report.added if doc_id in report.added else report.updated).remove(doc_id)
        if doc_id in old:
            files[doc_id] = old[doc_id]
        else:
            del files[doc_id]


def _kept(
    old: dict[str, IngestedFile],
    new: dict[str, IngestedFile],
    paths: list[Path],
    prune: bool,
    report: IngestReport,
) -> dict[str, IngestedFile]:
    """Stored documents not seen this run: dropped with --prune when their file is gone."""
    kept = {}
    folders = [p.resolve() for p in paths if p.is_dir()]
    for doc_id, record in old.items():
        if doc_id in new:
            continue
        source = Path(record.document.path).resolve()
        gone = not source.exists() and any(folder in source.parents for folder in folders)
        if prune and gone:
            report.removed.append(doc_id)
            continue
        kept[doc_id] = record
    return kept
