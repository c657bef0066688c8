"""`sapxep serve` under load, measured from a client on the same machine: answers per second and
latency over HTTP with a given number of workers, and each worker's resident memory.

The service runs as its own process on a free loopback port, against the configured data
directory; the client keeps `concurrency` requests in flight with one `httpx.AsyncClient`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.evaluation.metrics import percentile


@dataclass
class Load:
    workers: int
    label: str
    requests: int
    errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    rss_mb: list[float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    spawned = [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return spawned or [pid]


class Served:
    """`sapxep serve --workers N` on a free port, stopped on exit."""

    def __init__(self, workers: int):
        self.workers = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Served:
        sapxep = str(Path(sys.executable).with_name("sapxep"))
        command = [sapxep, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        env = {**os.environ, "SAPXEP_LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("sapxep serve exited before it was ready")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("sapxep serve did not become ready in 120 s")

    def rss_mb(self) -> list[float]:
        assert self.process is not None
        return [round(_rss_mb(p), 1) for p in _workers(self.process.pid)]

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


async def _drive(url: str, questions: Sequence[str], concurrency: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(questions))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def user() -> None:
            nonlocal errors
            while queue:
                question = queue.pop()
                started = time.perf_counter()
                try:
                    reply = await client.post("/api/ask", json={"question": question})
                    ok = reply.status_code == 200
                except httpx.TransportError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return latencies, errors, time.perf_counter() - started


def run(served: Served, label: str, questions: Sequence[str], concurrency: int = 16) -> Load:
    latencies, errors, seconds = asyncio.run(_drive(served.url, questions, concurrency))
    latencies.sort()
    return Load(
        workers=served.workers,
        label=label,
        requests=len(latencies),
        errors=errors,
        per_second=len(latencies) / seconds if seconds else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        rss_mb=served.rss_mb(),
    )
