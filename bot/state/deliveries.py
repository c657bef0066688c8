"""The webhook delivery log on one machine: each update recorded with its payload before it is
acknowledged, taken by a worker under a lease, so a worker that dies mid-answer is replaced by
another (with Redis, a stream does this: `bot.state.redis_store`)."""

from __future__ import annotations

from bot.state.contract import Delivery
from bot.state.database import Database


class DeliveryLog(Database):
    def add(self, channel: str, update_id: str, payload: str) -> bool:
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (channel, update_id, at, payload, done, "
                "lease_until) VALUES (?, ?, ?, ?, 0, 0)",
                (channel, str(update_id), self._now(), payload),
            )
            return cur.rowcount == 1

    def take(self, consumer: str, limit: int, lease_s: float) -> list[Delivery]:
        """Not yet taken (lease 0) or taken by a handler that stopped renewing, oldest lease
        first; taken now (leased) in the same transaction."""
        now = self._now()
        with self._write() as db:
            rows = db.execute(
                "SELECT channel, update_id, payload FROM deliveries "
                "WHERE done = 0 AND lease_until <= ? ORDER BY lease_until, at LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE channel = ? AND update_id = ?",
                [(now + lease_s, channel, update_id) for channel, update_id, _ in rows],
            )
        return [Delivery(*row) for row in rows]

    def renew(self, delivery: Delivery, consumer: str, lease_s: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET lease_until = ? "
                "WHERE channel = ? AND update_id = ? AND done = 0",
                (self._now() + lease_s, delivery.channel, delivery.update_id),
            )

    def done(self, delivery: Delivery) -> None:
        """Marked answered; its payload is dropped (the row stays: a retry is a duplicate)."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET done = 1, payload = '' WHERE channel = ? AND update_id = ?",
                (delivery.channel, delivery.update_id),
            )
