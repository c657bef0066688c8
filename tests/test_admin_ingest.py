"""Documents uploaded over HTTP (`POST /api/documents`, `GET /api/documents/jobs/{id}`) to the
real service on a copy of the real index: the admin token, bad files, the background ingest,
and the swap to the new index while questions keep coming, seen by a second instance too.

Run with `-s` to see the ingest time and the number of answers served during the swap.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from servers import running
from test_index_faults import PLAN, mounted

from bot.config import Settings
from bot.service.admin import HOST, MAX_FILE_BYTES, Job, JobStore, clean_name
from bot.service.app import create_app
from ingest.text import has_diacritics

TOKEN = "admin-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
QUESTIONS = [
    "xã Tri Phương sáp nhập với xã nào",
    "Phường Thanh Xuân Bắc sau khi sáp nhập thì tên mới là gì vậy?",
    "Phòng Tư pháp quận Thanh Xuân được giao nhiệm vụ gì trong kế hoạch tuyên truyền sắp xếp đơn vị hành chính?",
    "ke hoach 114-KH/BTCTW cua ban to chuc trung uong ban hanh ngay nao",
    "Vì sao phải sắp xếp, tổ chức lại đơn vị hành chính các cấp và xây dựng chính quyền địa phương 2 cấp?",
]
PLAN_NAME = "Kế hoạch 27-KH ngày hội bản đồ.md"
DOCX_NAME = "45-KH-DTN dia chi xanh.docx"
ABOUT_PLAN = "ngày hội bản đồ quê hương mới sau sắp xếp đơn vị hành chính có hoạt động gì"
ABOUT_DOCX = "Đội hình Địa chỉ xanh hỗ trợ Nhân dân cập nhật địa chỉ mới sau sắp xếp như thế nào?"
DOCX_PARAGRAPHS = [
    "BCH ĐOÀN XÃ TÂN HỘI ĐÔNG",
    "Số: 45-KH/ĐTN",
    "ĐOÀN TNCS HỒ CHÍ MINH",
    "Tân Hội Đông, ngày 20 tháng 7 năm 2025",
    "KẾ HOẠCH",
    "Ra quân đội hình thanh niên tình nguyện «Địa chỉ xanh» hỗ trợ Nhân dân cập nhật địa chỉ mới",
    "I. MỤC ĐÍCH, YÊU CẦU",
    "1. Hỗ trợ người cao tuổi cập nhật địa chỉ mới trên ứng dụng định danh điện tử VNeID sau sắp xếp.",
    "II. NỘI DUNG",
    "1. Đội hình «Địa chỉ xanh» gồm 30 đoàn viên, trực tại nhà văn hóa các ấp vào sáng thứ Bảy và Chủ nhật.",
    "2. Đội hình hướng dẫn Nhân dân thay biển số nhà và cập nhật địa chỉ trên giấy tờ cá nhân.",
    "III. TỔ CHỨC THỰC HIỆN",
    "Các chi đoàn ấp phân công đoàn viên tham gia đội hình «Địa chỉ xanh».",
    "TM. BAN CHẤP HÀNH",
    "BÍ THƯ",
    "Lê Thị Ngọc Hân",
]


def docx_bytes(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, index_root: Path) -> Path:
    data = tmp_path_factory.mktemp("admin")
    shutil.copytree(index_root, data / "index", ignore=shutil.ignore_patterns(".lock"))
    return data


@pytest.fixture(scope="module")
def configured(settings: Settings, data_dir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": data_dir, "admin_token": TOKEN})


@pytest.fixture(scope="module")
def service(configured: Settings) -> Iterator[str]:
    with running(create_app(configured)) as base:
        yield base


@pytest.fixture(scope="module")
def other(configured: Settings, service: str) -> Iterator[str]:
    """A second instance on the same data directory, as another worker process would be."""
    with running(create_app(configured)) as base:
        yield base


def upload(
    base: str, files: list[tuple[str, bytes]], headers: dict[str, Any] | None = ADMIN
) -> httpx.Response:
    parts = [("files", (name, content)) for name, content in files]
    return httpx.post(f"{base}/api/documents", files=parts, headers=headers, timeout=60)


def job(base: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/documents/jobs/{job_id}", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def finished(base: str, job_id: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (status := job(base, job_id))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def ask(base: str, question: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc"] for c in answer["citations"]}


def listed(base: str) -> list[str]:
    return [d["doc_id"] for d in httpx.get(f"{base}/api/documents", timeout=30).json()]


def assert_vietnamese_detail(response: httpx.Response, code: int) -> str:
    assert response.status_code == code, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and has_diacritics(detail), detail
    return detail


# --- refusals -------------------------------------------------------------------------------------


def test_uploads_and_jobs_need_the_admin_token(service: str, data_dir: Path) -> None:
    plan = [(PLAN_NAME, PLAN.encode())]
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"},
                    {"Authorization": TOKEN}, {"Authorization": b"Bearer \xff\xfe"}):  # fmt: skip
        assert_vietnamese_detail(upload(service, plan, headers), 401)
    assert httpx.get(f"{service}/api/documents/jobs/{'0' * 32}").status_code == 401
    assert not (data_dir / "uploads").exists() or PLAN_NAME not in {
        p.name for p in (data_dir / "uploads").iterdir()
    }


def test_bad_uploads_are_refused_in_vietnamese_and_nothing_is_saved(
    service: str, data_dir: Path
) -> None:
    before = sorted((data_dir / "uploads").glob("*")) if (data_dir / "uploads").exists() else []
    detail = assert_vietnamese_detail(upload(service, [("bao-cao.exe", b"MZ\x90\x00")]), 415)
    assert "bao-cao.exe" in detail and ".docx" in detail
    mixed = [(PLAN_NAME, PLAN.encode()), ("ghi-chu", b"no extension")]
    assert_vietnamese_detail(upload(service, mixed), 415)
    big = [("qua-lon.txt", b"x" * (MAX_FILE_BYTES + 1))]
    assert "qua-lon.txt" in assert_vietnamese_detail(upload(service, big), 413)
    no_files = httpx.post(f"{service}/api/documents", data={"ghi_chu": "x"}, headers=ADMIN)
    assert_vietnamese_detail(no_files, 400)
    after = sorted((data_dir / "uploads").glob("*")) if (data_dir / "uploads").exists() else []
    assert after == before  # no upload, and no half-written file, was left
    unknown = httpx.get(f"{service}/api/documents/jobs/{'0' * 32}", headers=ADMIN)
    assert_vietnamese_detail(unknown, 404)
    traversal = httpx.get(f"{service}/api/documents/jobs/..%5C..%5Csalt", headers=ADMIN)
    assert_vietnamese_detail(traversal, 404)


def test_file_names_are_made_safe() -> None:
    assert clean_name("../../../etc/passwd.md") == "passwd.md"
    assert clean_name("..\\..\\Windows\\Kế hoạch.DOCX") == "Kế hoạch.docx"
    assert clean_name("Ke\u0302\u0301 hoa\u0323ch.md") == "Kế hoạch.md"  # NFD in, NFC out
    assert clean_name(".hidden.md") == "hidden.md"
    assert clean_name("a\x00b;rm -rf $HOME|x.txt") == "a_b_rm -rf _HOME_x.txt"
    assert clean_name("..") == "tai-lieu" and clean_name(None) == "tai-lieu"
    assert len(clean_name("ệ" * 300 + ".md").encode()) <= 200


def full_disk(path: str) -> list[list[str]]:
    return [["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", path]]


def read_only(path: str) -> list[list[str]]:
    return [["mount", "--bind", path, path], ["mount", "-o", "remount,bind,ro", path]]


@pytest.mark.parametrize(
    ("mounts", "expected"),
    [(full_disk, "Hết dung lượng đĩa"), (read_only, "chỉ đọc")],
    ids=["disk-full", "read-only"],
)
def test_uploads_that_cannot_be_written_are_a_clear_507(
    service: str, data_dir: Path, mounts: Any, expected: str
) -> None:
    uploads = data_dir / "uploads"
    uploads.mkdir(exist_ok=True)
    before = listed(service)
    with mounted(*mounts(str(uploads)), target=uploads):
        files = [(f"ke-hoach-{i}.txt", PLAN.encode() * 500) for i in range(4)]  # 2.2 MB in all
        assert expected in assert_vietnamese_detail(upload(service, files), 507)
        assert list(uploads.iterdir()) == []  # not one of them, nor a part of one
    assert listed(service) == before


def test_a_job_whose_worker_died_says_so(service: str, data_dir: Path) -> None:
    """A worker killed mid-job leaves its status file at "running": reported as interrupted."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = Job(job_id=uuid.uuid4().hex, status="running", files=[PLAN_NAME],
               created_at="2025-07-14T08:00:00+0700", pid=dead.pid, host=HOST)  # fmt: skip
    JobStore(data_dir / "jobs").save(left)
    status = job(service, left.job_id)
    assert status["status"] == "failed" and "dừng giữa chừng" in status["message"]


def test_a_corrupt_docx_fails_its_job_in_vietnamese_and_the_index_keeps_serving(
    service: str,
) -> None:
    before = listed(service)
    response = upload(service, [("hong.docx", b"PK\x03\x04 this is not a zip archive")])
    assert response.status_code == 202, response.text
    status = finished(service, response.json()["job_id"])
    assert status["status"] == "failed" and not status["added"]
    [error] = status["errors"]
    assert error["file"] == "hong.docx" and "hỏng" in error["message"]
    assert has_diacritics(status["message"])
    assert listed(service) == before
    answer = ask(service, QUESTIONS[0])
    assert not answer["refused"] and answer["citations"]


# --- the swap -------------------------------------------------------------------------------------


class Asker(threading.Thread):
    """Real questions to both instances, one after the other, until stopped."""

    def __init__(self, bases: list[str]):
        super().__init__(daemon=True)
        self.bases = bases
        self.stop = threading.Event()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=60) as http:
            n = 0
            while not self.stop.is_set():
                base = self.bases[n % len(self.bases)]
                try:
                    r = http.post(
                        f"{base}/api/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]}
                    )
                    self.statuses[(base, r.status_code)] += 1
                    if r.status_code != 200 or not r.json()["answer"]:
                        self.failures.append(r.text[:300])
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                n += 1

    def served(self) -> int:
        return sum(self.statuses.values())


def test_uploads_are_ingested_in_the_background_and_swapped_in_without_dropping_a_question(
    service: str, other: str, data_dir: Path
) -> None:
    before = listed(service)
    assert PLAN_NAME not in cited(ask(other, ABOUT_PLAN))  # it serves the old index
    asker = Asker([service, other])
    asker.start()
    try:
        while asker.served() < 4:  # both instances are answering before the upload
            time.sleep(0.05)
        posted = time.perf_counter()
        first = upload(service, [(f"../../{PLAN_NAME}", PLAN.encode())])
        second = upload(service, [(DOCX_NAME, docx_bytes(DOCX_PARAGRAPHS))])
        assert first.status_code == second.status_code == 202, first.text + second.text
        first_id, second_id = first.json()["job_id"], second.json()["job_id"]
        assert job(service, second_id)["status"] == "queued"  # behind the first, not lost
        done = finished(service, first_id)
        wall = time.perf_counter() - posted
        assert done["status"] == "done" and done["added"] == [PLAN_NAME], done
        assert finished(other, second_id)["status"] == "done"  # any instance reads any job
        at_swap = asker.served()
        while asker.served() < at_swap + 6:  # and a few more once both are in
            time.sleep(0.05)
    finally:
        asker.stop.set()
        asker.join(60)

    assert asker.failures == [] and asker.served() > 0
    assert {code for _, code in asker.statuses} == {200}
    assert {base for base, _ in asker.statuses} == {service, other}
    assert {DOCX_NAME, PLAN_NAME} <= {p.name for p in (data_dir / "uploads").iterdir()}
    assert not (data_dir.parent / PLAN_NAME).exists() and not (data_dir / PLAN_NAME).exists()
    for base in (service, other):  # the second instance was not restarted
        assert sorted(listed(base)) == sorted([*before, PLAN_NAME, DOCX_NAME])
        about_plan, about_docx = ask(base, ABOUT_PLAN), ask(base, ABOUT_DOCX)
        assert PLAN_NAME in cited(about_plan) and "Bản đồ quê hương mới" in about_plan["answer"]
        assert DOCX_NAME in cited(about_docx) and "Địa chỉ xanh" in about_docx["answer"]
    print(
        f"\nHTTP ingest of one document (vectors of the rest reused): {done['seconds']:.1f} s "
        f"in the job, {wall:.1f} s from POST to done; {asker.served()} answers during the swap "
        f"({dict(asker.statuses)}), {len(asker.failures)} errors"
    )
