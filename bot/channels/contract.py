"""The one input/output contract every channel adapts: a question in, an `Answer` out, and the
callback a webhook hands a verified update to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.answer.models import Answer
from prompts import template

APOLOGY = template("chat.apology")
"""What a channel sends when answering failed."""

Receive = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""`receive(channel, update_id, payload)`: record a verified delivery before it is acknowledged."""


class Asker(Protocol):
    """Question in, Answer out (the real one is `bot.channels.logged.LoggedResponder`)."""

    def ask(self, question: str, conversation: str | None = None, message: str | None = None) -> Answer:
        """`message` names the platform's message (chat and message id): answering it again
        after a crash gives the same `answer_id`, so the question log holds it once."""
        ...
