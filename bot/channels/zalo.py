"""The Zalo Official Account channel: a thin adapter over any `Asker`.

Zalo posts each event to our webhook (`zalo_router`) signed with `X-ZEvent-Signature`; the text
events are recorded (`bot.channels.inbox`), acknowledged with 200, and answered in the background through
the OA API (`ZaloClient.send_text`), refreshing the access token when Zalo calls it invalid or
expired. The refresh token rotates on every refresh, so each new pair is persisted in the shared
state before it is used.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request

from bot.channels.contract import APOLOGY, Asker, Receive, answer_in_order, json_object
from bot.channels.formatting import plain_messages
from bot.state.contract import SharedState

logger = logging.getLogger(__name__)

CHANNEL = "zalo"
ZALO_LIMIT = 2000
SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_EVENT = "user_send_text"
TOKEN_ERRORS = frozenset({-216, -220})  # access token invalid / expired
BACKOFF_S = (0.2, 0.4)  # the pauses between the at most three tries of one request
TIMEOUT_S = 15.0
ADOPT_TRIES, ADOPT_PAUSE_S = 10, 0.1  # after a refused refresh: waiting for a rival's new pair


class ZaloError(Exception):
    """Zalo refused a request; the message carries Zalo's error code, never a token."""


@dataclass
class ZaloSettings:
    """The OA's credentials (kept out of `repr`) and the API locations."""

    app_id: str
    oa_secret_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    api_base_url: str = "https://openapi.zalo.me"
    oauth_base_url: str = "https://oauth.zaloapp.com"


def verify_signature(settings: ZaloSettings, raw_body: bytes, timestamp: str, header: str) -> bool:
    """True when `header` is "mac=" + sha256(app_id + raw body + timestamp + OA secret key).

    `timestamp` is the payload's own "timestamp" field; the comparison takes constant time.
    """
    digest = hashlib.sha256(
        settings.app_id.encode() + raw_body + timestamp.encode() + settings.oa_secret_key.encode()
    ).hexdigest()
    return hmac.compare_digest(f"mac={digest}".encode(), header.strip().encode())


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _body(response: httpx.Response | None) -> dict[str, Any]:
    """The JSON object Zalo answered, or {} when there is none."""
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(response: httpx.Response | None) -> int | None:
    """Zalo's "error" field (0 = success), or None when no answer carries one."""
    code = _body(response).get("error")
    return code if isinstance(code, int) else None


class ZaloClient:
    """The OA API calls the bot needs: send a text, refresh the access token."""

    def __init__(
        self, settings: ZaloSettings, store: SharedState, client: httpx.AsyncClient | None = None
    ) -> None:
        self._settings = settings
        self._store = store
        self._http = client or httpx.AsyncClient(timeout=TIMEOUT_S)
        self._owns_http = client is None
        saved = store.tokens(CHANNEL) or {}  # persisted tokens win: the initial ones rotate away
        self._access = saved.get("access_token", settings.access_token)
        self._refresh = saved.get("refresh_token", settings.refresh_token)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def send_text(self, user_id: str, text: str) -> bool:
        """Send one text message; True once Zalo accepted it.

        On error -216/-220 the token is renewed once and the message retried. Failures (retries
        exhausted, refresh refused, any other Zalo error) are logged, never raised.
        """
        token = self._access
        error = await self._send(user_id, text, token)
        if error in TOKEN_ERRORS:
            try:
                await self._renew(token)
            except ZaloError as exc:
                logger.error("Zalo message not sent: %s", exc)
                return False
            error = await self._send(user_id, text, self._access)
        if error != 0:
            logger.warning("Zalo message not sent: error %s", error)
        return error == 0

    async def refresh(self) -> None:
        """Trade the refresh token for a new pair, persisted before use; ZaloError if refused."""
        async with self._lock:
            await self._refresh_locked()

    async def _send(self, user_id: str, text: str, token: str) -> int | None:
        """POST message/cs; Zalo's error code (0 = sent), None when no usable answer came."""
        response = await self._post(
            f"{self._settings.api_base_url}/v3.0/oa/message/cs",
            headers={"access_token": token},
            json={"recipient": {"user_id": user_id}, "message": {"text": text}},
        )
        return _error_code(response)

    async def _renew(self, stale: str) -> None:
        """Replace the `stale` access token: adopt a newer one saved meanwhile (by another task
        or process, whose refresh already spent our refresh token), else refresh. A refresh
        refused because another instance refreshed at the same moment adopts that one's pair."""
        async with self._lock:
            if await self._adopt_newer(stale):
                return
            try:
                await self._refresh_locked()
            except ZaloError:
                # the winner may still be saving its pair: look again for a moment
                for _ in range(ADOPT_TRIES):
                    await asyncio.sleep(ADOPT_PAUSE_S)
                    if await self._adopt_newer(stale):
                        return
                raise

    async def _adopt_newer(self, stale: str) -> bool:
        saved = await asyncio.to_thread(self._store.tokens, CHANNEL) or {}
        if saved.get("access_token", stale) == stale:
            return False
        self._access, self._refresh = saved["access_token"], saved["refresh_token"]
        return True

    async def _refresh_locked(self) -> None:
        """The refresh itself; the caller holds `_lock`."""
        response = await self._post(
            f"{self._settings.oauth_base_url}/v4/oa/access_token",
            headers={"secret_key": self._settings.app_secret},
            data={
                "refresh_token": self._refresh,
                "app_id": self._settings.app_id,
                "grant_type": "refresh_token",
            },
        )
        body = _body(response)
        if not {"access_token", "refresh_token"} <= body.keys():
            raise ZaloError(f"token refresh refused (error {body.get('error')})")
        tokens = {key: str(body[key]) for key in ("access_token", "refresh_token")}
        await asyncio.to_thread(self._store.save_tokens, CHANNEL, tokens)
        self._access, self._refresh = tokens["access_token"], tokens["refresh_token"]

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response | None:
        """POST, retrying HTTP 429/5xx and transport errors with backoff (at most
        `len(BACKOFF_S) + 1` tries); None when every try failed."""
        for pause in (*BACKOFF_S, None):
            try:
                response = await self._http.post(url, **kwargs)
                if not _retryable(response.status_code):
                    return response
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            if pause is not None:
                await asyncio.sleep(pause)
        logger.warning("Zalo %s: giving up after %d tries (%s)", url, len(BACKOFF_S) + 1, problem)
        return None


def text_event(payload: dict[str, Any]) -> tuple[str, str, str] | None:
    """(msg_id, sender, text) of a "user_send_text" event; None for other or incomplete events."""
    if payload.get("event_name") != TEXT_EVENT:
        return None
    message = payload.get("message")
    sender = payload.get("sender")
    if not isinstance(message, dict) or not isinstance(sender, dict):
        return None
    msg_id, text, user = message.get("msg_id"), message.get("text"), sender.get("id")
    if not (msg_id and text and user) or not isinstance(text, str):
        logger.warning("Zalo text event without sender, text or msg_id: ignored")
        return None
    return str(msg_id), str(user), text


class ZaloBot:
    """Answers the OA's users through an `Asker`."""

    def __init__(self, asker: Asker, client: ZaloClient) -> None:
        self._asker = asker
        self._client = client

    async def handle(self, payload: dict[str, Any]) -> None:
        """Answer a recorded "user_send_text" event; other events are ignored."""
        event = text_event(payload)
        if event:
            await self.reply(event[1], event[2], message=event[0])

    async def reply(self, sender: str, text: str, message: str) -> None:
        """Ask, then send the plain-text answer in pieces, in order."""
        await answer_in_order(
            self._asker,
            text,
            f"zalo:{sender}",
            message,
            lambda answer: plain_messages(answer, ZALO_LIMIT),
            partial(self._client.send_text, sender),
            APOLOGY,
        )


"""`receive(channel, delivery id, payload)`: records the delivery and starts its handler."""


_ZALO_SCHEMA = {
    "parameters": [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
         "description": "mac=sha256(app_id + raw body + timestamp + OA secret key)"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["event_name", "timestamp"],
        "properties": {
            "event_name": {"type": "string", "example": TEXT_EVENT},
            "timestamp": {"type": "string"},
            "sender": {"type": "object", "properties": {"id": {"type": "string"}}},
            "message": {
                "type": "object",
                "properties": {"msg_id": {"type": "string"}, "text": {"type": "string"}},
            },
        },
    }}}},
}  # fmt: skip
_ZALO_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "không phải JSON/đối tượng"},
    401: {"description": "sai chữ ký"},
    503: {"description": "chưa ghi nhận được, Zalo sẽ gửi lại"},
}


def zalo_router(settings: ZaloSettings, receive: Receive) -> APIRouter:
    """`POST /webhooks/zalo`: 400 on bad JSON, 401 on a missing or wrong signature, else the text
    event is recorded (by `receive`, keyed on msg_id, so a retry is answered once) and 200."""
    router = APIRouter()

    @router.post("/webhooks/zalo", openapi_extra=_ZALO_SCHEMA, responses=_ZALO_RESPONSES)
    async def zalo_webhook(request: Request) -> dict[str, bool]:
        raw = await request.body()
        payload = json_object(raw)
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(settings, raw, str(payload.get("timestamp", "")), header):
            raise HTTPException(401, "chữ ký không đúng")
        event = text_event(payload)
        if event:
            await receive(CHANNEL, event[0], payload)
        return {"ok": True}

    return router
