"""The Facebook Messenger channel (a Page): a thin adapter over any `Asker`.

Facebook checks the webhook once with a GET handshake (`hub.verify_token`), then posts batches of
events signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body under the app secret). Each
event that wants a reply (a text, a quick reply or postback tapped, an attachment) is recorded
(`bot.channels.inbox`) keyed on its `mid`, acknowledged with 200, and answered in the background
through the Send API (`FacebookClient.send`). A Page token Facebook refuses (code 190), or a
rate limit or outage that outlasts the backoff, puts the delivery off (`Later`) instead of losing
it, and the channel's status ("ok", "degraded") goes to `report` for `/healthz`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from bot.answer.models import Answer
from bot.channels.contract import APOLOGY, Asker, Receive, answer_in_order, json_object
from bot.channels.formatting import plain_messages, suggested_questions
from bot.channels.inbox import Later
from prompts import template

logger = logging.getLogger(__name__)

CHANNEL = "facebook"
FACEBOOK_LIMIT = 2000
SIGNATURE_HEADER = "X-Hub-Signature-256"
TOKEN_INVALID = 190
# temporary Graph errors (1, 2) and rate limits (4 app, 17 user, 32 page, 613 Send API)
RETRIED_CODES = frozenset({1, 2, 4, 17, 32, 613})
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # pauses between the at most six tries of one message
TIMEOUT_S = 15.0
ASK = "ask:"  # a suggested question's payload: the question itself after the prefix
VOTE = re.compile(r"fb:([01]):([0-9a-f]{1,64})")  # 👍/👎: helpful, answer id
THANKS = template("chat.thanks")
NOT_TEXT = template("chat.not_text")
GREETING = template("chat.greeting")

Report = Callable[[str], None]
"""`report(status)`: the channel is "ok" or "degraded", called when that changes."""
FeedbackHook = Callable[[str, str, bool], None]
"""`on_feedback(answer_id, psid, helpful)`, called on a thread."""


@dataclass
class FacebookSettings:
    """The Page's secrets (kept out of `repr`) and the Graph API location."""

    page_access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    api_base_url: str = "https://graph.facebook.com/v21.0"


def verify_signature(app_secret: str, raw_body: bytes, header: str) -> bool:
    """True when `header` is "sha256=" + HMAC-SHA256(app secret, raw body), compared in constant
    time; never without a secret."""
    digest = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    given = header.strip().encode()
    return bool(app_secret) and hmac.compare_digest(f"sha256={digest}".encode(), given)


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One messaging event that wants a reply."""

    mid: str
    sender: str  # the page-scoped id (PSID) of the resident
    text: str = ""  # what was typed, or the label tapped
    payload: str = ""  # what a quick reply or postback carries
    attachment: bool = False  # an image, a file, a voice message: nothing to read


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_event(messaging: Any) -> Event | None:
    """The event in one `entry[].messaging[]` item; None for what gets no reply: echoes of the
    Page's own messages, delivery and read receipts, stickers, reactions, incomplete events."""
    item = _object(messaging)
    sender = _text(_object(item.get("sender")).get("id"))
    message, postback = _object(item.get("message")), _object(item.get("postback"))
    if message and not message.get("is_echo") and not message.get("sticker_id"):
        text = _text(message.get("text"))
        payload = _text(_object(message.get("quick_reply")).get("payload"))
        attachment = not text and bool(message.get("attachments"))
        event = Event(_text(message.get("mid")), sender, text, payload, attachment)
    elif postback:
        # a postback's mid is recent in the Graph API: before it, the sender's timestamp
        mid = _text(postback.get("mid")) or f"postback:{sender}:{_text(item.get('timestamp'))}"
        event = Event(mid, sender, _text(postback.get("title")), _text(postback.get("payload")))
    else:
        return None
    if not (event.mid and event.sender and (event.text or event.payload or event.attachment)):
        return None
    return event


def events(body: dict[str, Any]) -> Iterator[tuple[Event, dict[str, Any]]]:
    """Every event of a Page webhook POST that wants a reply, with the item it came in."""
    if body.get("object") != "page":
        return
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        items = _object(entry).get("messaging")
        for item in items if isinstance(items, list) else []:
            event = parse_event(item)
            if event is not None:
                yield event, item


# --- the Send API ---------------------------------------------------------------------------------


def _error_code(response: httpx.Response) -> int | None:
    """The Graph API's `error.code`, or None when the answer carries none."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = _object(_object(body).get("error")).get("code")
    return code if isinstance(code, int) else None


class FacebookClient:
    """The Graph API calls the bot needs: check the Page token, send a message."""

    def __init__(
        self,
        settings: FacebookSettings,
        report: Report = lambda status: None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._report = report
        self._http = client or httpx.AsyncClient(timeout=TIMEOUT_S)
        self._owns_http = client is None
        self._status = "ok"
        self._token_refused = False

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def probe(self) -> None:
        """Check the Page token once (`GET /me`), so a refused one shows before anyone writes;
        any other outcome says nothing about the token and changes nothing."""
        try:
            response = await self._http.get(
                f"{self._settings.api_base_url}/me",
                params={"access_token": self._settings.page_access_token, "fields": "id"},
            )
        except httpx.TransportError:
            return
        if response.is_success:
            self._sent()
        elif _error_code(response) == TOKEN_INVALID:
            self._refused()

    async def send(self, psid: str, message: dict[str, Any]) -> bool:
        """Send one message as a reply to `psid`: True once Facebook accepted it, False when it
        refused it for good (logged: a resident who blocked the Page, a malformed message).

        Rate limits, temporary errors and outages are retried with backoff. Raises `Later` when
        the Page token is refused (code 190) or the retries run out: the delivery waits.
        """
        body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message}
        problem: int | str | None = None
        for pause in (None, *BACKOFF_S):
            if pause is not None:
                await asyncio.sleep(pause)
            problem = await self._post(body)
            if problem is None:
                self._sent()
                return True
            if problem == TOKEN_INVALID:
                self._refused()
                raise Later("Facebook refuses the Page access token (code 190)")
            if isinstance(problem, int) and problem not in RETRIED_CODES:
                logger.warning("Facebook message not sent: error %s", problem)
                return False
        tries = len(BACKOFF_S) + 1
        if self._status == "ok":  # once per outage, not per message
            logger.warning("Facebook Send API: %s after %d tries; replies wait", problem, tries)
        self._set("degraded")
        raise Later(f"Facebook Send API: {problem} after {tries} tries")

    async def _post(self, body: dict[str, Any]) -> int | str | None:
        """One POST /me/messages: None when sent, else the Graph error code, or the HTTP status
        or transport error when Facebook gave none."""
        try:
            response = await self._http.post(
                f"{self._settings.api_base_url}/me/messages",
                params={"access_token": self._settings.page_access_token},
                json=body,
            )
        except httpx.TransportError as exc:
            return type(exc).__name__
        if response.is_success:
            return None
        return _error_code(response) or f"HTTP {response.status_code}"

    def _sent(self) -> None:
        if self._token_refused:
            logger.info("Facebook accepts the Page access token again")
            self._token_refused = False
        self._set("ok")

    def _refused(self) -> None:
        """Logged once, not per message, and never with the token."""
        if not self._token_refused:
            logger.error(
                "Facebook refuses the Page access token (code 190): replies wait until "
                "FACEBOOK_PAGE_ACCESS_TOKEN holds a valid token"
            )
            self._token_refused = True
        self._set("degraded")

    def _set(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._report(status)


# --- the bot --------------------------------------------------------------------------------------


def quick_reply(title: str, payload: str) -> dict[str, str]:
    return {"content_type": "text", "title": title, "payload": payload}


def quick_replies(answer: Answer) -> list[dict[str, str]]:
    """The next questions the answer suggests, then 👍/👎 when it has an id to vote on."""
    replies = [quick_reply(s.label, ASK + s.question) for s in suggested_questions(answer)]
    if answer.answer_id:
        replies += [
            quick_reply("👍", f"fb:1:{answer.answer_id}"),
            quick_reply("👎", f"fb:0:{answer.answer_id}"),
        ]
    return replies


def messages(answer: Answer) -> list[dict[str, Any]]:
    """The answer as Send API messages: plain text in pieces of at most `FACEBOOK_LIMIT`
    characters, sources last; the quick replies ride on the last piece."""
    pieces: list[dict[str, Any]] = [{"text": p} for p in plain_messages(answer, FACEBOOK_LIMIT)]
    replies = quick_replies(answer)
    if pieces and replies:
        pieces[-1]["quick_replies"] = replies
    return pieces


class FacebookBot:
    """Answers the Page's residents through an `Asker`."""

    def __init__(
        self, asker: Asker, client: FacebookClient, on_feedback: FeedbackHook | None = None
    ) -> None:
        self._asker = asker
        self._client = client
        self._on_feedback = on_feedback

    async def handle(self, item: dict[str, Any]) -> None:
        """Reply to a recorded `messaging` item; may raise `Later` (see `FacebookClient.send`)."""
        event = parse_event(item)
        if event is None:
            return
        vote = VOTE.fullmatch(event.payload)
        if event.attachment:
            await self._client.send(event.sender, {"text": NOT_TEXT})
        elif vote:
            await self._vote(event.sender, vote[2], helpful=vote[1] == "1")
        elif event.payload.startswith(ASK):
            await self.reply(event, event.payload.removeprefix(ASK))
        elif "postback" in item:  # a button of the Page's own (Get Started, a menu)
            await self._client.send(event.sender, {"text": GREETING})
        else:
            await self.reply(event, event.text)

    async def reply(self, event: Event, question: str) -> None:
        """Ask, then send the answer's messages in order."""
        await answer_in_order(
            self._asker,
            question,
            f"{CHANNEL}:{event.sender}",
            f"{CHANNEL}:{event.mid}",
            messages,
            partial(self._client.send, event.sender),
            {"text": APOLOGY},
        )

    async def _vote(self, sender: str, answer_id: str, helpful: bool) -> None:
        if self._on_feedback is not None:
            await asyncio.to_thread(self._on_feedback, answer_id, sender, helpful)
        await self._client.send(sender, {"text": THANKS})


# --- the webhook ----------------------------------------------------------------------------------

_FACEBOOK_SCHEMA = {
    "parameters": [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
         "description": "sha256=HMAC-SHA256(app secret, raw body)"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["object", "entry"],
        "properties": {
            "object": {"type": "string", "example": "page"},
            "entry": {"type": "array", "items": {"type": "object", "properties": {
                "messaging": {"type": "array", "items": {"type": "object"}},
            }}},
        },
    }}}},
}  # fmt: skip
_FACEBOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "không phải đối tượng JSON"},
    403: {"description": "thiếu hoặc sai chữ ký"},
    503: {"description": "chưa ghi nhận được, Facebook sẽ gửi lại"},
}


def facebook_router(settings: FacebookSettings, receive: Receive) -> APIRouter:
    """`GET /webhooks/facebook`: the subscription handshake. `POST /webhooks/facebook`: 403 on a
    missing or wrong signature (before anything is parsed), 400 on what is not a JSON object,
    else every event that wants a reply is recorded (by `receive`, keyed on its mid, so a
    redelivery is answered once) and 200."""
    router = APIRouter()

    @router.get(
        "/webhooks/facebook",
        response_class=PlainTextResponse,
        responses={403: {"description": "sai hub.mode hoặc hub.verify_token"}},
    )
    async def facebook_handshake(
        mode: Annotated[str, Query(alias="hub.mode")] = "",
        token: Annotated[str, Query(alias="hub.verify_token")] = "",
        challenge: Annotated[str, Query(alias="hub.challenge")] = "",
    ) -> str:
        expected = settings.verify_token.encode()
        if mode != "subscribe" or not expected or not hmac.compare_digest(token.encode(), expected):
            raise HTTPException(403, "mã xác minh không đúng")
        return challenge

    @router.post(
        "/webhooks/facebook", openapi_extra=_FACEBOOK_SCHEMA, responses=_FACEBOOK_RESPONSES
    )
    async def facebook_webhook(request: Request) -> dict[str, bool]:
        raw = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(settings.app_secret, raw, signature):
            raise HTTPException(403, "chữ ký không đúng")
        for event, item in events(json_object(raw)):
            await receive(CHANNEL, event.mid, item)
        return {"ok": True}

    return router
