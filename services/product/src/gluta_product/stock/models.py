"""Stock reservations of the checkout saga, one per order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gluta_product.models import Base, PreciseDateTime

RESERVED = "RESERVED"
RELEASED = "RELEASED"
REJECTED = "REJECTED"
CANCELLED_FIRST = "CANCELLED_FIRST"  # tombstone: the cancellation came before the order; never reserve it

SALES_NONE = "NONE"
SALES_COUNTED = "COUNTED"
SALES_REVERSED = "REVERSED"


class StockReservation(Base):
    """What an order took from the shelf, and whether its sales are counted."""

    __tablename__ = "stock_reservation"

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20))
    lines: Mapped[str] = mapped_column(Text)
    sales_state: Mapped[str] = mapped_column(String(20), default=SALES_NONE)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime)
