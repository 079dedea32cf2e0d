"""Coupon bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from gluta_order.common import MAX_ID, Schema

MAX_MONEY = 100_000_000


class CouponWrite(Schema):
    """What an admin gives to create a coupon; `quantity` null = unlimited, `productId` null = any product."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    discount_type: Literal["FIXED", "PERCENT"]
    discount_value: int = Field(ge=1, le=MAX_MONEY)
    max_discount: int | None = Field(default=None, ge=1, le=MAX_MONEY)
    min_order_amount: int | None = Field(default=None, ge=0, le=10 * MAX_MONEY)
    product_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    quantity: int | None = Field(default=None, ge=1, le=10_000_000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _coherent(self) -> CouponWrite:
        if not self.name.strip():
            raise ValueError("name must not be blank")
        if self.discount_type == "PERCENT" and self.discount_value > 100:
            raise ValueError("a PERCENT discount is 1-100")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        return self


class CouponRead(Schema):
    """A coupon as members see it; `remaining` is null for an unlimited coupon."""

    coupon_id: int
    name: str
    description: str
    discount_type: str
    discount_value: int
    max_discount: int | None
    min_order_amount: int
    product_id: int | None
    quantity: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    remaining: int | None


class CouponAdminRead(CouponRead):
    """A coupon as admins see it."""

    issued_count: int
    used_count: int
    disabled: bool
    created_at: datetime


class IssueRead(Schema):
    """The answer to a successful claim."""

    coupon_id: int
    status: Literal["ISSUED"] = "ISSUED"


class MemberCouponRead(Schema):
    """A coupon a member holds."""

    member_coupon_id: int
    coupon_id: int
    name: str
    description: str
    discount_type: str
    discount_value: int
    max_discount: int | None
    min_order_amount: int
    product_id: int | None
    used: bool
    used_order_id: int | None
    starts_at: datetime | None
    expires_at: datetime | None
    issued_at: datetime
