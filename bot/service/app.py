"""The HTTP service."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import asdict
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from bot.answer.cache import AnswerCache
from bot.answer.engine import Engine
from bot.answer.models import Answer
from bot.answer.responder import MAX_QUESTION_CHARS, Responder, group_thousands
from bot.channels.logged import LoggedResponder, StoredConversations
from bot.channels.webchat import webchat_router
from bot.config import Settings, load_settings
from bot.service.admin import admin_router, require_admin
from bot.service.convert_api import convert_router
from bot.service.dashboard import DATABASE_DOWN, dashboard_router
from bot.service.health import Health
from bot.service.security import secure_app
from bot.service.webhooks import mount_channels
from bot.state import open_state
from bot.state.insights import Insights
from bot.state.questionlog import DatabaseUnavailable
from index.embeddings import EmbeddingModelError
from index.retriever import Filters
from index.search import EmbeddingMismatch
from index.store import IndexUnavailable
from prompts import template

log = logging.getLogger("sapxep.api")
# Five times the web form's 4,000 characters: even NFD-decomposed, a message users could send
# gets the responder's polite "too long" reply; above the cap, a 422 in Vietnamese.
QUESTION_CAP = 20_000


class FeedbackRequest(BaseModel):
    answer_id: str = Field(max_length=100)
    helpful: bool


class AskRequest(BaseModel):
    question: str = Field(
        description="câu hỏi tiếng Việt, có dấu hoặc không",
        json_schema_extra={"maxLength": QUESTION_CAP},
    )
    conversation: str | None = Field(None, max_length=200, description="mã hội thoại cho câu hỏi tiếp nối")
    documents: list[str] = Field(default_factory=list, description="chỉ tìm trong các tệp này")
    provinces: list[str] = Field(default_factory=list, description="chỉ tìm trong các tỉnh này")
    types: list[str] = Field(default_factory=list, description="loại văn bản: KẾ HOẠCH, NGHỊ QUYẾT…")

    @field_validator("question")
    @classmethod
    def _within_cap(cls, question: str) -> str:
        """The cap declared as maxLength, enforced here so the 422 speaks Vietnamese."""
        if len(question) > QUESTION_CAP:
            cap, limit = group_thousands(QUESTION_CAP), group_thousands(MAX_QUESTION_CHARS)
            message = template("refusal.over_cap", cap=cap, limit=limit)
            raise PydanticCustomError("string_too_long", message)
        return question


class DocumentInfo(BaseModel):
    doc_id: str
    type: str
    number: str
    date: str
    issuer: str
    title: str
    province: str
    signer: str
    chunks: int


def metrics_registry() -> CollectorRegistry:
    """This process's metrics; with PROMETHEUS_MULTIPROC_DIR set (several workers), every
    worker's, summed, whichever worker answers the scrape."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = Engine(settings)
    live = engine.live
    state = open_state(settings)
    responder = LoggedResponder(
        Responder(engine, conversations=StoredConversations(state.shared), cache=AnswerCache()), state
    )
    app = FastAPI(
        title="Trợ lý sắp xếp đơn vị hành chính",
        description="Hỏi đáp có trích dẫn về sắp xếp đơn vị hành chính năm 2025.",
    )
    secure_app(app, settings)
    app.state.health = health = Health()

    app.include_router(webchat_router())

    @app.exception_handler(DatabaseUnavailable)
    async def database_down(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        """The statistics' database is down (statistics, dashboard, votes): a 503 that says so,
        never a bare 500; questions are still answered, and logged once it is back."""
        health.set("database", "degraded")
        detail = {"detail": template("database.unavailable")}
        return JSONResponse(detail, status_code=503, headers={"Retry-After": "5"})

    @app.post("/api/ask", response_model=Answer)
    async def ask(request: AskRequest) -> Answer:
        filters = Filters(request.documents, request.provinces, request.types)
        try:
            # the answer threads the channels use too (see mount_channels): CPU-bound work on
            # as many threads as cores, not one per request fighting for the GIL
            return await asyncio.get_running_loop().run_in_executor(
                None, responder.ask, request.question, request.conversation, None, filters or None
            )
        except (IndexUnavailable, EmbeddingMismatch, EmbeddingModelError) as exc:
            raise HTTPException(status_code=503, detail=exc.message) from exc

    def warm_up() -> None:
        """Load the index and the model before the first user waits for them."""
        try:
            responder.responder.ask("xã Tri Phương giờ thuộc xã nào")
        except (IndexUnavailable, EmbeddingMismatch, EmbeddingModelError) as exc:
            log.warning("service started without an index: %s", exc.message)

    mount_channels(app, settings, responder, warm_up)
    app.include_router(admin_router(settings, engine))
    app.include_router(convert_router(engine))
    app.include_router(dashboard_router(settings, Insights(state.log)))

    @app.post("/api/feedback", status_code=204, responses=DATABASE_DOWN)
    def feedback(body: FeedbackRequest, request: Request) -> None:
        user = state.shared.hash_user("web", request.client.host if request.client else "")
        state.log.feedback(body.answer_id, user, body.helpful)

    @app.get(
        "/api/stats",
        responses={401: {"description": "thiếu hoặc sai mã quản trị"}, **DATABASE_DOWN},
        dependencies=[Depends(require_admin(settings))],
    )
    def stats(
        days: int = Query(30, ge=1, le=3650, description="số ngày gần nhất"),
    ) -> dict[str, Any]:
        """What residents ask (admin token: `Authorization: Bearer <SAPXEP_ADMIN_TOKEN>`)."""
        return asdict(state.log.stats(days=days))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        """200 while the answering core works, whatever else is `degraded` (retrying) or `off`;
        `worker`: the process that answered (each worker brings its parts up on its own)."""
        index = live.try_get()
        health.set("index", "ok" if index else "off")
        documents = len(index.files) if index else 0
        return {**health.snapshot(), "index": bool(index), "documents": documents, "worker": os.getpid()}

    @app.get("/api/documents", response_model=list[DocumentInfo])
    def documents() -> list[DocumentInfo]:
        try:
            index = live.get()
        except IndexUnavailable as exc:
            raise HTTPException(status_code=503, detail=exc.message) from exc
        return [
            DocumentInfo(
                doc_id=f.document.doc_id,
                type=f.document.doc_type,
                number=f.document.number,
                date=f.document.date,
                issuer=f.document.issuer,
                title=f.document.title,
                province=f.document.province,
                signer=f.document.signer.name,
                chunks=len(f.chunks),
            )
            for f in sorted(index.files.values(), key=lambda f: f.document.doc_id)
        ]

    return app
