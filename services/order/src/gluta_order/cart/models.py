"""Cart lines: one per member and product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId, UTCDateTime
from gluta_order.models import Base


class CartItem(Base):
    """A product and how many of it a member means to buy."""

    __tablename__ = "cart_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("member_id", "product_id", name="uq_cart_item_member_product"),)
