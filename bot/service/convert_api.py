"""`POST /api/convert`: old addresses in, new address lines out (the same rows as
`sapxep convert --json`), up to MAX_ADDRESSES per request."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from bot.answer.convert import convert_line
from bot.answer.engine import Engine
from index.addresses import Conversion
from index.embeddings import EmbeddingModelError
from index.search import EmbeddingMismatch
from index.store import IndexUnavailable
from prompts import template

MAX_ADDRESSES = 1000


class ConvertRequest(BaseModel):
    # the limit is a 413 (too much at once), not a schema violation: it is not a maxItems
    addresses: list[str] = Field(
        description=f"địa chỉ cũ, mỗi phần tử một dòng (tối đa {MAX_ADDRESSES}, quá thì 413)"
    )


class ConvertedAddress(BaseModel):
    input: str
    status: Literal["unchanged", "merged", "split", "not_found", "ambiguous"]
    old_unit: str
    new_units: list[str]
    new_address: list[str]
    province: str
    citation: str
    new_codes: list[str] = Field(
        description="mã số đơn vị hành chính cấp xã mới (1027/CTK-CSCL), cùng thứ tự new_units"
    )
    note: str = Field(description="vì sao không tìm thấy, khi danh mục trước sắp xếp cho biết")


class ConvertResponse(BaseModel):
    results: list[ConvertedAddress]


def convert_router(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/convert",
        response_model=ConvertResponse,
        responses={413: {"description": f"quá {MAX_ADDRESSES} địa chỉ"}},
    )
    async def convert_addresses(request: ConvertRequest) -> ConvertResponse:
        if len(request.addresses) > MAX_ADDRESSES:
            raise HTTPException(413, template("convert.too_many", limit=MAX_ADDRESSES))
        try:
            loaded = await asyncio.to_thread(engine.load)
        except (IndexUnavailable, EmbeddingMismatch, EmbeddingModelError) as exc:
            raise HTTPException(status_code=503, detail=exc.message) from exc

        def run() -> list[Conversion]:
            return [convert_line(a, loaded.registry, loaded.oldmap) for a in request.addresses]

        results = await asyncio.get_running_loop().run_in_executor(None, run)
        return ConvertResponse(results=[ConvertedAddress(**r.to_dict()) for r in results])

    return router
