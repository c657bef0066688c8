"""The index directory: versions written aside, then made current by one atomic rename.

    <root>/CURRENT                  name of the current version
    <root>/versions/<name>/manifest.json
                          /records.jsonl     one IngestedFile per line
                          /registry.json     provinces, the 1027 list, the cross-check
    <root>/.lock                    held while a version is being written

A crash while writing leaves CURRENT pointing at the previous, complete version.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestedFile
from ingest.records import Chunk, Document
from ingest.units import (
    CrossCheck,
    ListedUnit,
    cross_check,
    extract_province_merges,
    extract_unit_list,
)

FORMAT_VERSION = 1
Artifacts = Callable[[Path, Path | None], dict[str, Any]]
KEEP_VERSIONS = 2


class IndexUnavailable(Exception):
    """The index is missing, damaged or of another format; `message` says what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Registry:
    provinces: dict[str, str] = field(default_factory=dict)  # old province key -> new name
    unit_list: list[ListedUnit] = field(default_factory=list)  # 1027/CTK-CSCL
    cross_check: CrossCheck | None = None


@dataclass
class Index:
    path: Path
    manifest: dict[str, Any]
    files: dict[str, IngestedFile]  # doc_id -> records
    registry: Registry

    def documents(self) -> list[Document]:
        return [f.document for f in self.files.values()]

    @property
    def chunks(self) -> list[Chunk]:
        return ordered_chunks(self.files)

    @property
    def has_search(self) -> bool:
        return bool(self.manifest.get("embedding"))


def ordered_chunks(files: dict[str, IngestedFile]) -> list[Chunk]:
    """All chunks, in the order the search structures number them."""
    return [c for doc_id in sorted(files) for c in files[doc_id].chunks]


def build_registry(files: dict[str, IngestedFile]) -> Registry:
    provinces: dict[str, str] = {}
    listed: list[ListedUnit] = []
    for f in files.values():
        provinces.update(extract_province_merges(f.document))
        listed.extend(extract_unit_list(f.document))
    changes = [u for f in files.values() for u in f.units]
    check = cross_check(changes, listed) if listed and changes else None
    return Registry(provinces=provinces, unit_list=listed, cross_check=check)


class IndexStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    def current_path(self) -> Path | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        path = self.versions / pointer.read_text(encoding="utf-8").strip()
        return path if path.is_dir() else None

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexUnavailable(
                    "Một lần nạp tài liệu khác đang chạy trên cùng thư mục chỉ mục; hãy đợi nó xong."
                ) from exc
            yield

    def load(self) -> Index:
        path = self.current_path()
        if path is None:
            raise IndexUnavailable(
                f"Chưa có chỉ mục trong {self.root}. Hãy chạy: sapxep ingest <thư mục tài liệu>"
            )
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format_version") != FORMAT_VERSION:
                raise IndexUnavailable(
                    f"Chỉ mục {path} có định dạng {manifest.get('format_version')}, phần mềm cần "
                    f"{FORMAT_VERSION}. Hãy nạp lại: sapxep ingest <thư mục tài liệu>"
                )
            files = {}
            with (path / "records.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    record = IngestedFile.from_dict(json.loads(line))
                    files[record.document.doc_id] = record
            registry = _read_registry(path / "registry.json")
        except IndexUnavailable:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexUnavailable(
                f"Chỉ mục {path} bị hỏng ({type(exc).__name__}). "
                "Hãy nạp lại: sapxep ingest <thư mục tài liệu>"
            ) from exc
        if len(files) != len(manifest.get("documents", {})):
            raise IndexUnavailable(f"Chỉ mục {path} bị hỏng: thiếu tài liệu so với manifest.")
        return Index(path=path, manifest=manifest, files=files, registry=registry)

    def try_load(self) -> Index | None:
        try:
            return self.load()
        except IndexUnavailable:
            return None

    def write(self, files: dict[str, IngestedFile], artifacts: Artifacts | None = None) -> Index:
        """Write a new version aside, then make it current atomically.

        `artifacts(tmp_dir, previous_dir)` adds the search structures and returns what the
        manifest says of them.
        """
        previous = self.current_path()
        self.versions.mkdir(parents=True, exist_ok=True)
        name = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        tmp = self.versions / f".tmp-{name}"
        tmp.mkdir()
        try:
            registry = build_registry(files)
            with (tmp / "records.jsonl").open("w", encoding="utf-8") as fh:
                for doc_id in sorted(files):
                    fh.write(json.dumps(files[doc_id].to_dict(), ensure_ascii=False) + "\n")
            _write_json(tmp / "registry.json", _registry_dict(registry))
            extra = artifacts(tmp, previous) if artifacts else {}
            manifest = _manifest(files, registry, extra)
            _write_json(tmp / "manifest.json", manifest)
            _fsync_dir(tmp)
            final = self.versions / name
            tmp.rename(final)
            pointer = self.root / "CURRENT.tmp"
            pointer.write_text(name, encoding="utf-8")
            os.replace(pointer, self.root / "CURRENT")
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._collect_garbage(keep=name)
        return Index(path=final, manifest=manifest, files=files, registry=registry)

    def _collect_garbage(self, keep: str) -> None:
        versions = sorted(p for p in self.versions.iterdir() if p.is_dir())
        old = [p for p in versions if p.name != keep and not p.name.startswith(".tmp-")]
        for path in old[: max(0, len(old) - (KEEP_VERSIONS - 1))]:
            shutil.rmtree(path, ignore_errors=True)
        for path in versions:
            if path.name.startswith(".tmp-") and f"-{os.getpid()}-" not in path.name:
                shutil.rmtree(path, ignore_errors=True)  # left by a crashed run


def _manifest(
    files: dict[str, IngestedFile], registry: Registry, extra: dict[str, Any]
) -> dict[str, Any]:
    documents = {
        doc_id: {
            "path": f.document.path,
            "sha256": f.document.sha256,
            "type": f.document.doc_type,
            "number": f.document.number,
            "date": f.document.date,
            "chunks": len(f.chunks),
            "units": len(f.units),
            "duties": len(f.duties),
        }
        for doc_id, f in sorted(files.items())
    }
    check = registry.cross_check
    return {
        "format_version": FORMAT_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "documents": documents,
        "counts": {
            "documents": len(files),
            "chunks": sum(len(f.chunks) for f in files.values()),
            "units": sum(len(f.units) for f in files.values()),
            "old_units": sum(len(u.olds) for f in files.values() for u in f.units),
            "duties": sum(len(f.duties) for f in files.values()),
        },
        "cross_check": None
        if check is None
        else {
            "listed": check.listed,
            "arranged": check.arranged,
            "unchanged": check.unchanged,
            "missing_from_list": len(check.missing_from_list),
            "not_arranged": len(check.not_arranged),
        },
        **extra,
    }


def _registry_dict(registry: Registry) -> dict[str, Any]:
    return {
        "provinces": registry.provinces,
        "unit_list": [asdict(u) for u in registry.unit_list],
        "cross_check": asdict(registry.cross_check) if registry.cross_check else None,
    }


def _read_registry(path: Path) -> Registry:
    data = json.loads(path.read_text(encoding="utf-8"))
    check = data.get("cross_check")
    return Registry(
        provinces=data["provinces"],
        unit_list=[ListedUnit(**u) for u in data["unit_list"]],
        cross_check=CrossCheck(**check) if check else None,
    )


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LiveIndex:
    """The current index, loaded once and reloaded when another process makes a new one current."""

    def __init__(self, store: IndexStore):
        self.store = store
        self._index: Index | None = None

    def get(self) -> Index:
        path = self.store.current_path()
        if self._index is None or path != self._index.path:
            self._index = self.store.load()
        return self._index

    def try_get(self) -> Index | None:
        try:
            return self.get()
        except IndexUnavailable:
            return None
