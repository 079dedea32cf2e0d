"""Pricing an order from the product snapshot and the member's coupons (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gluta_order.coupon.exceptions import CouponNotUsable
from gluta_order.snapshot.exceptions import ProductNotFound, ProductUnknown


@dataclass(frozen=True)
class WantedLine:
    """A product, how many, and the member coupon to apply to it."""

    product_id: int
    quantity: int
    member_coupon_id: int | None = None


@dataclass(frozen=True)
class ProductPrice:
    """What pricing needs to know of a product."""

    product_id: int
    name: str
    unit_price: int
    on_sale: bool


@dataclass(frozen=True)
class HeldCoupon:
    """A member's copy of a coupon, with the coupon's rules."""

    member_coupon_id: int
    member_id: int
    used: bool
    discount_type: str
    discount_value: int
    max_discount: int | None = None
    min_order_amount: int = 0
    product_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class PricedLine:
    """One priced line: `line_total` = unit_price * quantity - discount."""

    product_id: int
    name: str
    unit_price: int
    quantity: int
    member_coupon_id: int | None
    discount: int
    line_total: int


@dataclass(frozen=True)
class PricedOrder:
    """The priced order: what it costs, what coupons take off, what the member pays."""

    lines: list[PricedLine]
    total_amount: int
    discount_amount: int
    pay_amount: int
    units: int


def discount_of(coupon: HeldCoupon, line_amount: int) -> int:
    """Return what a coupon takes off a line: FIXED its value, PERCENT rounded down and capped; never the line."""
    if coupon.discount_type == "PERCENT":
        discount = line_amount * coupon.discount_value // 100
        if coupon.max_discount is not None:
            discount = min(discount, coupon.max_discount)
    else:
        discount = coupon.discount_value
    return max(0, min(discount, line_amount))


def _check_coupon(coupon: HeldCoupon | None, *, member_id: int, product_id: int, order_amount: int,
                  now: datetime) -> HeldCoupon:
    if coupon is None or coupon.member_id != member_id:
        raise CouponNotUsable("you hold no such coupon")
    if coupon.used:
        raise CouponNotUsable("this coupon was already used")
    if coupon.starts_at is not None and now < coupon.starts_at:
        raise CouponNotUsable("this coupon is not valid yet")
    if coupon.ends_at is not None and now >= coupon.ends_at:
        raise CouponNotUsable("this coupon has expired")
    if coupon.product_id is not None and coupon.product_id != product_id:
        raise CouponNotUsable("this coupon is for another product")
    if order_amount < coupon.min_order_amount:
        raise CouponNotUsable(f"this coupon needs an order of at least {coupon.min_order_amount} won")
    return coupon


def price_order(wanted: Sequence[WantedLine], products: Mapping[int, ProductPrice],
                coupons: Mapping[int, HeldCoupon], *, member_id: int, now: datetime) -> PricedOrder:
    """Price every line from the snapshot and apply each line's coupon after checking it.

    A coupon's minimum order amount is compared with the order's total before discounts. Products the
    snapshot does not know raise `ProductUnknown` (the caller reads them through); known products that are
    not on sale raise `ProductNotFound`.
    """
    unknown = [line.product_id for line in wanted if line.product_id not in products]
    if unknown:
        raise ProductUnknown(unknown)
    gross: list[tuple[WantedLine, ProductPrice]] = []
    for line in wanted:
        product = products[line.product_id]
        if not product.on_sale:
            raise ProductNotFound(f"product {line.product_id} is not for sale")
        gross.append((line, product))
    total = sum(p.unit_price * w.quantity for w, p in gross)
    seen: set[int] = set()
    lines: list[PricedLine] = []
    for line, product in gross:
        amount = product.unit_price * line.quantity
        discount = 0
        if line.member_coupon_id is not None:
            if line.member_coupon_id in seen:
                raise CouponNotUsable("a coupon applies to one order line only")
            seen.add(line.member_coupon_id)
            coupon = _check_coupon(coupons.get(line.member_coupon_id), member_id=member_id,
                                   product_id=line.product_id, order_amount=total, now=now)
            discount = discount_of(coupon, amount)
        lines.append(PricedLine(product_id=line.product_id, name=product.name, unit_price=product.unit_price,
                                quantity=line.quantity, member_coupon_id=line.member_coupon_id, discount=discount,
                                line_total=amount - discount))
    discount_total = sum(line.discount for line in lines)
    return PricedOrder(lines=lines, total_amount=total, discount_amount=discount_total,
                       pay_amount=total - discount_total, units=sum(line.quantity for line in lines))
