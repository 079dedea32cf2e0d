"""Every integration event of the mall, grouped by the service that emits it.

Topics are `gluta.<emitter>.<event>`; a consumer names itself when it subscribes, so several
services can each receive every event of a topic, and several instances of one service share it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from gluta_contracts.base import IntegrationEvent


class _Part(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# --- user-service -------------------------------------------------------------------------------
class MemberRegistered(IntegrationEvent):
    """A member signed up."""

    topic = "gluta.user.member-registered"
    member_id: int
    login_id: str
    member_name: str
    email: str


class MemberUpdated(IntegrationEvent):
    """A member changed their name or contact details."""

    topic = "gluta.user.member-updated"
    member_id: int
    login_id: str
    member_name: str
    email: str


class MemberWithdrawn(IntegrationEvent):
    """A member withdrew; their login id stays taken."""

    topic = "gluta.user.member-withdrawn"
    member_id: int
    login_id: str


# --- product-service ----------------------------------------------------------------------------
class ProductChanged(IntegrationEvent):
    """A product was created, edited or deleted; consumers keep their own snapshot."""

    topic = "gluta.product.product-changed"
    product_id: int
    name: str
    unit_price: int
    thumbnail_url: str | None = None
    on_sale: bool
    quantity: int = 0


class OrderLine(_Part):
    """One product and how many of it an order takes."""

    product_id: int
    quantity: int
    unit_price: int = 0
    line_total: int = 0


class ShortLine(_Part):
    """A line that could not be reserved: what was asked and what was there."""

    product_id: int
    requested: int
    available: int


class StockReserved(IntegrationEvent):
    """Every line of an order was reserved in one local transaction."""

    topic = "gluta.product.stock-reserved"
    order_id: int
    lines: list[OrderLine]


class StockRejected(IntegrationEvent):
    """An order could not be reserved; nothing was taken."""

    topic = "gluta.product.stock-rejected"
    order_id: int
    short_lines: list[ShortLine]


class StockReleased(IntegrationEvent):
    """The stock of a cancelled order went back on the shelf."""

    topic = "gluta.product.stock-released"
    order_id: int
    lines: list[OrderLine]


# --- order-service ------------------------------------------------------------------------------
class OrderPlaced(IntegrationEvent):
    """An order is PENDING: pay money and coupons are taken; stock must now be reserved."""

    topic = "gluta.order.order-placed"
    order_id: int
    member_id: int
    lines: list[OrderLine]


class OrderConfirmed(IntegrationEvent):
    """An order is CONFIRMED: stock and pay money are taken for good."""

    topic = "gluta.order.order-confirmed"
    order_id: int
    member_id: int
    lines: list[OrderLine]
    pay_amount: int


class OrderCancelled(IntegrationEvent):
    """An order ended CANCELLED; `was_confirmed` tells whether it had been CONFIRMED before.

    It is written in the same transaction as the cancellation, so it is always emitted, possibly before
    the product service saw the order's OrderPlaced (topics are not ordered with each other). Consumers
    release whatever stock the order holds and remember the order as cancelled, so that a late
    OrderPlaced reserves nothing (or its reservation is released at once).
    """

    topic = "gluta.order.order-cancelled"
    order_id: int
    member_id: int
    reason: str
    lines: list[OrderLine]
    was_confirmed: bool = False


class CouponClaimed(IntegrationEvent):
    """A member passed the first-come gate; the issuance is persisted by its consumer."""

    topic = "gluta.order.coupon-claimed"
    coupon_id: int
    member_id: int


# --- config -------------------------------------------------------------------------------------
class ConfigRefreshed(IntegrationEvent):
    """The configuration repository changed; every instance re-reads its settings."""

    topic = "gluta.config.refreshed"
    version: str
