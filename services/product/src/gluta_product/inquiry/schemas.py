"""Inquiry schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gluta_product.schemas import CamelModel


class InquiryWrite(CamelModel):
    content: str = Field(min_length=1, max_length=2000)


class AnswerWrite(CamelModel):
    content: str = Field(min_length=1, max_length=2000)


class AnswerRead(CamelModel):
    content: str
    created_at: datetime


class InquiryRead(CamelModel):
    inquiry_id: int
    product_id: int
    product_name: str | None = None
    content: str
    member_name: str
    mine: bool
    created_at: datetime
    answer: AnswerRead | None
