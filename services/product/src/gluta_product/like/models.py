"""Likes: one row per member and product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from gluta_product.models import Base, PreciseDateTime


class ProductLike(Base):
    """A member likes a product."""

    __tablename__ = "product_like"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)

    __table_args__ = (Index("ix_product_like_member_created", "member_id", "created_at"),
                      Index("ix_product_like_product", "product_id"))
