"""The web chat: one static page that talks to `POST /api/ask` and `POST /api/feedback`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
PAGE = STATIC / "index.html"


def webchat_router() -> APIRouter:
    """`GET /`: the chat page (its inline code is allowed by hash in the page's CSP)."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return FileResponse(PAGE)

    return router
