"""Security of the HTTP service and the bots: response headers, CORS, secrets kept out of logs.

`secure_app(app, settings)` is called once, right after the FastAPI app is created; the
Telegram long-polling command calls `install_logging(settings)` itself.

Content-Security-Policy: the web chat (bot/channels/static/index.html) has one inline <style> and one
inline <script>; they are allowed by their sha256, computed from the file at start-up, so an
edit of the page keeps working and any injected inline code does not run. FastAPI's /docs and
/redoc pages load Swagger UI / ReDoc from the jsDelivr CDN and bootstrap them with an inline
script whose text FastAPI generates per request; they get their own, looser policy (the two
CDN packages, inline code, blob workers). Those pages render no user input, and offline they
stay blank as before (the CDN is unreachable).
"""

from __future__ import annotations

import hmac
import logging
import re
from base64 import b64encode
from collections.abc import Iterable, Mapping
from hashlib import sha256
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.channels.webchat import PAGE
from bot.config import MIN_SECRET_CHARS, SECRET_FIELDS, Settings

REDACTED = "***"
UNCHECKED = "(log record withheld: its arguments could not be checked for secrets)"

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Answers are per question and may quote a resident's own words: never kept by a cache.
API_HEADERS = {"Cache-Control": "no-store"}
_SWAGGER = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
_REDOC = "https://cdn.jsdelivr.net/npm/redoc@2/"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_SWAGGER} {_REDOC}; "
    f"style-src 'self' 'unsafe-inline' {_SWAGGER} https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# --- headers and CORS ---------------------------------------------------------------------------


def bearer_matches(authorization: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time as bytes (`compare_digest`
    refuses non-ASCII text; Starlette decodes headers as latin-1); no token means no match."""
    expected = f"Bearer {token}".encode()
    return bool(token) and hmac.compare_digest(authorization.encode("latin-1"), expected)


def inline_hashes(html: str, tag: str) -> list[str]:
    """CSP sources ('sha256-…') of the inline <tag> elements of a trusted page."""
    bodies = re.findall(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", html, flags=re.DOTALL | re.IGNORECASE)
    return [
        f"'sha256-{b64encode(sha256(body.encode()).digest()).decode()}'"
        for body in bodies
        if body.strip()
    ]


def page_policy(html: str) -> str:
    """The CSP of the service: only its own origin, the page's inline code by hash."""
    scripts = " ".join(["'self'", *inline_hashes(html, "script")])
    styles = " ".join(["'self'", *inline_hashes(html, "style")])
    return (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def route_path(scope: Scope) -> str:
    """The path an HTTP request asks for, below any mount point (`root_path`)."""
    return scope["path"].removeprefix(scope.get("root_path", ""))


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (errors, preflights and
    webhooks included); the docs paths get `DOCS_POLICY`, /api paths `API_HEADERS` too."""

    def __init__(self, app: ASGIApp, policy: str, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.policy = policy
        self.docs_paths = tuple(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.headers_for(route_path(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers_for(self, path: str) -> dict[str, str]:
        docs = any(path == p or path.startswith(p + "/") for p in self.docs_paths)
        headers = {"Content-Security-Policy": DOCS_POLICY if docs else self.policy}
        headers |= COMMON_HEADERS
        if path == "/api" or path.startswith("/api/"):
            headers |= API_HEADERS
        return headers


def secure_app(app: FastAPI, settings: Settings) -> None:
    """Headers on every response, CORS for the configured origins only, secrets out of logs."""
    install_logging(settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        )
    docs = [p for p in (app.docs_url, app.redoc_url) if p]
    # added last, so outermost: CORS answers (preflights, refusals) carry the headers too
    app.add_middleware(
        SecurityHeaders, policy=page_policy(PAGE.read_text(encoding="utf-8")), docs_paths=docs
    )


# --- secrets out of logs ------------------------------------------------------------------------


def secrets_of(settings: Settings) -> list[str]:
    """Every configured secret, also in the URL-encoded forms a logged URL or form shows."""
    values = [getattr(settings, name) for name in SECRET_FIELDS]
    token = settings.telegram_bot_token
    if ":" in token:  # "<bot id>:<secret>": the secret half alone is a secret too
        values.append(token.split(":", 1)[1])
    for url in (settings.redis_url, settings.database_url):
        if url:
            values.append(urlsplit(url).password or "")
    forms = [form(v) for v in values if v for form in (str, quote, quote_plus)]
    return sorted(set(forms), key=len, reverse=True)


class Redactor:
    """Replaces the registered secrets by `REDACTED` in log records: in the message, in each
    argument (an httpx URL holding the bot token, an exception) and in the traceback text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        # a value this short is in ordinary words: masking it would mangle every log line
        self._secrets |= {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        longest_first = sorted(self._secrets, key=len, reverse=True)
        alternatives = "|".join(map(re.escape, longest_first))
        self._pattern = re.compile(alternatives) if alternatives else None

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text

    def scrub(self, record: logging.LogRecord) -> None:
        """Redact the record in place, before any handler formats it."""
        if self._pattern is None:
            return
        record.msg = self._value(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: self._value(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(self._value(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            trace = logging.Formatter().formatException(record.exc_info)
            if self.shows_secret(trace):  # formatters print exc_text instead of exc_info
                record.exc_text = self.redact(trace)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)

    def shows_secret(self, text: str) -> bool:
        return bool(self._pattern and self._pattern.search(text))

    def _value(self, value: Any) -> Any:
        """The value itself when it shows no secret (numbers keep `%d` working), else its text
        redacted."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        text = str(value)
        if self.shows_secret(text) or self.shows_secret(repr(value)):
            return self.redact(text)
        return value


REDACTOR = Redactor()


def install_logging(settings: Settings) -> None:
    """Log at SAPXEP_LOG_LEVEL to stderr (unless logging is already configured) with every
    configured secret redacted from every record, whichever library logs it."""
    REDACTOR.add(secrets_of(settings))
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacting", False):

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            try:
                REDACTOR.scrub(record)
            except Exception:  # noqa: BLE001  an argument whose str() fails: logging never raises
                record.msg, record.args, record.exc_info = UNCHECKED, (), None
            return record

        redacting_factory.redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(redacting_factory)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
