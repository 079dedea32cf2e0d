"""Inquiries on products, each with at most one answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_product.models import Base, PreciseDateTime


class Inquiry(Base):
    """A member's question on a product and the admins' answer to it."""

    __tablename__ = "inquiry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    answer_content: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)

    __table_args__ = (Index("ix_inquiry_product_created", "product_id", "created_at"),
                      Index("ix_inquiry_answered", "answered_at", "created_at"))
