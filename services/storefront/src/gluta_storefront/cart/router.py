"""The cart: change quantities, remove lines, choose one coupon per line, see the totals."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from gluta_kit.web import ApiError, GatewayUnavailable, flash, gettext, verify_csrf
from gluta_storefront.messages import N_, error_message
from gluta_storefront.web import ORDER, gateway, redirect, render, to_int

router = APIRouter(dependencies=[Depends(verify_csrf)])

COUPONS_KEY = "cart_coupons"  # {productId: memberCouponId} chosen on the cart page, used at checkout


def estimate_discount(coupon: dict[str, Any] | None, line_total: int) -> int:
    """Return the discount a coupon gives on a line (the order service has the final word)."""
    if not coupon:
        return 0
    value = int(coupon.get("discountValue") or 0)
    if coupon.get("discountType") == "PERCENT":
        discount = line_total * value // 100
        if coupon.get("maxDiscount"):
            discount = min(discount, int(coupon["maxDiscount"]))
    else:
        discount = value
    return max(0, min(discount, line_total))


def usable_coupons(coupons: list[dict[str, Any]], product_id: int) -> list[dict[str, Any]]:
    """Return the member's unused coupons that can apply to a product."""
    return [c for c in coupons if not c.get("used") and c.get("productId") in (None, product_id)]


def priced_lines(items: list[dict[str, Any]], coupons: list[dict[str, Any]],
                 chosen: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Attach the usable coupons, the chosen one and its discount to each line; return lines and totals."""
    by_id = {c["memberCouponId"]: c for c in coupons}
    lines: list[dict[str, Any]] = []
    taken: set[int] = set()
    for item in items:
        product_id = int(item["productId"])
        line_total = int(item.get("lineTotal") or int(item.get("unitPrice") or 0) * int(item.get("quantity") or 0))
        options = usable_coupons(coupons, product_id)
        choice = to_int(chosen.get(str(product_id)))
        coupon = by_id.get(choice) if choice in {c["memberCouponId"] for c in options} and choice not in taken else None
        if coupon:
            taken.add(coupon["memberCouponId"])
        discount = estimate_discount(coupon, line_total) if item.get("available", True) else 0
        lines.append({**item, "lineTotal": line_total, "coupons": options, "coupon": coupon, "discount": discount})
    subtotal = sum(line["lineTotal"] for line in lines if line.get("available", True))
    discount = sum(line["discount"] for line in lines)
    return lines, {"subtotal": subtotal, "discount": discount, "pay": subtotal - discount}


async def _cart_page(request: Request, status_code: int = 200, line_errors: dict[int, str] | None = None) -> Response:
    gw = gateway(request)
    cart, coupons = await asyncio.gather(
        gw.get(request, f"{ORDER}/cart", auth="required"),
        gw.get(request, f"{ORDER}/members/me/coupons", auth="required"),
    )
    lines, totals = priced_lines(cart.get("items") or [], coupons or [], request.session.get(COUPONS_KEY) or {})
    return render(request, "cart.html", status_code=status_code, lines=lines, totals=totals,
                  line_errors=line_errors or {})


@router.get("/cart")
async def cart(request: Request) -> Response:
    """The cart page."""
    return await _cart_page(request)


@router.post("/cart/items/{cart_item_id}/quantity")
async def change_quantity(request: Request, cart_item_id: int, quantity: str = Form("")) -> Response:
    """Change the quantity of a line."""
    count = to_int(quantity, None, low=1, high=999)
    if count is None:
        return await _cart_page(request, 422, {cart_item_id: gettext(N_("Choose a quantity of at least 1."))})
    try:
        await gateway(request).patch(request, f"{ORDER}/cart/items/{cart_item_id}", json={"quantity": count},
                                     auth="required")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return await _cart_page(request, exc.status, {cart_item_id: error_message(exc.code)})
    return redirect("/cart")


@router.post("/cart/items/{cart_item_id}/delete")
async def remove_line(request: Request, cart_item_id: int) -> Response:
    """Remove a line from the cart."""
    try:
        await gateway(request).delete(request, f"{ORDER}/cart/items/{cart_item_id}", auth="required")
        flash(request, gettext(N_("The item was removed from your cart.")), "success")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        flash(request, error_message(exc.code), "error")
    return redirect("/cart")


@router.post("/cart/coupons")
async def choose_coupons(request: Request) -> Response:
    """Remember the coupon chosen for each line (fields `coupon-<productId>`)."""
    form = await request.form()
    chosen: dict[str, int] = {}
    used: set[int] = set()
    clash = False
    for name, value in form.multi_items():
        if not name.startswith("coupon-") or not isinstance(value, str):
            continue
        product_id = to_int(name.removeprefix("coupon-"), None, low=1)
        coupon_id = to_int(value, None, low=1)
        if product_id is None or coupon_id is None:
            continue
        if coupon_id in used:
            clash = True
            continue
        used.add(coupon_id)
        chosen[str(product_id)] = coupon_id
    request.session[COUPONS_KEY] = chosen
    if clash:
        flash(request, gettext(N_("A coupon can be used on one item only.")), "error")
    return redirect("/cart")
