"""The state every worker and instance of the service must share, whatever holds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """A recorded webhook delivery whose handler has not finished."""

    channel: str
    update_id: str
    payload: str
    ref: str = ""  # the backend's own handle on it (a Redis stream entry id)


class SharedState(Protocol):
    """The state every worker and instance of the service must share."""

    def hash_user(self, channel: str, user_id: str) -> str: ...

    def add(self, channel: str, update_id: str, payload: str) -> bool:
        """Record a webhook delivery (before it is acknowledged); False when it was recorded
        already (the platform retrying, or the same update sent to two workers)."""
        ...

    def take(self, consumer: str, limit: int, lease_s: float) -> list[Delivery]:
        """Up to `limit` deliveries nobody is handling: new ones, and those whose handler has
        not renewed its lease for `lease_s` (a dead worker's). They are `consumer`'s until
        `done`, or until its lease runs out in turn."""
        ...

    def renew(self, delivery: Delivery, consumer: str, lease_s: float) -> None:
        """The handler is alive: restart the lease."""
        ...

    def done(self, delivery: Delivery) -> None:
        """Answered: never handed out again."""
        ...

    def allow(self, user_hash: str, limit: int = 20, window_s: float = 60.0) -> bool: ...

    def last_turn(self, conversation: str) -> tuple[str, str] | None: ...

    def remember_turn(self, conversation: str, question: str, mode: str) -> None: ...

    def tokens(self, name: str) -> dict[str, str] | None: ...

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None: ...

    def ping(self) -> bool:
        """Whether the backend answers now (quickly: used by /healthz)."""
        ...

    def close(self) -> None: ...
