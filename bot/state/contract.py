"""The state every worker and instance of the service must share, whatever holds it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Claim(enum.Enum):
    """What `claim` found: a delivery to handle now, one already answered, or one another
    worker is handling (its lease not yet expired)."""

    NEW = "new"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Delivery:
    """A recorded webhook delivery whose handler has not finished."""

    channel: str
    update_id: str
    payload: str


class SharedState(Protocol):
    """The state every worker and instance of the service must share."""

    def hash_user(self, channel: str, user_id: str) -> str: ...

    def claim(self, channel: str, update_id: str, payload: str, lease_s: float) -> Claim: ...

    def renew(self, channel: str, update_id: str, lease_s: float) -> None: ...

    def complete(self, channel: str, update_id: str) -> None: ...

    def expired(self, lease_s: float, limit: int = 50) -> list[Delivery]: ...

    def allow(self, user_hash: str, limit: int = 20, window_s: float = 60.0) -> bool: ...

    def last_turn(self, conversation: str) -> tuple[str, str] | None: ...

    def remember_turn(self, conversation: str, question: str, mode: str) -> None: ...

    def tokens(self, name: str) -> dict[str, str] | None: ...

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None: ...

    def ping(self) -> bool:
        """Whether the backend answers now (quickly: used by /healthz)."""
        ...

    def close(self) -> None: ...
