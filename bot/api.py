"""The HTTP service."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from bot.config import Settings, load_settings
from index.store import IndexStore, IndexUnavailable, LiveIndex


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    live = LiveIndex(IndexStore(settings.index_dir))
    app = FastAPI(
        title="Trợ lý sắp xếp đơn vị hành chính",
        description="Hỏi đáp có trích dẫn về sắp xếp đơn vị hành chính năm 2025.",
    )

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        index = live.try_get()
        return {"status": "ok", "index": bool(index), "documents": len(index.files) if index else 0}

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
