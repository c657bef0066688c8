"""A fake Zalo OA API (message/cs) and OAuth server (v4 access_token) for the Zalo tests.

`create_app(fake)` serves a `FakeZalo`: message/cs accepts only the current access token
(a stale one gets -216, or whatever `expire(code)` chose); access_token checks the `secret_key`
header and the form, and issues a new access token with a new, rotated refresh token, refusing
a refresh token already spent. `fail(status, times)` makes the next calls (or all of them) answer
that HTTP status. Every request is recorded in `fake.requests`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

APP_ID = "1234567890"
APP_SECRET = "app-secret-TEST"
OA_SECRET_KEY = "oa-secret-TEST"
SENDER = "8420000000001"
MESSAGE_PATH = "/v3.0/oa/message/cs"
TOKEN_PATH = "/v4/oa/access_token"


@dataclass
class FakeZalo:
    """The fake's state: valid tokens, failure mode, recorded requests."""

    access_token: str = "access-0"
    refresh_token: str = "refresh-0"
    requests: list[dict[str, Any]] = field(default_factory=list)
    token_error: int = -216
    _generation: int = 0
    _fail_status: int = 0
    _fail_left: float = 0

    def expire(self, code: int = -216) -> None:
        """Invalidate the current access token; message/cs answers `code` to it."""
        self.access_token, self.token_error = "", code

    def fail(self, status: int, times: float = float("inf")) -> None:
        """Answer the next `times` calls (default: all) with HTTP `status`."""
        self._fail_status, self._fail_left = status, times

    def calls(self, path: str) -> list[dict[str, Any]]:
        """The recorded requests to `path`, in order."""
        return [r for r in self.requests if r["path"] == path]

    def texts(self) -> list[str]:
        """The texts of the messages accepted, in order."""
        return [r["json"]["message"]["text"] for r in self.calls(MESSAGE_PATH) if r["accepted"]]

    def failing(self) -> int:
        """The HTTP status to answer with now (0 when not failing); counts one failure down."""
        if self._fail_left <= 0:
            return 0
        self._fail_left -= 1
        return self._fail_status

    def issue(self) -> dict[str, str]:
        """A new access token and a new refresh token; the old refresh token is spent."""
        self._generation += 1
        self.access_token = f"access-{self._generation}"
        self.refresh_token = f"refresh-{self._generation}"
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": "90000",
        }


def create_app(fake: FakeZalo) -> FastAPI:
    """The HTTP face of `fake`."""
    app = FastAPI()

    @app.post(MESSAGE_PATH)
    async def message_cs(request: Request) -> JSONResponse:
        record = {"path": MESSAGE_PATH, "access_token": request.headers.get("access_token")}
        record |= {"json": json.loads(await request.body()), "accepted": False}
        fake.requests.append(record)
        if status := fake.failing():
            return JSONResponse({"error": status, "message": "failure"}, status_code=status)
        if not fake.access_token or record["access_token"] != fake.access_token:
            return JSONResponse({"error": fake.token_error, "message": "Access token is invalid"})
        record["accepted"] = True
        message_id = hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()
        return JSONResponse({"error": 0, "message": "Success", "data": {"message_id": message_id}})

    @app.post(TOKEN_PATH)
    async def access_token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        record = {"path": TOKEN_PATH, "secret_key": request.headers.get("secret_key")}
        fake.requests.append(record | {"form": form})
        if status := fake.failing():
            return JSONResponse({"error": status}, status_code=status)
        if record["secret_key"] != APP_SECRET or form.get("app_id") != APP_ID:
            return JSONResponse({"error": -14002, "error_name": "Invalid app"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
            fake.refresh_token
        ):
            return JSONResponse({"error": -14014, "error_name": "Invalid refresh token"})
        return JSONResponse(fake.issue())

    return app


def text_event(msg_id: str, text: str, sender: str = SENDER) -> dict[str, Any]:
    """A "user_send_text" webhook event as Zalo posts it."""
    return {
        "app_id": APP_ID,
        "user_id_by_app": "552177279717587730",
        "event_name": "user_send_text",
        "timestamp": str(int(time.time() * 1000)),
        "sender": {"id": sender},
        "recipient": {"id": "579745863508352884"},
        "message": {"msg_id": msg_id, "text": text},
    }


def sign(raw_body: bytes, timestamp: str) -> str:
    """X-ZEvent-Signature for a body, computed here independently of bot.channels.zalo."""
    data = APP_ID.encode() + raw_body + timestamp.encode() + OA_SECRET_KEY.encode()
    return "mac=" + hashlib.sha256(data).hexdigest()
