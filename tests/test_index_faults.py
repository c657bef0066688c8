"""The index under faults, as they happen: `sapxep ingest` killed with SIGKILL mid-write, a
full disk (a small tmpfs), a read-only index directory (a read-only bind mount), and versions
replaced and garbage-collected while other threads are loading them. Each time the previous
index must keep answering real questions and the next ingest must work.

Needs root for `mount` (the test machine's user); real subprocesses, real files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.answer.engine import Engine, Loaded
from bot.answer.responder import Responder
from bot.config import Settings
from index.build import update_index
from index.store import Index, IndexStore, LiveValue

QUESTION = "xã Tri Phương sáp nhập với xã nào"
PLAN = """ỦY BAN NHÂN DÂN
XÃ TÂN HỘI ĐÔNG

Số: 27/KH-UBND

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Tân Hội Đông, ngày 14 tháng 7 năm 2025

KẾ HOẠCH
Tổ chức ngày hội «Bản đồ quê hương mới» giới thiệu đơn vị hành chính sau sắp xếp

I. MỤC ĐÍCH, YÊU CẦU

1. Giúp Nhân dân nắm được tên gọi, địa giới và trụ sở của xã mới sau sắp xếp.

2. Ngày hội được tổ chức trang trọng, tiết kiệm, thu hút đông đảo đoàn viên, hội viên tham gia.

II. NỘI DUNG

1. Trưng bày bản đồ hành chính xã mới khổ lớn tại nhà văn hóa các ấp trong tháng 8 năm 2025.

2. Tổ chức hội thi vẽ tranh «Bản đồ quê hương mới» cho học sinh tiểu học và trung học cơ sở.

III. TỔ CHỨC THỰC HIỆN

1. Văn phòng HĐND và UBND xã chủ trì, in và trưng bày bản đồ hành chính.

2. Trường Trung học cơ sở Tân Hội Đông phối hợp tổ chức hội thi vẽ tranh.

TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH

Nguyễn Văn Hậu
"""


def sapxep_env(data_dir: Path, model_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SAPXEP_DATA_DIR": str(data_dir),
        "SAPXEP_EMBEDDING_MODEL": str(model_dir),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }


def sapxep(data_dir: Path, model_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sapxep …` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True, text=True, env=sapxep_env(data_dir, model_dir), timeout=600,
        check=False,
    )  # fmt: skip


def copy_index(source: Path, data_dir: Path) -> IndexStore:
    shutil.copytree(source, data_dir / "index", ignore=shutil.ignore_patterns(".lock"))
    return IndexStore(data_dir / "index")


def settings_for(settings: Settings, data_dir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": data_dir})


def assert_answers(settings: Settings) -> Engine:
    """A fresh engine on that data directory answers a real question with citations."""
    engine = Engine(settings)
    answer = Responder(engine).ask(QUESTION)
    assert not answer.refused and answer.citations, answer.answer
    assert "Tri Phương" in answer.answer
    return engine


def leftovers(store: IndexStore) -> list[str]:
    return sorted(p.name for p in store.versions.glob(".tmp-*"))


@contextmanager
def mounted(*commands: list[str], target: Path) -> Iterator[None]:
    """Run the mount commands; always unmount `target` afterwards."""
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(target)], capture_output=True, check=False)


@pytest.fixture()
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "new" / "27_KH-UBND_ban-do.md"
    path.parent.mkdir()
    path.write_text(PLAN, encoding="utf-8")
    return path


# --- kill -9 --------------------------------------------------------------------------------------


def test_an_ingest_killed_while_embedding_leaves_the_previous_index_serving(
    tmp_path: Path,
    corpus: Path,
    index_root: Path,
    settings: Settings,
    e5_model_dir: Path,
    plan: Path,
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(corpus, docs)
    data = tmp_path / "data"
    store = copy_index(index_root, data)
    before = store.current_path()
    log = (tmp_path / "ingest.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ingest", str(docs), "--reindex"],
        stdout=log, stderr=subprocess.STDOUT, env=sapxep_env(data, e5_model_dir),
    )  # fmt: skip
    try:
        # BM25 and the diacritics restorer are written just before the vectors: once the
        # restorer is in the half-written version, the process is embedding.
        deadline = time.monotonic() + 300
        while not list(store.versions.glob(".tmp-*/diacritics.json")):
            assert process.poll() is None, (tmp_path / "ingest.log").read_text()
            assert time.monotonic() < deadline, "the ingest never started embedding"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        log.close()

    assert len(leftovers(store)) == 1  # killed mid-write, the half-written version is there
    assert store.current_path() == before
    engine = assert_answers(settings_for(settings, data))
    assert engine.load().index.path == before
    with store.lock():  # the dead process's lock went with it
        pass

    shutil.copy(plan, docs / plan.name)
    result = sapxep(data, e5_model_dir, "ingest", str(docs))
    assert result.returncode == 0, result.stderr
    assert "Mới: 1" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert leftovers(store) == []
    assert store.current_path() not in (None, before)
    assert plan.name in store.load().files


# --- disk full, read-only -------------------------------------------------------------------------


def test_a_full_disk_is_a_clear_error_and_the_index_stays_intact(
    tmp_path: Path, index_root: Path, settings: Settings, e5_model_dir: Path, plan: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    used = sum(p.stat().st_size for p in index_root.rglob("*") if p.is_file())
    room = used + 3 * 2**20  # the copy fits; a new version (records alone ~8 MB) does not
    with mounted(["mount", "-t", "tmpfs", "-o", f"size={room}", "tmpfs", str(data)], target=data):
        store = copy_index(index_root, data)
        before, versions = store.current_path(), sorted(store.versions.iterdir())

        result = sapxep(data, e5_model_dir, "ingest", str(plan))

        assert_refused_cleanly(result, "Hết dung lượng đĩa", "giải phóng dung lượng")
        assert store.current_path() == before
        assert sorted(store.versions.iterdir()) == versions  # nothing half-written is left
        assert_answers(settings_for(settings, data))


def assert_refused_cleanly(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """A non-zero exit with a message that says what and what to do, and no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert all(phrase in output for phrase in phrases), output
    assert "Traceback" not in output


def test_a_read_only_index_directory_still_serves_and_ingest_says_why_it_cannot_write(
    tmp_path: Path, index_root: Path, settings: Settings, e5_model_dir: Path, plan: Path
) -> None:
    data = tmp_path / "data"
    store = copy_index(index_root, data)
    before = store.current_path()
    root = str(store.root)
    with mounted(
        ["mount", "--bind", root, root], ["mount", "-o", "remount,bind,ro", root], target=store.root
    ):
        with pytest.raises(OSError):  # root ignores permissions, not a read-only mount
            (store.root / "probe").write_text("x")

        result = sapxep(data, e5_model_dir, "ingest", str(plan))

        assert_refused_cleanly(result, "chỉ đọc", "SAPXEP_DATA_DIR")
        assert store.current_path() == before
        assert_answers(settings_for(settings, data))


# --- versions replaced under readers --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory, corpus: Path, engine: Engine) -> Path:
    """Two real plans, so that versions can be written back to back in a fraction of a second."""
    root = tmp_path_factory.mktemp("small") / "index"
    plans = [corpus / "plans" / n for n in ("001_d71f2da037f574f8.txt", "002_6d727a2a5508cfde.txt")]
    report = update_index(IndexStore(root), plans, embedder=engine.embedder)
    assert report.added and not report.errors
    return root


def write_copy(store: IndexStore) -> Path:
    """A new version with the current content (search files copied, not rebuilt): what another
    process's ingest does to this one's readers."""
    index = store.load()

    def same_search(directory: Path, previous: Path | None) -> dict[str, object]:
        assert previous is not None
        for entry in previous.iterdir():
            if entry.name not in ("manifest.json", "records.jsonl", "registry.json"):
                copy = shutil.copytree if entry.is_dir() else shutil.copy
                copy(entry, directory / entry.name)
        return {"embedding": index.manifest["embedding"]}

    with store.lock(wait=True):
        return store.write(index.files, same_search).path


def test_a_new_version_is_built_once_while_other_requests_keep_the_old_one(
    tmp_path: Path, small_index: Path, settings: Settings
) -> None:
    store = copy_index(small_index, tmp_path / "data")
    served = Engine(settings_for(settings, tmp_path / "data"))
    old = served.load()
    new_path = write_copy(store)
    start = threading.Barrier(8)
    got: list[Loaded] = []

    def request() -> None:
        start.wait()
        got.append(served.load())

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new = served.load()
    assert new.index.path == new_path and new is not old
    assert len(got) == 8 and {id(g) for g in got} <= {id(old), id(new)}  # one build, shared
    assert served.live.get() is new.index  # the records are parsed once for both


def test_a_version_collected_while_being_loaded_is_read_again_at_the_newer_one(
    tmp_path: Path, small_index: Path
) -> None:
    """Between reading CURRENT and reading the version's files, another process makes two
    newer versions current (two are kept): the version being read is deleted. The load
    is done again at the newer one, and does not fail."""
    store = copy_index(small_index, tmp_path / "data")
    other = IndexStore(store.root)  # another process's store
    tried: list[Path] = []

    def load(path: Path) -> Index:
        tried.append(path)
        if len(tried) == 1:
            write_copy(other)
            write_copy(other)
        return store.load_version(path)

    index = LiveValue(store, load).get()
    assert len(tried) == 2 and not tried[0].exists()
    assert index.path == tried[1] == store.current_path()
