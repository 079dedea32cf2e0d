"""Orders and their lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId, UTCDateTime
from gluta_order.models import Base

PENDING = "PENDING"
CONFIRMED = "CONFIRMED"
CANCELLED = "CANCELLED"


class Order(Base):
    """An order: PENDING until the product service reserves its stock, then CONFIRMED or CANCELLED."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))
    cancel_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    was_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger)
    pay_amount: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(Integer)
    from_cart: Mapped[bool] = mapped_column(Boolean)
    receiver: Mapped[str] = mapped_column(Text)
    # the sales day of the order in Asia/Seoul, fixed when it is placed (the dashboard groups by it)
    order_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_orders_member", "member_id", "id"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_status_date", "status", "order_date"),
    )


class OrderItem(Base):
    """One product of an order, priced from the snapshot when the order was placed."""

    __tablename__ = "order_line"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    member_coupon_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    discount: Mapped[int] = mapped_column(BigInteger)
    # what the member pays for this line: unit_price * quantity - discount
    line_total: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_order_line_order", "order_id"), Index("ix_order_line_product", "product_id"))
