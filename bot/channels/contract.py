"""The one input/output contract every channel adapts: a question in, an `Answer` out, and the
callback a webhook hands a verified update to; with what the webhook channels share around it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException

from bot.answer.models import Answer
from prompts import template

log = logging.getLogger(__name__)
Piece = TypeVar("Piece")

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


def json_object(raw: bytes) -> dict[str, Any]:
    """A webhook's body as a JSON object; 400 when it is not one."""
    try:
        payload = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "nội dung không phải JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "cần một đối tượng JSON")
    return payload


async def answer_in_order(
    asker: Asker,
    question: str,
    conversation: str,
    message: str,
    pieces: Callable[[Answer], list[Piece]],
    send: Callable[[Piece], Awaitable[bool]],
    apology: Piece,
) -> None:
    """Ask off the event loop (the Asker rate-limits and logs), then `send` the answer's
    `pieces` in order, stopping at the first not delivered (a gap would garble the answer);
    `apology` when the Asker fails."""
    try:
        answer = await asyncio.to_thread(asker.ask, question, conversation, message)
    except Exception:
        log.exception("the Asker failed on a message of %s", conversation.split(":", 1)[0])
        await send(apology)
        return
    for piece in pieces(answer):
        if not await send(piece):
            break
