"""`sapxep ingest` and `sapxep docs` as a user runs them: a real process, real files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from test_loaders import encode_cp1258

PLAN = "002_6d727a2a5508cfde.txt"
OTHER_PLAN = "001_d71f2da037f574f8.txt"


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def sapxep(e5_model_dir: Path) -> Run:
    """`sapxep …` in its own process, on a data directory of the test's own."""

    def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "SAPXEP_DATA_DIR": str(data_dir),
            "SAPXEP_EMBEDDING_MODEL": str(e5_model_dir),
            "HF_HUB_OFFLINE": "1",
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    return run


@pytest.fixture()
def folder(tmp_path: Path, corpus: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(corpus / "plans" / PLAN, docs / PLAN)
    shutil.copy(corpus / "plans" / OTHER_PLAN, docs / OTHER_PLAN)
    return docs


def current_version(data_dir: Path) -> str:
    return (data_dir / "index" / "CURRENT").read_text()


def test_bad_files_get_their_own_message_and_the_good_ones_are_ingested(sapxep: Run, 
    tmp_path: Path, folder: Path
) -> None:
    (folder / "rong.txt").write_bytes(b"")
    (folder / "nhiphan.txt").write_bytes(b"\x00\x01\x02\xff" * 200)
    (folder / "hong.docx").write_bytes(b"this is not a zip archive")
    with zipfile.ZipFile(folder / "thieu.docx", "w") as zf:
        zf.writestr("hello.txt", "no word/document.xml here")
    (folder / "hong.pdf").write_bytes(b"%PDF-1.4 garbage garbage")
    (folder / "khongdoc.txt").write_bytes(bytes(range(0xC0, 0x100)) * 4)
    blank_pdf(folder / "scan.pdf")
    vietnamese = "Kế hoạch tuyên truyền về sắp xếp đơn vị hành chính cấp xã năm 2025."
    (folder / "cp1258.txt").write_bytes(encode_cp1258(vietnamese))

    result = sapxep(tmp_path / "data", "ingest", str(folder))
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in out + result.stderr
    assert "Tệp rỗng" in out and "rong.txt" in out
    assert "nhiphan.txt" in out
    assert "hong.docx" in out and "thieu.docx" in out
    assert "hong.pdf" in out and "bị hỏng" in out
    assert "scan.pdf" in out and "cần OCR" in out
    assert "khongdoc.txt" in out and "Windows-1258" in out

    listing = sapxep(tmp_path / "data", "docs").stdout
    assert PLAN in listing and OTHER_PLAN in listing and "cp1258.txt" in listing
    assert "02-KH/BTGDUK" in listing


def test_unchanged_files_do_no_work_changed_ones_replace_removed_ones_prune(sapxep: Run, 
    tmp_path: Path, folder: Path
) -> None:
    data = tmp_path / "data"
    first = sapxep(data, "ingest", str(folder))
    assert "Mới: 2" in first.stdout
    version = current_version(data)

    again = sapxep(data, "ingest", str(folder))
    assert "Không có gì thay đổi" in again.stdout
    assert current_version(data) == version

    plan = folder / PLAN
    plan.write_text(plan.read_text(encoding="utf-8") + "\nDòng bổ sung kiểm tra cập nhật.\n")
    changed = sapxep(data, "ingest", str(folder))
    assert "cập nhật: 1" in changed.stdout
    records = read_records(data)
    assert any("Dòng bổ sung" in c["text"] for c in records[PLAN]["chunks"])

    (folder / OTHER_PLAN).unlink()
    kept = sapxep(data, "ingest", str(folder))
    assert OTHER_PLAN in read_records(data), "without --prune a removed file stays"
    assert "Không có gì thay đổi" in kept.stdout
    pruned = sapxep(data, "ingest", "--prune", str(folder))
    assert "bỏ đi: 1" in pruned.stdout
    assert set(read_records(data)) == {PLAN}


def test_a_file_that_goes_bad_keeps_what_was_stored(sapxep: Run, tmp_path: Path, folder: Path) -> None:
    data = tmp_path / "data"
    sapxep(data, "ingest", str(folder))
    (folder / PLAN).write_bytes(b"\x00\xff" * 100)
    result = sapxep(data, "ingest", str(folder))
    assert PLAN in result.stdout
    assert read_records(data)[PLAN]["document"]["number"] == "02-KH/BTGDUK"


def test_nothing_to_ingest_is_a_clear_error(sapxep: Run, tmp_path: Path) -> None:
    result = sapxep(tmp_path / "data", "ingest", str(tmp_path / "khong-co"))
    assert result.returncode != 0
    assert "Không tìm thấy" in result.stderr and "khong-co" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "index").exists(), "nothing is written for a mistyped path"
    docs = sapxep(tmp_path / "data", "docs")
    assert docs.returncode != 0 and "sapxep ingest" in docs.stderr


def test_the_sample_corpus_is_what_the_tests_ingest(
    sapxep: Run, index_root: Path, tmp_path: Path
) -> None:
    """`sapxep ingest --sample` (what `make run` does without DOCS) names the corpus the session's
    index was built from: nothing to do, no model loaded."""
    data = tmp_path / "data"
    shutil.copytree(index_root, data / "index", ignore=shutil.ignore_patterns(".lock"))
    version = current_version(data)
    result = sapxep(data, "ingest", "--sample")
    assert result.returncode == 0, result.stderr
    assert "Không có gì thay đổi: 42 tài liệu" in result.stdout
    assert current_version(data) == version


def test_ingest_without_anything_to_read_says_how(sapxep: Run, tmp_path: Path) -> None:
    result = sapxep(tmp_path / "data", "ingest")
    assert result.returncode != 0
    assert "sapxep ingest PATH" in result.stderr and "--sample" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_without_its_questions_says_where_to_point(sapxep: Run, tmp_path: Path) -> None:
    result = sapxep(tmp_path / "data", "bench", "--eval-dir", str(tmp_path / "eval"))
    assert result.returncode != 0
    assert "Không tìm thấy thư mục câu hỏi đánh giá" in result.stderr
    assert "--eval-dir" in result.stderr and "Traceback" not in result.stderr


def read_records(data: Path) -> dict[str, dict]:
    version = current_version(data)
    path = data / "index" / "versions" / version / "records.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["document"]["doc_id"]: row for row in rows}


def blank_pdf(path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with path.open("wb") as fh:
        writer.write(fh)


def test_ask_prints_answer_objects_single_and_batch(
    sapxep: Run, tmp_path: Path, folder: Path
) -> None:
    data = tmp_path / "data"
    sapxep(data, "ingest", str(folder))
    single = sapxep(data, "ask", "ai ky ke hoach 02-KH/BTGDUK", "--json")
    assert single.returncode == 0, single.stderr
    answer = json.loads(single.stdout)
    assert answer["question"] == "ai ky ke hoach 02-KH/BTGDUK"
    assert answer["citations"] and len(answer["citations"]) + len(answer["related"]) >= 5
    assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    scores = [c["score"] for c in answer["citations"]]
    assert scores == sorted(scores, reverse=True)
    assert answer["citations"][0]["number"] == "02-KH/BTGDUK"

    # printed: a source is its document and clause; its relevance only with --verbose, as
    # "độ liên quan" ("điểm" would read as a point of the clause)
    plain = sapxep(data, "ask", "ai ky ke hoach 02-KH/BTGDUK")
    verbose = sapxep(data, "ask", "ai ky ke hoach 02-KH/BTGDUK", "--verbose")
    assert plain.returncode == 0 and verbose.returncode == 0, plain.stderr + verbose.stderr
    listed, detailed = source_lines(plain.stdout), source_lines(verbose.stdout)
    assert listed and "02-KH/BTGDUK" in listed[0] and len(listed) == len(detailed)
    score = re.compile(r"điểm \d|độ liên quan")  # a clause's "điểm a" would be fine
    assert not any(score.search(line) for line in listed)
    relevance = f"độ liên quan {answer['citations'][0]['score']:.2f}".replace(".", ",")
    assert detailed[0].endswith(relevance)
    assert all("độ liên quan 0," in line or "độ liên quan 1,00" in line for line in detailed)
    assert not any(re.search(r"điểm \d", line) for line in detailed)

    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            json.dumps(line, ensure_ascii=False)
            for line in (
                {"id": "a", "question": "Phòng Nội vụ quận Thanh Xuân làm gì?"},
                {"id": "b", "note": "no question here"},
                {"id": "c", "question": "kế hoạch Thái Bình ban hành ngày nào"},
            )
        ),
        encoding="utf-8",
    )
    out = sapxep(data, "ask", "--batch", str(batch), "--json")
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["question"] for a in answers] == [
        "Phòng Nội vụ quận Thanh Xuân làm gì?",
        "kế hoạch Thái Bình ban hành ngày nào",
    ]


def source_lines(printed: str) -> list[str]:
    """The lines of `sapxep ask` that list the sources: "[n] title (number, date) — clause"."""
    return [line for line in printed.splitlines() if re.match(r"\[\d+\] ", line)]


def test_ask_before_any_ingest_says_what_to_do(sapxep: Run, tmp_path: Path) -> None:
    result = sapxep(tmp_path / "data", "ask", "xin chào")
    assert result.returncode != 0
    assert "sapxep ingest" in result.stderr
    assert "Traceback" not in result.stderr
