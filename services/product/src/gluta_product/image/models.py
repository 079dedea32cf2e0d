"""Image rows: one uploaded file each (files are content-addressed, so rows may share one)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_product.models import Base, PreciseDateTime


class Image(Base):
    """An uploaded image; `deleted_at` hides it and leaves its file to the janitor."""

    __tablename__ = "image"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    byte_size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True, index=True)
