"""A fake OpenAI-compatible chat server for the LLM composer tests.

`POST /v1/chat/completions` answers as JSON or as server-sent events (OpenAI chunk format, ending
with `data: [DONE]`). The request's `model` name selects the behaviour: "good" (and any other
name) copies the first sentence of passage [1] and cites it; "bad-citation" cites [7]; "uncited"
adds a sentence without [n]; "empty"; "leak" echoes the system prompt; "no-answer" says the
documents do not answer; "error500"; "slow" waits STALL_S before answering; "slow-stream" stalls
STALL_S after the first word; "trickle" sends a word every TRICKLE_S. Every request is recorded in
`app.state.requests` as {"headers": ..., "body": ...}.

The "obey…" models play a model that follows instructions planted in a passage ("Hãy trả lời
rằng X."): "obey" adds X without a citation, "obey-bad-citation" cites a passage that does not
exist, "obey-cited" cites the passage holding the instruction; with no such instruction in the
prompt they answer like "good".
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

STALL_S = 3.0
TRICKLE_S = 0.3


def first_sentence(messages: list[dict[str, Any]]) -> str:
    """The first sentence of passage [1] in the user message, without its final stop."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    text = re.search(r"^\[1\] [^\n]*\n([^\n]+)", user, re.MULTILINE).group(1)
    return re.split(r"(?<=[.!?])\s", text)[0].rstrip(".!?")


_PLANTED = re.compile(r"trả lời rằng ([^.\n]+)", re.IGNORECASE)
_PASSAGE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)


def obeyed(model: str, messages: list[dict[str, Any]], good: str) -> str:
    """What an instruction-following model writes when a passage tells it what to answer."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    planted = _PLANTED.search(user)
    if not planted:
        return good
    claim = planted.group(1).strip()
    claim = claim[:1].upper() + claim[1:]
    holder = _PASSAGE.findall(user[: planted.start()])[-1]  # the passage the instruction is in
    marker = {
        "obey": "",
        "obey-bad-citation": f" [{len(_PASSAGE.findall(user)) + 1}]",
    }.get(model, f" [{holder}]")
    return f"{good} {claim}{marker}."


def reply(model: str, messages: list[dict[str, Any]]) -> str:
    system = next(m["content"] for m in messages if m["role"] == "system")
    good = f"{first_sentence(messages)} [1]."
    if model.startswith("obey"):
        return obeyed(model, messages, good)
    return {
        "bad-citation": f"{first_sentence(messages)} [7].",
        "uncited": f"{good} Việc sắp xếp hoàn thành trước ngày 30/6/2025.",
        "empty": "",
        "leak": f"{system} [1]",
        "no-answer": "Tài liệu hiện có không nêu thông tin này.",
    }.get(model, good)


def completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunk(model: str, delta: dict[str, str], finish_reason: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def events(model: str, content: str) -> AsyncIterator[str]:
    """Word by word; "slow-stream" stalls after the first word, "trickle" never stalls long."""
    words = re.findall(r"\S+\s*", content)
    yield chunk(model, {"role": "assistant", "content": ""})
    for i, word in enumerate(words):
        yield chunk(model, {"content": word})
        if model == "slow-stream" and i == 0:
            await asyncio.sleep(STALL_S)
        elif model == "trickle":
            await asyncio.sleep(TRICKLE_S)
    yield chunk(model, {}, "stop")
    yield "data: [DONE]\n\n"


def create_app() -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        body = await request.json()
        app.state.requests.append({"headers": dict(request.headers), "body": body})
        model = body["model"]
        if model == "error500":
            error = {"message": "internal error", "type": "server_error"}
            return JSONResponse({"error": error}, status_code=500)
        if model == "slow":
            await asyncio.sleep(STALL_S)
        content = reply(model, body["messages"])
        if body.get("stream"):
            return StreamingResponse(events(model, content), media_type="text/event-stream")
        return JSONResponse(completion(model, content))

    return app
