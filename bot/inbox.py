"""Webhook deliveries: recorded before they are acknowledged, answered once, redone after a crash.

A webhook calls `Inbox.receive`; the delivery is claimed in the shared state with its payload
and a lease, the platform gets its 200, and the handler runs in the background. When it ends
the delivery is marked done. If the worker dies first, the lease runs out and any worker's
sweeper (`Inbox.sweep`) takes the delivery over from its stored payload. A duplicate delivery
(the platform retrying, or the same update sent to two workers) finds the claim and does
nothing. If the state cannot be reached the webhook answers 503, so the platform retries later.

At-least-once in one narrow case: a worker that dies after sending its reply but before
`complete` is redone, and the user gets the answer twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.state import Claim, SharedState

log = logging.getLogger("sapxep.inbox")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
COMPLETE_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class StateUnavailable(Exception):
    """The shared state could not record a delivery: do not acknowledge it."""


class Inbox:
    """The delivery log of every channel's webhook, over one `SharedState`."""

    def __init__(self, state: SharedState, lease_s: float = 120.0) -> None:
        self.state = state
        self.lease_s = lease_s
        self._handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler

    async def receive(self, channel: str, update_id: str, payload: dict[str, Any]) -> Claim:
        """Claim a delivery and start its handler if it is new; raises `StateUnavailable`."""
        body = json.dumps(payload, ensure_ascii=False)
        try:
            claim = await asyncio.to_thread(
                self.state.claim, channel, update_id, body, self.lease_s
            )
        except Exception as exc:  # any backend failure means: not recorded, not acknowledged
            log.warning("delivery %s/%s not recorded: %s", channel, update_id, type(exc).__name__)
            raise StateUnavailable(str(exc)) from exc
        if claim is Claim.NEW:
            self._start(channel, update_id, payload)
        return claim

    async def sweep(self) -> int:
        """Take over deliveries whose worker died before finishing; how many were restarted."""
        deliveries = await asyncio.to_thread(self.state.expired, self.lease_s)
        for delivery in deliveries:
            if delivery.channel not in self._handlers:
                continue
            log.warning("redoing delivery %s/%s", delivery.channel, delivery.update_id)
            self._start(delivery.channel, delivery.update_id, json.loads(delivery.payload))
        return len(deliveries)

    async def run_sweeper(self, interval_s: float) -> None:
        """Sweep every `interval_s` seconds until cancelled; failures are logged, not raised."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("sweep failed: %s", type(exc).__name__)

    async def drain(self, timeout_s: float) -> None:
        """Wait for the handlers in progress (on shutdown); the rest are redone by a sweeper."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    def _start(self, channel: str, update_id: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(channel, update_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, channel: str, update_id: str, payload: dict[str, Any]) -> None:
        try:
            await self._handlers[channel](payload)
        except Exception:
            log.exception("handling delivery %s/%s failed", channel, update_id)
        await self._complete(channel, update_id)

    async def _complete(self, channel: str, update_id: str) -> None:
        """Mark done, riding out a short outage of the state (a Redis restart)."""
        for pause in (*COMPLETE_BACKOFF_S, None):
            try:
                await asyncio.to_thread(self.state.complete, channel, update_id)
                return
            except Exception as exc:
                if pause is None:
                    log.error("delivery %s/%s answered but not marked done: %s",
                              channel, update_id, type(exc).__name__)
                    return
                await asyncio.sleep(pause)
