"""Per-user rate limits over a sliding window."""

from __future__ import annotations

from bot.state.database import Database


class RateLimits(Database):
    def allow(
        self, user_hash: str, limit: int = 20, window_s: float = 60.0, now: float | None = None
    ) -> bool:
        """Sliding-window rate limit: True (and the hit recorded) while the user has fewer than
        `limit` hits in the last `window_s` seconds. Refused attempts are not recorded, so a
        user who keeps trying is let back in once the window has passed."""
        now = self._now(now)
        with self._write() as db:
            db.execute(
                "DELETE FROM rate_hits WHERE user_hash = ? AND at <= ?",
                (user_hash, now - window_s),
            )
            (hits,) = db.execute(
                "SELECT COUNT(*) FROM rate_hits WHERE user_hash = ?", (user_hash,)
            ).fetchone()
            if hits >= limit:
                return False
            db.execute("INSERT INTO rate_hits (user_hash, at) VALUES (?, ?)", (user_hash, now))
            return True
