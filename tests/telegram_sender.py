"""What Telegram does with our webhook, for the scale-out, fault and load tests: post each update
with the secret header, and repeat it after anything but a 2xx (Telegram "will repeat the
request and give up after a reasonable amount of attempts")."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

SECRET = "webhook-secret-for-scale-tests"
TRIES = 30


@dataclass
class Deliveries:
    """Every response status seen, and the time each update was first posted."""

    statuses: Counter[int] = field(default_factory=Counter)
    posted_at: dict[int, float] = field(default_factory=dict)
    acked_ms: list[float] = field(default_factory=list)
    given_up: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors, by kind and message


def client(connections: int) -> httpx.AsyncClient:
    """A pool that keeps every connection it opens. With httpx's defaults (20 kept alive, 5 s
    expiry) the pool, under many concurrent requests, sometimes closes a connection it has just
    handed to a request (httpcore 1.0.9 counts all connections as idle ones), which the request
    sees as `ReadError <- ClosedResourceError`: a client fault, not the server's. The server keeps
    idle connections 75 s, so none expires during a test."""
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=None
    )
    return httpx.AsyncClient(limits=limits)


async def deliver(http: httpx.AsyncClient, url: str, update: dict, seen: Deliveries) -> None:
    """Post one update until it is acknowledged (or TRIES attempts failed)."""
    seen.posted_at.setdefault(update["update_id"], time.monotonic())
    pause = 0.1
    for _ in range(TRIES):
        started = time.monotonic()
        try:
            response = await http.post(
                f"{url}/webhooks/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                timeout=30,
            )
            seen.statuses[response.status_code] += 1
            if response.is_success:
                seen.acked_ms.append((time.monotonic() - started) * 1000)
                return
        except httpx.TransportError as exc:
            seen.statuses[0] += 1  # connection refused or reset: Telegram retries these too
            seen.errors[_causes(exc)] += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)
    seen.given_up.append(update["update_id"])


def _causes(exc: BaseException | None) -> str:
    """The exception and what it came from, e.g. "ReadError <- ConnectionResetError(104)"."""
    names = []
    while exc is not None:
        names.append(f"{type(exc).__name__}({getattr(exc, 'errno', '') or ''})")
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(names)


def replies(calls: list[dict]) -> Counter[int]:
    """Answers per chat id: the successful sendMessage calls that carry the feedback buttons,
    which only the last piece of an answer does."""
    return Counter(
        int(c["params"]["chat_id"])
        for c in calls
        if c["method"] == "sendMessage" and c["ok"] and "reply_markup" in c["params"]
    )


def wait_for_replies(calls: list[dict], chats: set[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not chats <= set(replies(calls)):
        missing = chats - set(replies(calls))
        assert time.monotonic() < deadline, f"{len(missing)} chats never answered: {sorted(missing)[:10]}"
        time.sleep(0.1)
