"""Persistent state in one SQLite file: the webhook delivery log, rate limits, conversations
and the Zalo token store.

`StateStore` implements `SharedState` for one machine; `bot.state.redis_store.RedisState` does
it for many. The question log lives in the SQL database (`bot.state.questionlog`).
"""

from __future__ import annotations

from bot.state.conversations import Conversations
from bot.state.deliveries import DeliveryLog
from bot.state.limits import RateLimits
from bot.state.tokens import TokenStore


class StateStore(DeliveryLog, RateLimits, Conversations, TokenStore):
    """Every store of this package over one SQLite file (see `bot.state.database`)."""
