"""Every integration event of the mall, grouped by the service that emits it.

Topics are `gluta.<emitter>.<event>`; a consumer names itself when it subscribes, so several
services can each receive every event of a topic, and several instances of one service share it.
`key_fields` name the aggregate an event is about; on Kafka it is the message key, so the events of one
order (one product, one member) on a topic keep their order, while different aggregates spread over the
partitions and the consumers' instances.
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
    key_fields = ("member_id",)
    member_id: int
    login_id: str
    member_name: str
    email: str


class MemberUpdated(IntegrationEvent):
    """A member changed their name or contact details."""

    topic = "gluta.user.member-updated"
    key_fields = ("member_id",)
    member_id: int
    login_id: str
    member_name: str
    email: str


class MemberWithdrawn(IntegrationEvent):
    """A member withdrew; their login id stays taken."""

    topic = "gluta.user.member-withdrawn"
    key_fields = ("member_id",)
    member_id: int
    login_id: str


class TokensRevoked(IntegrationEvent):
    """Access tokens end before they expire: one session's (`family_id`: logout, refresh-token reuse) or
    every token of a member or admin issued before `not_before` (withdrawal, password reset).

    Every instance of every service that verifies tokens applies it (a broadcast subscription);
    `expires_at` (epoch seconds) is when the entry stops mattering: the last token it covers has expired.
    """

    topic = "gluta.user.tokens-revoked"
    key_fields = ("role", "subject_id")
    role: str
    subject_id: int
    family_id: str | None = None
    not_before: int | None = None
    expires_at: int


# --- product-service ----------------------------------------------------------------------------
class ProductChanged(IntegrationEvent):
    """A product was created, edited or deleted; consumers keep their own snapshot."""

    topic = "gluta.product.product-changed"
    key_fields = ("product_id",)
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
    key_fields = ("order_id",)
    order_id: int
    lines: list[OrderLine]


class StockRejected(IntegrationEvent):
    """An order could not be reserved; nothing was taken."""

    topic = "gluta.product.stock-rejected"
    key_fields = ("order_id",)
    order_id: int
    short_lines: list[ShortLine]


class StockReleased(IntegrationEvent):
    """The stock of a cancelled order went back on the shelf."""

    topic = "gluta.product.stock-released"
    key_fields = ("order_id",)
    order_id: int
    lines: list[OrderLine]


# --- order-service ------------------------------------------------------------------------------
class OrderPlaced(IntegrationEvent):
    """An order is PENDING: pay money and coupons are taken; stock must now be reserved."""

    topic = "gluta.order.order-placed"
    key_fields = ("order_id",)
    order_id: int
    member_id: int
    lines: list[OrderLine]


class OrderConfirmed(IntegrationEvent):
    """An order is CONFIRMED: stock and pay money are taken for good."""

    topic = "gluta.order.order-confirmed"
    key_fields = ("order_id",)
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
    key_fields = ("order_id",)
    order_id: int
    member_id: int
    reason: str
    lines: list[OrderLine]
    was_confirmed: bool = False


class CouponClaimed(IntegrationEvent):
    """A member passed the first-come gate; the issuance is persisted by its consumer.

    Keyed by the member's copy (coupon and member), not by the coupon alone: a claim storm is thousands of
    claims of one coupon, which need no order among themselves, and one key would put them all on one
    partition, so on one instance of the persisting consumer, one at a time.
    """

    topic = "gluta.order.coupon-claimed"
    key_fields = ("coupon_id", "member_id")
    coupon_id: int
    member_id: int


# --- config -------------------------------------------------------------------------------------
class ConfigRefreshed(IntegrationEvent):
    """The configuration repository changed; every instance re-reads its settings."""

    topic = "gluta.config.refreshed"
    version: str
