"""The Telegram channel: a thin python-telegram-bot adapter over any `Asker`.

Webhook: build the application, `await app.initialize()` once, then hand each verified update
to `handle_webhook_update`. Long polling: `build_application(...).run_polling()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.contract import APOLOGY, Asker, Receive
from bot.channels.formatting import TELEGRAM_LIMIT, split_message, telegram_messages
from prompts import template

logger = logging.getLogger(__name__)

FeedbackHook = Callable[[str, int, bool], None]
"""`on_feedback(answer_id, user_id, helpful)`, called on the event loop: keep it quick."""
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]

WELCOME = template("chat.welcome")
THANKS = template("chat.thanks")
NO_DOCUMENTS = template("chat.no_documents")
DOCUMENTS_HEADER = template("chat.documents_header")
FEEDBACK_PATTERN = r"^fb:[01]:[0-9a-f]+$"
BACKOFF_S = (0.5, 1.0, 2.0)  # pauses between the at most four tries of one send
MAX_RETRY_AFTER_S = 30.0  # a longer flood-control wait is cut short: the user is waiting
T = TypeVar("T")


@dataclass(frozen=True)
class ModeCommand:
    """A command that turns its argument into a question of one mode."""

    name: str
    question: str
    usage: str


MODE_COMMANDS = (
    ModeCommand(
        "diachi",
        "{} sau sắp xếp thuộc đơn vị nào",
        template("chat.usage_diachi"),
    ),
    ModeCommand(
        "nhiemvu",
        "{} có nhiệm vụ gì",
        template("chat.usage_nhiemvu"),
    ),
    ModeCommand(
        "luandiem",
        "luận điểm tuyên truyền về {}",
        template("chat.usage_luandiem"),
    ),
)


def answer_id(question: str) -> str:
    """A short id for one answer, carried by its feedback buttons."""
    return hashlib.sha1(f"{question}\0{time.time_ns()}".encode()).hexdigest()[:12]


def feedback_keyboard(answer: str) -> InlineKeyboardMarkup:
    """👍/👎 buttons whose callback data is `fb:<1|0>:<answer id>`."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"fb:1:{answer}"),
                InlineKeyboardButton("👎", callback_data=f"fb:0:{answer}"),
            ]
        ]
    )


async def with_retries(send: Callable[[], Awaitable[T]]) -> T:
    """Call the Bot API, retrying flood control (429: wait what Telegram says, capped) and
    server or network errors (5xx, timeouts: back off), at most `len(BACKOFF_S) + 1` tries.
    A refused request (400, 403) is not retried; the last error is raised."""
    for pause in (*BACKOFF_S, None):
        try:
            return await send()
        except RetryAfter as exc:
            if pause is None:
                raise
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            logger.warning("Telegram flood control: retrying in %.1f s", seconds)
            await asyncio.sleep(min(seconds, MAX_RETRY_AFTER_S))
        except BadRequest:
            raise
        except NetworkError as exc:
            if pause is None:
                raise
            logger.warning("Telegram API error (%s): retrying in %.1f s", exc.message, pause)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


def _message(update: Update) -> Message:
    """The message a handler answers (its filters guarantee there is one)."""
    if update.effective_message is None:
        raise ValueError(f"update {update.update_id} carries no message")
    return update.effective_message


@dataclass
class TelegramChannel:
    """The handlers, bound to the services they use."""

    asker: Asker
    documents: Callable[[], list[str]] | None = None
    on_feedback: FeedbackHook | None = None

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start, /help and unknown commands: what the assistant does and its commands."""
        await _message(update).reply_text(WELCOME)

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text: the message is the question."""
        message = _message(update)
        await self._reply(message, message.text or "")

    def mode(self, command: ModeCommand) -> Handler:
        """The handler of a mode command: its argument makes the question, else a usage hint."""

        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            subject = " ".join(context.args or [])
            if not subject:
                await _message(update).reply_text(command.usage)
                return
            await self._reply(_message(update), command.question.format(subject))

        return handle

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/nguon: the documents the answers come from."""
        names = await asyncio.to_thread(self.documents) if self.documents else []
        text = "\n".join([DOCUMENTS_HEADER, *(f"• {n}" for n in names)]) if names else NO_DOCUMENTS
        for piece in split_message(text, TELEGRAM_LIMIT):
            await _message(update).reply_text(piece)

    async def feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A 👍/👎 press: acknowledge it, then pass it to the hook."""
        query = update.callback_query
        if query is None or query.data is None:  # excluded by the handler's pattern
            return
        _, helpful, answer = query.data.split(":", 2)
        await query.answer(THANKS)
        if self.on_feedback:
            self.on_feedback(answer, query.from_user.id, helpful == "1")

    async def _reply(self, message: Message, question: str) -> None:
        """Ask the responder off the event loop; send the answer in pieces, buttons on the last."""
        try:
            await message.reply_chat_action(ChatAction.TYPING)
        except TelegramError as exc:  # only a courtesy: the answer still goes out
            logger.info("typing indicator not sent: %s", exc.message)
        conversation = f"tg:{message.chat_id}"
        answer = await asyncio.to_thread(
            self.asker.ask, question, conversation, f"{conversation}:{message.message_id}"
        )
        key = answer.answer_id or answer_id(question)
        logger.info("answer %s: mode=%s refused=%s", key, answer.mode, answer.refused)
        pieces = telegram_messages(answer)
        for number, piece in enumerate(pieces, 1):
            markup = feedback_keyboard(key) if number == len(pieces) else None
            await with_retries(partial(message.reply_html, piece, reply_markup=markup))


async def apologize(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Error handler: log the exception and tell the user politely; never raise."""
    logger.error("Telegram handler failed", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        chat = update.effective_chat.id
        await with_retries(lambda: context.bot.send_message(chat, APOLOGY))
    except TelegramError:
        logger.exception("could not send the apology")


def build_application(
    token: str,
    asker: Asker,
    *,
    base_url: str | None = None,
    documents: Callable[[], list[str]] | None = None,
    on_feedback: FeedbackHook | None = None,
) -> Application:
    """The bot, for webhooks (`handle_webhook_update`) and long polling (`run_polling`).

    `base_url` is the Bot API URL the token is appended to (default Telegram's,
    https://api.telegram.org/bot). Updates are handled concurrently, since answers are slow.
    """
    builder = ApplicationBuilder().token(token).concurrent_updates(True)
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()
    channel = TelegramChannel(asker, documents, on_feedback)
    application.add_handlers(
        [
            CommandHandler(["start", "help"], channel.help),
            *(CommandHandler(c.name, channel.mode(c)) for c in MODE_COMMANDS),
            CommandHandler("nguon", channel.sources),
            MessageHandler(filters.TEXT & ~filters.COMMAND, channel.question),
            MessageHandler(filters.COMMAND, channel.help),
            CallbackQueryHandler(channel.feedback, pattern=FEEDBACK_PATTERN),
        ]
    )
    application.add_error_handler(apologize)
    return application


def parse_update(app: Application, payload: dict[str, Any]) -> Update:
    """The Update in a webhook payload; raises (ValueError, AttributeError… whatever the
    malformed field provokes) if Telegram could not have sent it."""
    return Update.de_json(payload, app.bot)


async def handle_webhook_update(app: Application, payload: dict[str, Any]) -> None:
    """Process one update received by the webhook; `app` must be initialized."""
    await app.process_update(parse_update(app, payload))


_TELEGRAM_SCHEMA = {
    "parameters": [
        {"name": "X-Telegram-Bot-Api-Secret-Token", "in": "header", "required": True,
         "schema": {"type": "string"}, "description": "the secret_token given to setWebhook"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["update_id"],
        "properties": {
            "update_id": {"type": "integer", "minimum": 0, "maximum": 2**53},
            "message": {
                "type": "object",
                "required": ["message_id", "date", "chat"],
                "properties": {
                    "message_id": {"type": "integer", "minimum": 1, "maximum": 2**53},
                    "date": {"type": "integer", "minimum": 0, "maximum": 4_102_444_800},
                    "chat": {
                        "type": "object",
                        "required": ["id", "type"],
                        "properties": {
                            "id": {"type": "integer", "minimum": -(2**52), "maximum": 2**52},
                            "type": {"enum": ["private"]},
                        },
                        "additionalProperties": False,
                    },
                    "text": {"type": "string"},
                },
            },
        },
    }}}},
}  # fmt: skip
_TELEGRAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "không phải update hợp lệ"},
    403: {"description": "sai secret token"},
    503: {"description": "chưa ghi nhận được, Telegram sẽ gửi lại"},
}


def telegram_router(
    secret: str, bot: Application, receive: Receive, ready: Callable[[], bool] = lambda: True
) -> APIRouter:
    """`POST /webhooks/telegram`: 403 on a wrong secret token, 400 on what is not an update,
    503 while the bot has not reached Telegram yet (`ready`), else the update is recorded (by
    `receive`, keyed on update_id) and 200."""
    router = APIRouter()

    @router.post(
        "/webhooks/telegram",
        openapi_extra=_TELEGRAM_SCHEMA,
        responses=_TELEGRAM_RESPONSES,
    )
    async def webhook(request: Request) -> dict[str, bool]:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            raise HTTPException(status_code=403, detail="secret token không đúng")
        try:
            payload: dict[str, Any] = await request.json()
            update_id = str(int(payload["update_id"]))
            parse_update(bot, payload)
        except Exception as exc:  # PTB raises whatever a malformed field provokes
            raise HTTPException(status_code=400, detail="update không hợp lệ") from exc
        if not ready():  # the platform retries; nothing is recorded that nobody could answer
            raise HTTPException(status_code=503, detail="bot chưa kết nối được Telegram", headers={"Retry-After": "5"})
        await receive("telegram", update_id, payload)
        return {"ok": True}

    return router
