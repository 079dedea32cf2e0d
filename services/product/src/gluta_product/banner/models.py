"""Home page banners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_product.models import Base, PreciseDateTime


class Banner(Base):
    """A banner with its image, link and position; `deleted_at` hides it."""

    __tablename__ = "banner"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    link_url: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)

    __table_args__ = (Index("ix_banner_position", "deleted_at", "position"),)
