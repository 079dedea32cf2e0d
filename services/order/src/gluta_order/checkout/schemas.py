"""Order bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from gluta_order.cart.schemas import MAX_LINE_QUANTITY
from gluta_order.common import MAX_ID, Schema

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
OrderStatus = Literal["PENDING", "CONFIRMED", "CANCELLED"]


class ReceiverWrite(Schema):
    """Who receives the parcel, and where."""

    name: str = Field(min_length=1, max_length=50)
    phone_number: str = Field(pattern=r"^[0-9][0-9-]{1,19}$")
    post_number: str = Field(default="", max_length=10)
    address: str = Field(min_length=1, max_length=200)
    address_detail: str = Field(default="", max_length=200)


class OrderItemWrite(Schema):
    """One product to buy now, with an optional coupon for its line."""

    product_id: Id
    quantity: int = Field(ge=1, le=MAX_LINE_QUANTITY)
    member_coupon_id: Id | None = None


class OrderCreate(Schema):
    """Buy the given items, or the whole cart (`fromCart`) with coupons per product."""

    items: list[OrderItemWrite] | None = Field(default=None, max_length=50)
    from_cart: bool = False
    coupons_by_product: dict[Id, Id] | None = None
    receiver: ReceiverWrite

    @model_validator(mode="after")
    def _one_source(self) -> OrderCreate:
        if self.from_cart and self.items:
            raise ValueError("send either items or fromCart, not both")
        if not self.from_cart and not self.items:
            raise ValueError("send items, or fromCart: true")
        if self.items and len({i.product_id for i in self.items}) != len(self.items):
            raise ValueError("each product appears on one line only")
        if self.coupons_by_product and not self.from_cart:
            raise ValueError("couponsByProduct goes with fromCart; put memberCouponId on items otherwise")
        return self


class OrderLineRead(Schema):
    """One line of an order; `lineTotal` is what is paid for it after its coupon."""

    product_id: int
    name: str
    unit_price: int
    quantity: int
    member_coupon_id: int | None
    discount: int
    line_total: int


class ReceiverRead(Schema):
    """The receiver of an order."""

    name: str
    phone_number: str
    post_number: str
    address: str
    address_detail: str


class OrderRead(Schema):
    """An order."""

    order_id: int
    member_id: int
    status: OrderStatus
    cancel_reason: str | None
    items: list[OrderLineRead]
    total_amount: int
    discount_amount: int
    pay_amount: int
    receiver: ReceiverRead
    created_at: datetime
    updated_at: datetime
