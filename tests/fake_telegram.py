"""A fake Telegram Bot API server for the Telegram channel tests.

`POST /bot{token}/{method}` answers getMe, sendMessage, sendChatAction, answerCallbackQuery,
setWebhook, deleteWebhook and getUpdates in Telegram's {"ok": …, "result": …} format, with the
parameters sent as JSON or URL-encoded (python-telegram-bot sends forms whose non-string values
are JSON; no file uploads). Like Telegram, sendMessage refuses (400) HTML that does not parse and
texts over 4096 characters once parsed. Every call is recorded in `app.state.calls` as
{"method", "params", "ok", "at"}; `app.state.updates` is the queue getUpdates serves (honouring `offset`,
long polling briefly). Status codes put in `app.state.faults` are answered, one each, to the next
sendMessage calls instead of sending (429 with a retry_after of `app.state.retry_after`).
`app.state.answers` counts, per chat id, the messages sent with buttons: the last (or only)
piece of each answer.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Sắp xếp", "username": "sapxep_test_bot"}
USER = {"id": 7, "is_bot": False, "first_name": "An", "language_code": "vi"}
CHAT = {"id": 42, "type": "private", "first_name": "An"}
MAX_TEXT = 4096
LONG_POLL_S = 0.3
JSON_FIELDS = {"reply_markup", "reply_parameters", "entities", "allowed_updates"}
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a"}
_TOKEN = re.compile(r"<(/?)([a-z-]+)(?:\s[^<>]*)?>|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);|[<>&]")


def parse_html(text: str) -> str:
    """The text Telegram shows for an HTML message; ValueError where Telegram would answer 400."""
    stack: list[str] = []
    for token in _TOKEN.finditer(text):
        closing, tag = token.group(1), token.group(2)
        if tag is None:
            if token.group() in "<>&":
                raise ValueError(f"can't parse entities: unexpected {token.group()!r}")
        elif tag not in TAGS:
            raise ValueError(f"can't parse entities: unsupported tag {tag!r}")
        elif not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise ValueError(f"can't parse entities: unmatched end tag {tag!r}")
    if stack:
        raise ValueError(f"can't parse entities: unclosed tag {stack[-1]!r}")
    return html.unescape(re.sub(r"<[^<>]*>", "", text))


def message_update(update_id: int, text: str, *, chat: dict[str, Any] = CHAT) -> dict[str, Any]:
    """An update with a user's text message; a leading /command gets its bot_command entity."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": chat,
        "from": USER,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, data: str, *, message_id: int = 1) -> dict[str, Any]:
    """An update with a press on an inline button of the bot's message `message_id`."""
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": CHAT,
        "from": BOT_USER,
        "text": "…",
    }
    query = {"id": f"cb{update_id}", "from": USER, "chat_instance": "ci-42", "data": data}
    return {"update_id": update_id, "callback_query": {**query, "message": message}}


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )


async def _params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return await request.json()
    form = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    return {k: json.loads(v) if k in JSON_FIELDS else v for k, v in form}


def create_app(token: str = TOKEN) -> FastAPI:
    app = FastAPI()
    app.state.calls = []
    app.state.updates = []
    app.state.message_ids = iter(range(1000, 10**9))
    app.state.faults = []
    app.state.answers = Counter()
    app.state.retry_after = 1
    app.state.down = 0  # getMe calls answered 502 first, as a Telegram that is down would

    def send_message(params: dict[str, Any]) -> JSONResponse:
        if app.state.faults:
            code = app.state.faults.pop(0)
            if code == 429:
                return JSONResponse(
                    {"ok": False, "error_code": 429, "description": "Too Many Requests",
                     "parameters": {"retry_after": app.state.retry_after}},
                    status_code=429,
                )
            return _error(code, "Internal Server Error")
        text = str(params.get("text", ""))
        if not str(params.get("chat_id", "")).lstrip("-").isdigit():
            return _error(400, "Bad Request: chat not found")
        if params.get("parse_mode") == "HTML":
            try:
                text = parse_html(text)
            except ValueError as exc:
                return _error(400, f"Bad Request: {exc}")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        message = {
            "message_id": next(app.state.message_ids),
            "date": int(time.time()),
            "chat": {**CHAT, "id": int(params["chat_id"])},
            "from": BOT_USER,
            "text": text,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return _ok(message)

    async def get_updates(params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset", 0))
        app.state.updates[:] = [u for u in app.state.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), LONG_POLL_S)
        while not app.state.updates and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return _ok(list(app.state.updates))

    @app.post("/bot{bot_token}/{method}")
    async def call(bot_token: str, method: str, request: Request) -> JSONResponse:
        if bot_token != token:
            return _error(401, "Unauthorized")
        try:
            params = await _params(request)
        except ClientDisconnect:  # a sender killed mid-request (the kill -9 test): Telegram shrugs
            return _error(400, "Bad Request: client disconnected")
        call = {"method": method, "params": params, "ok": True, "at": time.monotonic()}
        app.state.calls.append(call)
        match method:
            case "getMe":
                if app.state.down > 0:
                    app.state.down -= 1
                    return _error(502, "Bad Gateway")
                return _ok(BOT_USER)
            case "sendMessage":
                response = send_message(params)
                call["ok"] = response.status_code == 200
                if call["ok"] and "reply_markup" in params:
                    app.state.answers[int(params["chat_id"])] += 1
                return response
            case "getUpdates":
                return await get_updates(params)
            case "sendChatAction" | "answerCallbackQuery" | "setWebhook" | "deleteWebhook":
                return _ok(True)
        return _error(404, "Not Found")

    return app
