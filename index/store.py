"""The index directory: versions written aside, then made current by one atomic rename.

    <root>/CURRENT                  name of the current version
    <root>/versions/<name>/manifest.json
                          /records.jsonl     one IngestedFile per line
                          /registry.json     provinces, the 1027 list, the cross-check
    <root>/.lock                    held while a version is being written

A crash while writing leaves CURRENT pointing at the previous, complete version; the next
writer removes the half-written `.tmp-*` directory it left. Readers never lock: a version
stays complete and unchanged once current, and a reader whose version is garbage-collected
by a writer meanwhile reads the newer current one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from index.registers import Registry, build_registry, read_registry, registry_dict
from ingest.pipeline import PARSER_VERSION, IngestedFile
from ingest.records import Chunk, Document
from prompts import template

FORMAT_VERSION = 3
# What an index version's search part holds (index/search.py); an older one is rebuilt, its
# vectors reused. Here, so that an unchanged corpus is recognised without loading search code.
SEARCH_VERSION = 4
Artifacts = Callable[[Path, Path | None], dict[str, Any]]
KEEP_VERSIONS = 2
SWAP_ATTEMPTS = 3  # reads retried when writers keep replacing the version being read
T = TypeVar("T")


class IndexUnavailable(Exception):
    """The index is missing, damaged or of another format; `message` says what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class IndexWriteError(Exception):
    """Nothing could be written (disk full, read-only, no permission); the current version is
    untouched. `message` names the problem and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_WRITE_PROBLEMS = {
    errno.ENOSPC: "storage.disk_full",
    errno.EDQUOT: "storage.disk_full",
    errno.EROFS: "storage.read_only",
    errno.EACCES: "storage.no_permission",
    errno.EPERM: "storage.no_permission",
}


def write_error(exc: OSError, where: Path) -> IndexWriteError:
    """The one place an OSError met while writing under `where` becomes advice for a person."""
    key = _WRITE_PROBLEMS.get(exc.errno or 0, "storage.other")
    return IndexWriteError(template(key, path=where, detail=exc.strerror or type(exc).__name__))


def damaged(path: Path, exc: Exception) -> IndexUnavailable:
    """A version that cannot be read; re-ingesting with --reindex rebuilds every part of it."""
    return IndexUnavailable(
        f"Chỉ mục {path} bị hỏng ({type(exc).__name__}). "
        "Hãy nạp lại: sapxep ingest <thư mục tài liệu> --reindex"
    )


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


class IndexStore:
    def __init__(self, root: Path):
        self._pointer: tuple[tuple[int, int, int], str] | None = None
        self.root = Path(root)

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    def current_path(self) -> Path | None:
        """The version CURRENT names. The pointer is replaced by a rename, so while its inode,
        size and mtime are those last read, so is its content: one stat per question."""
        pointer = self.root / "CURRENT"
        try:
            stat = pointer.stat()
            seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self._pointer is not None and self._pointer[0] == seen:
                name = self._pointer[1]
            else:
                name = pointer.read_text(encoding="utf-8").strip()
                self._pointer = (seen, name)
        except FileNotFoundError:
            return None
        path = self.versions / name
        return path if name and path.is_dir() else None

    @contextmanager
    def lock(self, wait: bool = False) -> Iterator[None]:
        """One writer at a time; `wait` queues behind a running one instead of refusing.

        The holder also removes what a killed writer left behind."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = (self.root / ".lock").open("a")
        except OSError as exc:
            raise write_error(exc, self.root) from exc
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexUnavailable(
                    "Một lần nạp tài liệu khác đang chạy trên cùng thư mục chỉ mục; hãy đợi nó xong."
                ) from exc
            self._remove_leftovers()
            yield

    def _remove_leftovers(self) -> None:
        """What writers killed mid-write left: `.tmp-*` versions, a CURRENT never renamed into
        place (only a lock holder may call this)."""
        for path in self.versions.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for path in self.root.glob(".CURRENT.*.tmp"):
            with suppress(OSError):
                path.unlink()

    def read_current(self, read: Callable[[Path], T]) -> T:
        """`read(version directory)` of the current version.

        A writer in another process may make a newer version current and garbage-collect this
        one while it is being read; then it is read again at the newer one."""
        path = self._current()
        for _ in range(SWAP_ATTEMPTS - 1):
            try:
                return read(path)
            except Exception:
                newer = self._current()
                if newer == path:
                    raise  # not a swap: the version itself is at fault
                path = newer
        return read(path)

    def _current(self) -> Path:
        path = self.current_path()
        if path is None:
            raise IndexUnavailable(
                f"Chưa có chỉ mục trong {self.root}. Hãy chạy: sapxep ingest <thư mục tài liệu>"
            )
        return path

    def load(self) -> Index:
        return self.read_current(self.load_version)

    def load_version(self, path: Path) -> Index:
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
            registry = read_registry(path / "registry.json")
        except IndexUnavailable:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise damaged(path, exc) from exc
        if len(files) != len(manifest.get("documents", {})):
            raise IndexUnavailable(f"Chỉ mục {path} bị hỏng: thiếu tài liệu so với manifest.")
        return Index(path=path, manifest=manifest, files=files, registry=registry)

    def try_load(self) -> Index | None:
        try:
            return self.load()
        except IndexUnavailable:
            return None

    def write(self, files: dict[str, IngestedFile], artifacts: Artifacts | None = None) -> Index:
        """Write a new version aside, then make it current atomically (call under `lock`).

        `artifacts(tmp_dir, previous_dir)` adds the search structures and returns what the
        manifest says of them. On any failure nothing of the new version is left and CURRENT
        is unchanged; an OSError becomes an `IndexWriteError`.
        """
        previous = self.current_path()
        name = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        tmp, final = self.versions / f".tmp-{name}", self.versions / name
        try:
            self.versions.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            registry = build_registry(files)
            with (tmp / "records.jsonl").open("w", encoding="utf-8") as fh:
                for doc_id in sorted(files):
                    fh.write(json.dumps(files[doc_id].to_dict(), ensure_ascii=False) + "\n")
            _write_json(tmp / "registry.json", registry_dict(registry))
            extra = artifacts(tmp, previous) if artifacts else {}
            manifest = _manifest(files, registry, extra)
            _write_json(tmp / "manifest.json", manifest)
            _fsync_dir(tmp)
            tmp.rename(final)
            replace_file(self.root / "CURRENT", name.encode("utf-8"))
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if self.current_path() != final:
                shutil.rmtree(final, ignore_errors=True)
            if isinstance(exc, OSError):
                raise write_error(exc, self.root) from exc
            raise
        self._collect_garbage(keep=name)
        return Index(path=final, manifest=manifest, files=files, registry=registry)

    def _collect_garbage(self, keep: str) -> None:
        versions = sorted(p for p in self.versions.iterdir() if p.is_dir())
        old = [p for p in versions if p.name != keep and not p.name.startswith(".tmp-")]
        for path in old[: max(0, len(old) - (KEEP_VERSIONS - 1))]:
            shutil.rmtree(path, ignore_errors=True)


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
    check, listed = registry.cross_check, registry.reference_check
    return {
        "format_version": FORMAT_VERSION,
        "parser_version": PARSER_VERSION,
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
        "reference_check": None
        if listed is None
        else {
            "communes": listed.communes,
            "unlisted": len(listed.unlisted),
            "unmentioned": len(listed.unmentioned),
        },
        **extra,
    }


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def replace_file(path: Path, data: bytes) -> None:
    """Give `path` the content `data` atomically and durably: readers see the old file or the
    new one, never a part, even across a crash (written aside, fsynced, renamed over)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LiveValue(Generic[T]):
    """What `build(version directory)` makes of the current version, rebuilt when another
    version becomes current (CURRENT is compared on every `get`: a stat and a small read).

    Thread-safe: one thread builds the new value while the others keep getting the previous
    one, so requests in flight during a swap are neither dropped nor all rebuilding."""

    def __init__(self, store: IndexStore, build: Callable[[Path], T]):
        self.store = store
        self.build = build
        self._held: tuple[Path, T] | None = None
        self._building = threading.Lock()

    def get(self) -> T:
        held = self._held
        if held is not None and (held[0] == self.store.current_path() or self._building.locked()):
            return held[1]
        return self.store.read_current(self.at)

    def at(self, path: Path) -> T:
        """The value of version `path`: the held one, or built now (waits for a build under way)."""
        with self._building:
            held = self._held
            if held is None or held[0] != path:
                held = self._held = (path, self.build(path))
            return held[1]


class LiveIndex(LiveValue[Index]):
    """The current index, loaded once and reloaded when another process makes a new one current."""

    def __init__(self, store: IndexStore):
        super().__init__(store, store.load_version)

    def try_get(self) -> Index | None:
        try:
            return self.get()
        except IndexUnavailable:
            return None
