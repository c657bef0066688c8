"""The Answer every channel receives (see DESIGN.md, Answers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Citation(BaseModel):
    n: int
    doc: str = Field(description="tệp nguồn, ví dụ 1656_NQ-UBTVQH15.md")
    title: str
    number: str
    date: str
    issuer: str
    section: str = Field(description="điều, khoản, mục của đoạn trích")
    text: str = Field(description="đoạn trích nguyên văn")
    score: float


class Answer(BaseModel):
    question: str
    answer: str
    refused: bool = False
    mode: str = "general"
    citations: list[Citation] = Field(default_factory=list)
    related: list[Citation] = Field(
        default_factory=list, description="các đoạn khác đã tìm thấy nhưng câu trả lời không trích"
    )
    facts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="dữ liệu có cấu trúc của câu trả lời tra cứu: đơn vị cũ, đơn vị mới, địa chỉ mới…",
    )
    subject: str = Field("", description="đơn vị, tỉnh hay văn bản câu hỏi nhắc tới (cho thống kê)")
    topic: str = Field("", description="khi từ chối: điều tài liệu hiện có không nói tới")
    latency_ms: float = 0.0
    answer_id: str = Field("", description="mã của câu trả lời, gửi kèm góp ý 👍/👎")
