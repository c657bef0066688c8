"""Webhook deliveries: recorded before they are acknowledged, answered once, redone after a crash.

A webhook calls `Inbox.receive`; the delivery is added to the shared log with its payload (a
Redis stream, or SQLite on one machine), the platform gets its 200, and a worker with a free
slot takes it (`Inbox.sweep`, woken at once on this worker, every `POLL_S` on the others) and
runs its handler in the background, renewing its lease while it works. When it ends the
delivery is marked done. If the worker dies first, the lease runs out and any worker's sweep
takes the delivery over from its stored payload. State calls run on their own threads, never
queued behind the answers (CPU-bound, on the default executor), so a busy worker still
acknowledges at once. A duplicate delivery (the platform retrying, or the same update sent to
two workers) is recorded once and does nothing more. If the state cannot be reached the webhook
answers 503, so the platform retries later.

Work is shared, not bound to the connection it came on: deliveries wait in the log for the
first worker with a free slot. Platforms keep their connections open for hours, and the worker
that happened to accept most of them would otherwise answer most of the messages.

What is stored of a message (chat and user ids, name, text) is sealed with a key derived from
the channel's own secret, which lives in the environment and never on disk: the database files,
Redis's append-only file and their backups hold no raw user id.

A handler that cannot deliver now (its platform refuses the bot's token, or keeps rate-limiting
it) raises `Later`: the delivery is not marked done, and once its lease runs out a sweep takes
it again, so nothing is lost while the platform refuses.

At-least-once in two narrow cases: a worker that dies after sending its reply but before
`done` is redone, and the user gets the answer twice; a reply in several messages put off
after its first messages went out sends those again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from prometheus_client import Counter

from bot.state.contract import Delivery, SharedState

log = logging.getLogger("sapxep.inbox")
DELIVERIES = Counter(
    "sapxep_deliveries_total",
    "Tin nhắn webhook: new (ghi nhận, tiến trình còn chỗ), queued (ghi nhận khi tiến trình bận), "
    "taken (một tiến trình nhận trả lời, kể cả tin của tiến trình đã chết), duplicate (gửi lại, "
    "bỏ qua), unrecorded (không ghi được, trả 503 để nền tảng gửi lại), later (nền tảng chưa "
    "nhận trả lời: để lại, làm lại khi hết hạn thuê)",
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


class Later(Exception):
    """Raised by a handler that cannot deliver its reply now: the delivery stays undone and is
    taken again once its lease runs out."""


class Inbox:
    """The delivery log of every channel's webhook, over one `SharedState`."""

    def __init__(self, state: SharedState, lease_s: float = 120.0, capacity: int = 4) -> None:
        self.state = state
        self.lease_s = lease_s
        self.capacity = capacity
        # this worker in the consumer group: host, process, and an instance tag
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._wake: asyncio.Event | None = None  # set when a delivery arrives or a slot frees
        self._sweeping = asyncio.Lock()
        self._handlers: dict[str, Handler] = {}
        self._seals: dict[str, Fernet] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # handlers: one slot each
        self._sweeps: set[asyncio.Task[int]] = set()
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

    async def receive(self, channel: str, update_id: str, payload: dict[str, Any]) -> bool:
        """Record a delivery (True: new, False: a duplicate) and have a free slot take it;
        raises `StateUnavailable` when it cannot be recorded."""
        # ASCII JSON: a lone surrogate in a message can still be sealed and stored
        body = self._seals[channel].encrypt(json.dumps(payload).encode()).decode()
        try:
            new = await self._call(self.state.add, channel, update_id, body)
        except Exception as exc:
            log.warning("delivery %s/%s not recorded: %s", channel, update_id, type(exc).__name__)
            DELIVERIES.labels(channel=channel, outcome="unrecorded").inc()
            raise StateUnavailable(str(exc)) from exc
        outcome = "duplicate" if not new else "queued" if self.busy else "new"
        DELIVERIES.labels(channel=channel, outcome=outcome).inc()
        if outcome == "new":
            if self._wake is not None:
                self._wake.set()
            else:  # no sweeper running (a test, a tool): take it now
                sweep = asyncio.create_task(self.sweep())
                self._sweeps.add(sweep)
                sweep.add_done_callback(self._sweeps.discard)
        return new

    async def sweep(self) -> int:
        """Take as many deliveries nobody is running (new ones, or a dead worker's) as there are
        free slots, and start them; how many were started."""
        async with self._sweeping:
            free = self.capacity - len(self._tasks)
            if free <= 0:
                return 0
            deliveries = await self._call(self.state.take, self.consumer, free, self.lease_s)
            for delivery in deliveries:
                await self._start_stored(delivery)
            return len(deliveries)

    async def _start_stored(self, delivery: Delivery) -> None:
        if delivery.channel not in self._handlers:
            return
        try:
            opened = self._seals[delivery.channel].decrypt(delivery.payload.encode())
        except InvalidToken:  # sealed under another secret: nobody can answer it now
            log.error("delivery %s/%s unreadable (channel secret changed?): dropped",
                      delivery.channel, delivery.update_id)  # fmt: skip
            await self._done(delivery)
            return
        DELIVERIES.labels(channel=delivery.channel, outcome="taken").inc()
        self._keep(asyncio.create_task(self._handle(delivery, json.loads(opened))))

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
        if self._sweeps:
            await asyncio.wait(set(self._sweeps), timeout=timeout_s)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        self._threads.shutdown(wait=False)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: Delivery, payload: dict[str, Any]) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(delivery))
        finished = True
        try:
            await self._handlers[delivery.channel](payload)
        except Later as exc:
            finished = False
            DELIVERIES.labels(channel=delivery.channel, outcome="later").inc()
            # debug only: the channel logs the cause once, not at every retry
            log.debug("delivery %s/%s put off: %s", delivery.channel, delivery.update_id, exc)
        except Exception:
            log.exception("handling delivery %s/%s failed", delivery.channel, delivery.update_id)
        finally:
            heartbeat.cancel()
        if finished:
            await self._done(delivery)
        if self._wake is not None:
            self._wake.set()

    async def _heartbeat(self, delivery: Delivery) -> None:
        """Renew the lease every third of it while the handler runs: a slow answer under load
        is not mistaken for a dead worker."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._call(self.state.renew, delivery, self.consumer, self.lease_s)
            except Exception as exc:  # noqa: BLE001 (any backend's failure)
                log.warning("lease of %s/%s not renewed: %s", delivery.channel, delivery.update_id,
                            type(exc).__name__)  # fmt: skip

    async def _done(self, delivery: Delivery) -> None:
        """Mark done, riding out a short outage of the state (a Redis restart)."""
        for pause in (*COMPLETE_BACKOFF_S, None):
            try:
                await self._call(self.state.done, delivery)
                return
            except Exception as exc:  # noqa: BLE001 (any backend's failure)
                if pause is None:
                    log.error("delivery %s/%s answered but not marked done: %s",
                              delivery.channel, delivery.update_id, type(exc).__name__)  # fmt: skip
                    return
                await asyncio.sleep(pause)
