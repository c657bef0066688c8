"""Which parts of the service work: the answering core, the channels, the shared state. No part
that lives outside the process (Telegram, Zalo, Redis, the LLM) may stop the service from
starting: each is brought up in the background and retried with bounded backoff, and
`/healthz` says which are `ok`, `degraded` (retrying) or `off` (not configured)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)
RETRIES = Counter("sapxep_retries_total", "Lần thử lại một phần bên ngoài chưa sẵn sàng", ["part"])
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 60.0


class Health:
    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self._ready: dict[str, asyncio.Event] = {}

    def set(self, part: str, status: str) -> None:
        self.parts[part] = status
        if status == "ok":
            self.event(part).set()

    def event(self, part: str) -> asyncio.Event:
        """Set once `part` has come up: work that needs it waits on this."""
        return self._ready.setdefault(part, asyncio.Event())

    def ready(self, part: str) -> bool:
        return self.parts.get(part) == "ok"

    def snapshot(self) -> dict[str, object]:
        degraded = any(status == "degraded" for status in self.parts.values())
        return {
            "status": "degraded" if degraded else "ok",
            "parts": dict(sorted(self.parts.items())),
        }


async def bring_up(
    part: str,
    start: Callable[[], Awaitable[object]],
    health: Health,
    first_s: float = FIRST_DELAY_S,
    cap_s: float = MAX_DELAY_S,
) -> None:
    """`start()` until it succeeds, waiting 1, 2, 4 … up to `cap_s` seconds between tries."""
    delay = first_s
    while True:
        try:
            await start()
        except Exception as exc:  # noqa: BLE001 — whatever the platform or network raises
            health.set(part, "degraded")
            RETRIES.labels(part=part).inc()
            log.warning("%s unavailable (%s); retrying in %.0f s", part, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(cap_s, delay * 2)
        else:
            health.set(part, "ok")
            return


async def probe(part: str, check: Callable[[], bool], health: Health) -> None:
    """Check a part once (in a thread: a backend may take seconds to time out)."""
    try:
        ok = await asyncio.to_thread(check)
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        RETRIES.labels(part=part).inc()
    health.set(part, "ok" if ok else "degraded")


async def watch(part: str, check: Callable[[], bool], health: Health, every_s: float = 5.0) -> None:
    """Re-check a part that can fail at any time (the shared state, the database)."""
    while True:
        await asyncio.sleep(every_s)
        await probe(part, check, health)
