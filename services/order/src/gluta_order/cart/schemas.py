"""Cart bodies."""

from __future__ import annotations

from pydantic import Field

from gluta_order.common import MAX_ID, Schema

MAX_LINE_QUANTITY = 1_000


class CartItemCreate(Schema):
    """A product to put in the cart (added to the line of the same product)."""

    product_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(default=1, ge=1, le=MAX_LINE_QUANTITY)


class CartItemUpdate(Schema):
    """The new quantity of a cart line."""

    quantity: int = Field(ge=1, le=MAX_LINE_QUANTITY)


class CartItemRead(Schema):
    """A cart line priced from the product snapshot; `available` is false when it cannot be bought as is."""

    cart_item_id: int
    product_id: int
    name: str
    thumbnail_url: str | None
    unit_price: int
    quantity: int
    line_total: int
    available: bool


class CartRead(Schema):
    """The cart; `total` sums the available lines."""

    items: list[CartItemRead]
    total: int
