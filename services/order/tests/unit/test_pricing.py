"""Pricing: percent and fixed coupons at their edges, and every reason a coupon is refused."""

from datetime import UTC, datetime, timedelta

import pytest

from gluta_order.checkout.pricing import HeldCoupon, ProductPrice, WantedLine, discount_of, price_order
from gluta_order.coupon.exceptions import CouponNotUsable
from gluta_order.snapshot.exceptions import ProductNotFound

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRODUCTS = {
    1: ProductPrice(1, "shirt", 12_345, True),
    2: ProductPrice(2, "socks", 900, True),
    3: ProductPrice(3, "gone", 5_000, False),
}


def coupon(member_coupon_id: int = 10, member_id: int = 7, **kwargs: object) -> HeldCoupon:
    values: dict[str, object] = {"used": False, "discount_type": "FIXED", "discount_value": 1_000}
    values.update(kwargs)
    return HeldCoupon(member_coupon_id=member_coupon_id, member_id=member_id, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "cap", "line", "expected"),
    [
        ("FIXED", 3_000, None, 20_000, 3_000),
        ("FIXED", 3_000, None, 3_000, 3_000),     # exactly the line
        ("FIXED", 3_000, None, 2_999, 2_999),     # never more than the line
        ("FIXED", 3_000, None, 0, 0),
        ("PERCENT", 10, None, 12_345, 1_234),     # rounded down
        ("PERCENT", 10, 10_000, 100_000, 10_000),  # exactly at the cap
        ("PERCENT", 10, 10_000, 100_010, 10_000),  # capped
        ("PERCENT", 10, 10_000, 99_990, 9_999),    # just under the cap
        ("PERCENT", 100, None, 7_777, 7_777),      # 100 % is the whole line, no more
        ("PERCENT", 1, None, 99, 0),               # less than a won rounds to nothing
        ("PERCENT", 50, 1, 1_000, 1),
    ],
)
def test_discount_edges(kind: str, value: int, cap: int | None, line: int, expected: int) -> None:
    assert discount_of(coupon(discount_type=kind, discount_value=value, max_discount=cap), line) == expected


def test_lines_are_priced_from_the_snapshot_and_the_coupon_goes_to_its_line() -> None:
    priced = price_order([WantedLine(1, 2, member_coupon_id=10), WantedLine(2, 3)], PRODUCTS,
                         {10: coupon(discount_type="PERCENT", discount_value=10)}, member_id=7, now=NOW)
    assert priced.total_amount == 12_345 * 2 + 900 * 3
    first, second = priced.lines
    assert (first.discount, first.line_total) == (2_469, 24_690 - 2_469)
    assert (second.discount, second.line_total) == (0, 2_700)
    assert priced.discount_amount == 2_469
    assert priced.pay_amount == priced.total_amount - 2_469
    assert priced.units == 5


def test_a_fixed_coupon_bigger_than_its_line_takes_only_the_line() -> None:
    priced = price_order([WantedLine(2, 1, member_coupon_id=10), WantedLine(1, 1)], PRODUCTS,
                         {10: coupon(discount_value=5_000)}, member_id=7, now=NOW)
    assert priced.lines[0].discount == 900 and priced.lines[0].line_total == 0
    assert priced.pay_amount == 12_345


@pytest.mark.parametrize(
    ("held", "line", "reason"),
    [
        (coupon(member_id=8), WantedLine(1, 1, 10), "no such coupon"),             # another member's
        (coupon(used=True), WantedLine(1, 1, 10), "already used"),
        (coupon(product_id=2), WantedLine(1, 1, 10), "another product"),
        (coupon(starts_at=NOW + timedelta(seconds=1)), WantedLine(1, 1, 10), "not valid yet"),
        (coupon(ends_at=NOW), WantedLine(1, 1, 10), "expired"),                    # the end is excluded
        (coupon(min_order_amount=24_691), WantedLine(1, 2, 10), "at least"),
    ],
)
def test_refused_coupons(held: HeldCoupon, line: WantedLine, reason: str) -> None:
    with pytest.raises(CouponNotUsable, match=reason):
        price_order([line], PRODUCTS, {10: held}, member_id=7, now=NOW)


def test_coupon_limits_met_exactly_are_accepted() -> None:
    held = coupon(product_id=1, min_order_amount=24_690, starts_at=NOW, ends_at=NOW + timedelta(microseconds=1))
    priced = price_order([WantedLine(1, 2, 10)], PRODUCTS, {10: held}, member_id=7, now=NOW)
    assert priced.discount_amount == 1_000


def test_an_unknown_coupon_and_one_coupon_on_two_lines_are_refused() -> None:
    with pytest.raises(CouponNotUsable):
        price_order([WantedLine(1, 1, 99)], PRODUCTS, {}, member_id=7, now=NOW)
    with pytest.raises(CouponNotUsable, match="one order line"):
        price_order([WantedLine(1, 1, 10), WantedLine(2, 1, 10)], PRODUCTS, {10: coupon()}, member_id=7, now=NOW)


def test_unknown_or_withdrawn_products_are_not_for_sale() -> None:
    with pytest.raises(ProductNotFound):
        price_order([WantedLine(42, 1)], PRODUCTS, {}, member_id=7, now=NOW)
    with pytest.raises(ProductNotFound):
        price_order([WantedLine(3, 1)], PRODUCTS, {}, member_id=7, now=NOW)
