"""Documents uploaded over HTTP by an administrator.

`POST /api/documents` saves the files under `<data_dir>/uploads/` (each written aside, then
renamed into place) and queues a job; one background thread per process ingests the jobs in
order into the current index (only the uploaded files: the other documents are kept), while
the index lock keeps one writer across processes. Each job's status is a small JSON file under
`<data_dir>/jobs/`, replaced atomically, so any worker process can answer about any job.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.answer.engine import Engine
from bot.config import Settings
from bot.service.security import bearer_matches
from index.build import IngestReport, update_index
from index.embeddings import EmbeddingModelError
from index.search import EmbeddingMismatch
from index.store import IndexUnavailable, IndexWriteError, replace_file, write_error
from ingest.loaders import SUPPORTED_SUFFIXES
from prompts import template

log = logging.getLogger("sapxep.admin")

MAX_FILE_BYTES = 20 * 2**20  # one uploaded document
MAX_REQUEST_BYTES = 50 * 2**20  # one request, checked before the body is read
MAX_FILES = 20  # files in one request
COPY_BLOCK = 2**20
NAME_BYTES = 180  # of a stored file name's stem (file systems allow 255)
HOST = socket.gethostname()
_JOB_ID = re.compile(r"[0-9a-f]{32}")

Status = Literal["queued", "running", "done", "failed"]


class FileProblem(BaseModel):
    file: str
    message: str


class Job(BaseModel):
    """One upload's ingest, as `GET /api/documents/jobs/{job_id}` reports it."""

    job_id: str
    status: Status
    files: list[str] = Field(description="tên các tệp đã lưu (đã làm sạch)")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = Field(None, description="thời gian nạp")
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    errors: list[FileProblem] = Field(default_factory=list, description="lỗi của từng tệp")
    warnings: dict[str, list[str]] = Field(default_factory=dict)
    documents: int | None = Field(None, description="số văn bản trong chỉ mục sau khi nạp")
    message: str = ""
    pid: int = Field(description="tiến trình xử lý")
    host: str


class Problem(BaseModel):
    detail: str


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


class JobStore:
    """Job statuses as `<root>/<job_id>.json`, each replaced whole, never edited in place."""

    def __init__(self, root: Path):
        self.root = root

    def save(self, job: Job) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        replace_file(self.root / f"{job.job_id}.json", job.model_dump_json(indent=1).encode())

    def get(self, job_id: str) -> Job | None:
        """The job, or None; a job whose process died on this host before finishing says so."""
        if not _JOB_ID.fullmatch(job_id):
            return None
        try:
            job = Job.model_validate_json((self.root / f"{job_id}.json").read_bytes())
        except (OSError, ValidationError):
            return None
        if job.status in ("queued", "running") and job.host == HOST and not _alive(job.pid):
            job.status, job.message = "failed", template("admin.job_interrupted")
        return job


class Ingester:
    """One background thread per process runs the jobs in the order they came; a job waits for
    a writer of another process (the index lock) instead of failing."""

    def __init__(self, engine: Engine, jobs: JobStore):
        self.engine = engine
        self.jobs = jobs
        self._queue: queue.Queue[tuple[Job, list[Path]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def submit(self, paths: list[Path]) -> Job:
        job = Job(
            job_id=uuid.uuid4().hex,
            status="queued",
            files=[p.name for p in paths],
            created_at=_now(),
            pid=os.getpid(),
            host=HOST,
        )
        self.jobs.save(job)
        self._queue.put((job, paths))
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="sapxep-ingest", daemon=True
                )
                self._thread.start()
        return job

    def _work(self) -> None:
        while True:
            job, paths = self._queue.get()
            try:
                self._run(job, paths)
            except Exception as exc:  # the thread must outlive any one job
                log.exception("ingest job %s failed", job.job_id)
                job.message = template("admin.job_crashed", detail=type(exc).__name__)
                self._finish(job, "failed")

    def _run(self, job: Job, paths: list[Path]) -> None:
        job.status, job.started_at = "running", _now()
        self.jobs.save(job)
        started = time.perf_counter()
        try:
            report = update_index(
                self.engine.store, paths, embedder=self.engine.embedder, wait=True
            )
        except (IndexWriteError, EmbeddingModelError) as exc:
            job.message = exc.message
            self._finish(job, "failed", started)
            return
        if report.changed:
            self._swap()
        self._finish(job, _summarise(job, report), started)

    def _swap(self) -> None:
        """Build this process's retriever of the new version now, in this thread: questions keep
        the previous one meanwhile, and none pays for the build. A failure is reported to the
        questions themselves, as before."""
        try:
            self.engine.load()
        except (IndexUnavailable, EmbeddingMismatch, EmbeddingModelError) as exc:
            log.warning("the new index version does not load: %s", exc.message)

    def _finish(self, job: Job, status: Status, started: float | None = None) -> None:
        job.status, job.finished_at = status, _now()
        if started is not None:
            job.seconds = round(time.perf_counter() - started, 3)
        self.jobs.save(job)


def _summarise(job: Job, report: IngestReport) -> Status:
    """The report's counts and per-file errors into the job; failed when no file went in."""
    job.added, job.updated, job.unchanged = report.added, report.updated, report.unchanged
    job.errors = [FileProblem(file=Path(e.path).name, message=e.message) for e in report.errors]
    job.warnings = report.warnings
    job.documents = len(report.index.files) if report.index else 0
    if not (report.added or report.updated or report.unchanged):
        job.message = template("admin.job_failed")
        return "failed"
    job.message = template(
        "admin.job_done",
        added=len(report.added),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
        errors=len(report.errors),
        documents=job.documents,
    )
    return "done"


def clean_name(filename: str | None) -> str:
    """The uploaded file's own name made safe as one entry of the uploads folder: no folder
    part (either slash), no leading dot, nothing but letters (Vietnamese kept, NFC), digits,
    spaces and `._-()`; the extension lower-cased."""
    base = unicodedata.normalize("NFC", (filename or "").replace("\\", "/")).rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.()\- ]", "_", base).strip(" .")
    stem, suffix = os.path.splitext(base)
    stem = stem.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").strip(" .")
    return (stem or "tai-lieu") + suffix.lower()


def _checked_name(upload: UploadFile) -> str:
    name = clean_name(upload.filename)
    if Path(name).suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(SUPPORTED_SUFFIXES)
        shown = upload.filename or name
        raise HTTPException(415, template("admin.unsupported", name=shown, allowed=allowed))
    return name


def _copy_limited(source: BinaryIO, target: Path, name: str) -> None:
    """Copy, refusing (413) beyond MAX_FILE_BYTES; fsynced, so a rename publishes it whole."""
    size = 0
    with target.open("wb") as out:
        while block := source.read(COPY_BLOCK):
            size += len(block)
            if size > MAX_FILE_BYTES:
                limit = MAX_FILE_BYTES // 2**20
                raise HTTPException(413, template("admin.too_large", name=name, limit=limit))
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


def save_uploads(files: list[tuple[str, BinaryIO]], folder: Path) -> list[Path]:
    """Every file under its name in `folder`, or none of them: all are written aside and
    checked before the first is renamed into place (replacing an earlier upload's file)."""
    staged: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, stream in files:
            staged.append((folder / f".upload-{uuid.uuid4().hex}", folder / name))
            _copy_limited(stream, staged[-1][0], name)
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as exc:
        raise HTTPException(507, write_error(exc, folder).message) from exc
    finally:
        for tmp, _ in staged:
            with suppress(OSError):  # never created, or on a read-only disk
                tmp.unlink(missing_ok=True)
    return list(dict.fromkeys(final for _, final in staged))


def require_admin(settings: Settings) -> Callable[[str], None]:
    """A dependency: `Authorization: Bearer <SAPXEP_ADMIN_TOKEN>`; no token configured means
    no admin."""

    def check(authorization: str = Header("")) -> None:
        if not bearer_matches(authorization, settings.admin_token):
            raise HTTPException(
                401, template("admin.unauthorized"), headers={"WWW-Authenticate": "Bearer"}
            )

    return check


def _check_length(content_length: str | None) -> None:
    """Before the body is read: a body of unknown or excessive size is refused, not spooled."""
    if content_length is None or not content_length.isdigit():
        raise HTTPException(411, template("admin.length_required"))
    if int(content_length) > MAX_REQUEST_BYTES:
        raise HTTPException(
            413, template("admin.request_too_large", limit=MAX_REQUEST_BYTES // 2**20)
        )


async def _read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    except StarletteHTTPException as exc:  # a malformed body, in Starlette's English
        raise HTTPException(400, template("admin.not_multipart", limit=MAX_FILES)) from exc


def admin_router(settings: Settings, engine: Engine) -> APIRouter:
    """`POST /api/documents` and `GET /api/documents/jobs/{job_id}`, both behind the admin token."""
    router = APIRouter(
        tags=["quản trị"],
        dependencies=[Depends(require_admin(settings))],
        responses={401: {"model": Problem}},
    )
    uploads = settings.data_dir / "uploads"
    jobs = JobStore(settings.data_dir / "jobs")
    ingester = Ingester(engine, jobs)
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in (400, 411, 413, 415, 507)
    }

    @router.post(
        "/api/documents", status_code=202, response_model=Job, openapi_extra=UPLOAD_BODY,
        responses=problems,
    )  # fmt: skip
    async def upload(request: Request) -> Job:
        """Tải lên tài liệu (.txt .md .docx .pdf .html) để nạp vào chỉ mục; trả về mã việc."""
        _check_length(request.headers.get("content-length"))
        form = await _read_form(request)
        try:
            files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
            if not files:
                raise HTTPException(400, template("admin.no_files"))
            named = [(_checked_name(f), f.file) for f in files]
            paths = await run_in_threadpool(save_uploads, named, uploads)
        finally:
            await form.close()
        try:
            return await run_in_threadpool(ingester.submit, paths)
        except OSError as exc:
            raise HTTPException(507, write_error(exc, jobs.root).message) from exc

    @router.get(
        "/api/documents/jobs/{job_id}", response_model=Job, responses={404: {"model": Problem}}
    )
    def job_status(job_id: str) -> Job:
        """Tình trạng việc nạp (queued, running, done, failed), số tệp mới/cập nhật/không đổi,
        lỗi từng tệp."""
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, template("admin.job_unknown", job_id=job_id[:64]))
        return job

    return router
