"""Coupons and the copies members hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId, UTCDateTime
from gluta_order.models import Base

FIXED = "FIXED"
PERCENT = "PERCENT"


class Coupon(Base):
    """A coupon admins create; `issued` counts the copies persisted (first-come ones stop at `quantity`)."""

    __tablename__ = "coupon"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # a stable name for coupons created by the service itself (demo data), so they are made once
    slug: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000))
    discount_type: Mapped[str] = mapped_column(String(10))
    discount_value: Mapped[int] = mapped_column(BigInteger)
    max_discount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    min_order_amount: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberCoupon(Base):
    """One member's copy of a coupon; a member holds a given coupon at most once."""

    __tablename__ = "member_coupon"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    coupon_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    used_order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("coupon_id", "member_id", name="uq_member_coupon_coupon_member"),
        Index("ix_member_coupon_member", "member_id", "id"),
        Index("ix_member_coupon_order", "used_order_id"),
    )
