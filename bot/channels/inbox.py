"""Webhook deliveries: recorded before they are acknowledged, answered once, redone after a crash.

A webhook calls `Inbox.receive`; the delivery is claimed in the shared state with its payload
and a lease, the platform gets its 200, and the handler runs in the background, renewing the
lease while it works. When it ends the delivery is marked done. If the worker dies first, the
lease runs out and any worker's sweeper (`Inbox.sweep`) takes the delivery over from its stored
payload. State calls run on their own threads, never queued behind the answers (CPU-bound,
on the default executor), so a busy worker still acknowledges at once. A duplicate delivery
(the platform retrying, or the same update sent to two workers) finds the claim and does
nothing. If the state cannot be reached the webhook answers 503, so the platform retries later.

Work is shared, not bound to the connection it came on: a worker already running `capacity`
handlers records a new delivery with no lease, and the first worker with a free slot (itself
included) takes it from the log. Platforms keep their connections open for hours, and the
worker that happened to accept most of them would otherwise answer most of the messages.

What is stored of a message (chat and user ids, name, text) is sealed with a key derived from
the channel's own secret, which lives in the environment and never on disk: the database files,
Redis's append-only file and their backups hold no raw user id.

At-least-once in one narrow case: a worker that dies after sending its reply but before
`complete` is redone, and the user gets the answer twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from prometheus_client import Counter

from bot.state.contract import Claim, SharedState

log = logging.getLogger("sapxep.inbox")
DELIVERIES = Counter(
    "sapxep_deliveries_total",
    "Tin nhắn webhook: new (trả lời ngay), queued (tiến trình bận, để tiến trình rảnh nhận), "
    "taken (nhận từ nhật ký: tin để lại hoặc tin của tiến trình đã chết), duplicate (gửi lại, "
    "bỏ qua), unrecorded (không ghi được, trả 503 để nền tảng gửi lại)",
    ["channel", "outcome"],
)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")
COMPLETE_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
POLL_S = 0.2  # how often a worker with a free slot looks for deliveries nobody is running


def sealer(secret: str) -> Fernet:
    """Authenticated encryption keyed by a channel secret every instance already has."""
    digest = hashlib.sha256(b"sapxep-delivery:" + secret.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class StateUnavailable(Exception):
    """The shared state could not record a delivery: do not acknowledge it."""


class Inbox:
    """The delivery log of every channel's webhook, over one `SharedState`."""

    def __init__(self, state: SharedState, lease_s: float = 120.0, capacity: int = 4) -> None:
        self.state = state
        self.lease_s = lease_s
        self.capacity = capacity
        self._wake: asyncio.Event | None = None  # set when a handler ends and frees a slot
        self._handlers: dict[str, Handler] = {}
        self._seals: dict[str, Fernet] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sapxep-inbox")

    @property
    def busy(self) -> bool:
        """Every slot taken: new deliveries go to the log for a free worker."""
        return len(self._tasks) >= self.capacity

    @property
    def channels(self) -> list[str]:
        return list(self._handlers)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def register(self, channel: str, handler: Handler, secret: str) -> None:
        """Handle `channel`'s deliveries with `handler`; `secret` (the channel's token or signing
        key) seals what is stored of them."""
        if not secret:
            raise ValueError(f"{channel}: a secret is needed to seal stored messages")
        self._handlers[channel] = handler
        self._seals[channel] = sealer(secret)

    async def receive(self, channel: str, update_id: str, payload: dict[str, Any]) -> Claim:
        """Claim a delivery and start its handler if it is new; raises `StateUnavailable`."""
        # ASCII JSON: a lone surrogate in a message can still be sealed and stored
        body = self._seals[channel].encrypt(json.dumps(payload).encode()).decode()
        busy = self.busy
        try:
            claim = await self._call(
                self.state.claim, channel, update_id, body, 0.0 if busy else self.lease_s
            )
        except Exception as exc:
            log.warning("delivery %s/%s not recorded: %s", channel, update_id, type(exc).__name__)
            DELIVERIES.labels(channel=channel, outcome="unrecorded").inc()
            raise StateUnavailable(str(exc)) from exc
        if claim is not Claim.NEW:
            outcome = "duplicate"
        elif busy:
            outcome = "queued"
        else:
            outcome = "new"
            self._start(channel, update_id, payload)
        DELIVERIES.labels(channel=channel, outcome=outcome).inc()
        return claim

    async def sweep(self) -> int:
        """Take as many deliveries nobody is running (left by a busy worker, or by one that died
        before finishing) as there are free slots; how many were started."""
        free = self.capacity - len(self._tasks)
        if free <= 0:
            return 0
        deliveries = await self._call(self.state.expired, self.lease_s, free)
        for delivery in deliveries:
            if delivery.channel not in self._handlers:
                continue
            try:
                sealed = self._seals[delivery.channel].decrypt(delivery.payload.encode())
            except InvalidToken:  # sealed under another secret: nobody can answer it now
                log.error("delivery %s/%s unreadable (channel secret changed?): dropped",
                          delivery.channel, delivery.update_id)
                await self._complete(delivery.channel, delivery.update_id)
                continue
            log.info("taking delivery %s/%s from the log", delivery.channel, delivery.update_id)
            DELIVERIES.labels(channel=delivery.channel, outcome="taken").inc()
            self._start(delivery.channel, delivery.update_id, json.loads(sealed))
        return len(deliveries)

    async def run_sweeper(self, interval_s: float = POLL_S) -> None:
        """Sweep whenever a handler ends and every `interval_s` seconds, until cancelled;
        failures are logged, not raised."""
        self._wake = wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval_s)
            wake.clear()
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 (any backend's failure)
                log.warning("sweep failed: %s", type(exc).__name__)

    async def drain(self, timeout_s: float) -> None:
        """Wait for the handlers in progress (on shutdown); the rest are redone by a sweeper."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        self._threads.shutdown(wait=False)

    def _start(self, channel: str, update_id: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(channel, update_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, channel: str, update_id: str, payload: dict[str, Any]) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(channel, update_id))
        try:
            await self._handlers[channel](payload)
        except Exception:
            log.exception("handling delivery %s/%s failed", channel, update_id)
        finally:
            heartbeat.cancel()
        await self._complete(channel, update_id)
        if self._wake is not None:
            self._wake.set()

    async def _heartbeat(self, channel: str, update_id: str) -> None:
        """Renew the lease every third of it while the handler runs: a slow answer under load
        is not mistaken for a dead worker."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._call(self.state.renew, channel, update_id, self.lease_s)
            except Exception as exc:  # noqa: BLE001 (any backend's failure)
                log.warning("lease of %s/%s not renewed: %s", channel, update_id, type(exc).__name__)

    async def _complete(self, channel: str, update_id: str) -> None:
        """Mark done, riding out a short outage of the state (a Redis restart)."""
        for pause in (*COMPLETE_BACKOFF_S, None):
            try:
                await self._call(self.state.complete, channel, update_id)
                return
            except Exception as exc:  # noqa: BLE001 (any backend's failure)
                if pause is None:
                    log.error("delivery %s/%s answered but not marked done: %s",
                              channel, update_id, type(exc).__name__)
                    return
                await asyncio.sleep(pause)
