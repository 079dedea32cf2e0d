"""Local copies of other services' data, kept from their events (never fetched on the hot path)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import UTCDateTime
from gluta_order.models import Base


class ProductSnapshot(Base):
    """What the order service knows of a product, from `ProductChanged`."""

    __tablename__ = "product_snapshot"

    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    thumbnail_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    on_sale: Mapped[bool] = mapped_column(Boolean)
    # last known stock: a hint for the cart only; the checkout saga decides
    quantity: Mapped[int] = mapped_column(Integer)
    # when the product service emitted the change applied here (older events never overwrite newer ones)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberSnapshot(Base):
    """What the order service knows of a member, from the user service's member events."""

    __tablename__ = "member_snapshot"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    login_id: Mapped[str] = mapped_column(String(64))
    member_name: Mapped[str] = mapped_column(String(100))
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
