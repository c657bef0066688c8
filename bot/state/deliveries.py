"""The webhook delivery log: each update recorded with its payload and a lease before it is
acknowledged, so a worker that dies mid-answer is replaced by another."""

from __future__ import annotations

from bot.state.contract import Claim, Delivery
from bot.state.database import Database


class DeliveryLog(Database):
    def claim(self, channel: str, update_id: str, payload: str, lease_s: float) -> Claim:
        """Record a webhook delivery with its payload before it is acknowledged.

        NEW: the caller handles it and calls `complete`; its lease lets another worker redo it
        (`expired`) if the caller dies first. DONE: answered already. BUSY: another worker
        holds a live lease. A delivery whose lease ran out is taken over (NEW)."""
        now = self._now()
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (channel, update_id, at, payload, done, "
                "lease_until) VALUES (?, ?, ?, ?, 0, ?)",
                (channel, str(update_id), now, payload, now + lease_s),
            )
            if cur.rowcount == 1:
                return Claim.NEW
            done, lease_until = db.execute(
                "SELECT done, lease_until FROM deliveries WHERE channel = ? AND update_id = ?",
                (channel, str(update_id)),
            ).fetchone()
            if done:
                return Claim.DONE
            if lease_until > now:
                return Claim.BUSY
            db.execute(
                "UPDATE deliveries SET lease_until = ? WHERE channel = ? AND update_id = ?",
                (now + lease_s, channel, str(update_id)),
            )
            return Claim.NEW

    def renew(self, channel: str, update_id: str, lease_s: float) -> None:
        """Extend the lease of a delivery still being handled (the handler's heartbeat)."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET lease_until = ? "
                "WHERE channel = ? AND update_id = ? AND done = 0",
                (self._now() + lease_s, channel, str(update_id)),
            )

    def complete(self, channel: str, update_id: str) -> None:
        """Mark a claimed delivery answered; its payload is dropped."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET done = 1, payload = '' WHERE channel = ? AND update_id = ?",
                (channel, str(update_id)),
            )

    def expired(self, lease_s: float, limit: int = 50) -> list[Delivery]:
        """Take over (renewing their lease) up to `limit` deliveries whose handler died."""
        now = self._now()
        with self._write() as db:
            rows = db.execute(
                "SELECT channel, update_id, payload FROM deliveries "
                "WHERE done = 0 AND lease_until <= ? ORDER BY lease_until LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE channel = ? AND update_id = ?",
                [(now + lease_s, channel, update_id) for channel, update_id, _ in rows],
            )
        return [Delivery(*row) for row in rows]
