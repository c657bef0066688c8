"""The real service as its own process (`sapxep serve`, several uvicorn workers if asked), with
its own data directory holding a copy of the session's index."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from redis_server import free_port

SAPXEP = str(Path(sys.executable).with_name("sapxep"))


class Service:
    def __init__(
        self, index_root: Path, data_dir: Path, env: dict[str, str], workers: int = 1
    ) -> None:
        self.data_dir = data_dir
        if not (data_dir / "index").exists():
            shutil.copytree(index_root, data_dir / "index", ignore=shutil.ignore_patterns(".lock"))
        self.env = {**os.environ, "SAPXEP_DATA_DIR": str(data_dir), **env}
        self.workers = workers
        self.port = free_port()
        self.log = data_dir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180, every_part: bool = False) -> None:
        """Until /healthz answers 200; with `every_part`, until each worker has said that all
        its parts are up (Telegram is brought up in the background, per worker)."""
        command = [SAPXEP, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        ready: set[int] = set()
        while len(ready) < (self.workers if every_part else 1):
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"the service did not start: {self._health()}"
            health = self._health()
            if health is not None and (not every_part or health["status"] == "ok"):
                ready.add(health["worker"])
            else:
                time.sleep(0.2)

    def _health(self) -> dict | None:
        try:
            reply = httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.TransportError:
            return None
        return reply.json() if reply.status_code == 200 else None

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor), or the one process."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [p for p in pids if "spawn_main" in _cmdline(p)] or [self.process.pid]

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
