"""A stand-in Graph API (Send API and `GET /me`) for the Facebook tests, and the webhook events
Facebook posts.

`create_app(fake)` serves a `FakeFacebook` under `/{VERSION}`: `POST /me/messages` accepts only
the Page token in the `access_token` query parameter and checks a message as Facebook does (a
recipient, `messaging_type`, text of at most 2,000 characters, at most 13 quick replies with
labels of at most 20); `refuse_token()` makes every call answer error 190 until
`accept_token()`; `fail(code, times)` answers the next sends with Graph error `code` (4 and 613
are rate limits). Every request is recorded in `fake.requests`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

VERSION = "v21.0"
PAGE_ID = "104857600000001"
PAGE_TOKEN = "EAAPageAccessToken-TEST-5f1c"
APP_SECRET = "fb-app-secret-TEST"
VERIFY_TOKEN = "fb-verify-token-TEST"
PSID = "7301000000000001"
MESSAGES_PATH = f"/{VERSION}/me/messages"
ME_PATH = f"/{VERSION}/me"
TEXT_LIMIT, QUICK_REPLIES, TITLE_LIMIT = 2000, 13, 20
ERRORS = {
    4: "(#4) Application request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    551: "(#551) This person isn't available right now.",
}


def graph_error(code: int, message: str, status: int = 400) -> JSONResponse:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    return JSONResponse({"error": error}, status_code=status)


@dataclass
class FakeFacebook:
    """The fake's state: the Page token it accepts, its failure mode, the requests it got."""

    token: str = PAGE_TOKEN
    requests: list[dict[str, Any]] = field(default_factory=list)
    refusing: bool = False
    _fail_code: int = 0
    _fail_left: float = 0

    def refuse_token(self) -> None:
        self.refusing = True

    def accept_token(self) -> None:
        self.refusing = False

    def fail(self, code: int = 613, times: float = 1) -> None:
        """Answer the next `times` sends (`inf`: all) with Graph error `code`."""
        self._fail_code, self._fail_left = code, times

    def calls(self, path: str = MESSAGES_PATH) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def sent(self, psid: str | None = None) -> list[dict[str, Any]]:
        """The messages accepted (the `message` objects), in order; only to `psid` if given."""
        return [
            r["json"]["message"]
            for r in self.calls()
            if r["accepted"] and (psid is None or r["json"]["recipient"]["id"] == psid)
        ]

    def texts(self, psid: str | None = None) -> list[str]:
        return [m["text"] for m in self.sent(psid)]

    def check(self, record: dict[str, Any]) -> JSONResponse | None:
        """The error Facebook would answer to this send, or None."""
        if self.refusing or record["access_token"] != self.token:
            return graph_error(190, "Error validating access token: the session is invalid.")
        if self._fail_left > 0:
            self._fail_left -= 1
            return graph_error(self._fail_code, ERRORS.get(self._fail_code, "Unknown error"))
        body = record["json"]
        message = body.get("message") or {}
        replies = message.get("quick_replies", [])
        if not body.get("recipient", {}).get("id") or body.get("messaging_type") != "RESPONSE":
            return graph_error(100, "(#100) The parameter recipient is required")
        if not message.get("text") or len(message["text"]) > TEXT_LIMIT:
            return graph_error(100, "(#100) Length of param message[text] must be at most 2000")
        if len(replies) > QUICK_REPLIES or any(len(r["title"]) > TITLE_LIMIT for r in replies):
            return graph_error(100, "(#100) param message[quick_replies] is invalid")
        return None


def create_app(fake: FakeFacebook) -> FastAPI:
    """The HTTP face of `fake`."""
    app = FastAPI()

    @app.post(MESSAGES_PATH)
    async def send(request: Request) -> JSONResponse:
        record = {"path": MESSAGES_PATH, "access_token": request.query_params.get("access_token")}
        record |= {"json": json.loads(await request.body()), "accepted": False}
        fake.requests.append(record)
        if refused := fake.check(record):
            return refused
        record["accepted"] = True
        message_id = "m_" + hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()
        recipient = record["json"]["recipient"]["id"]
        return JSONResponse({"recipient_id": recipient, "message_id": message_id})

    @app.get(ME_PATH)
    async def me(request: Request) -> JSONResponse:
        token = request.query_params.get("access_token")
        fake.requests.append({"path": ME_PATH, "access_token": token})
        if fake.refusing or token != fake.token:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        return JSONResponse({"id": PAGE_ID, "name": "Trang thử nghiệm"})

    return app


# --- what Facebook posts to the webhook -----------------------------------------------------------


def sign(raw_body: bytes, secret: str = APP_SECRET) -> str:
    """X-Hub-Signature-256 for a body, computed here independently of bot.channels.facebook."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def _item(psid: str, **event: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": now, **event}


def text_item(mid: str, text: str, psid: str = PSID, payload: str = "") -> dict[str, Any]:
    """A text message (with the payload of the quick reply tapped, if any)."""
    message: dict[str, Any] = {"mid": mid, "text": text}
    if payload:
        message["quick_reply"] = {"payload": payload}
    return _item(psid, message=message)


def postback_item(mid: str, title: str, payload: str, psid: str = PSID) -> dict[str, Any]:
    return _item(psid, postback={"mid": mid, "title": title, "payload": payload})


def attachment_item(mid: str, psid: str = PSID, sticker: bool = False) -> dict[str, Any]:
    url = {"url": "https://scontent.xx.fbcdn.net/v/photo.jpg"}
    message: dict[str, Any] = {"mid": mid, "attachments": [{"type": "image", "payload": url}]}
    if sticker:
        message["sticker_id"] = 369239263222822
    return _item(psid, message=message)


def echo_item(mid: str, text: str, psid: str = PSID) -> dict[str, Any]:
    """The Page's own message, echoed back (sender and recipient swapped)."""
    item = _item(PAGE_ID, message={"mid": mid, "text": text, "is_echo": True, "app_id": 1})
    return item | {"recipient": {"id": psid}}


def delivery_item(psid: str = PSID) -> dict[str, Any]:
    return _item(psid, delivery={"mids": ["m_seen"], "watermark": int(time.time() * 1000)})


def read_item(psid: str = PSID) -> dict[str, Any]:
    return _item(psid, read={"watermark": int(time.time() * 1000)})


def webhook_body(*entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A Page webhook POST: one entry per list of messaging items."""
    now = int(time.time() * 1000)
    entry = [{"id": PAGE_ID, "time": now, "messaging": items} for items in entries]
    return {"object": "page", "entry": entry}


def signed(body: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, {"X-Hub-Signature-256": sign(raw, secret), "Content-Type": "application/json"}
