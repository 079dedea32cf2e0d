"""Checkout: receiver, pay money balance and charge, place the order; the order's live status; cancel."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from gluta_kit.web import ApiError, GatewayUnavailable, flash, gettext, verify_csrf
from gluta_storefront.cart.router import COUPONS_KEY, priced_lines
from gluta_storefront.messages import N_, FormErrors, error_message, form_errors
from gluta_storefront.web import ORDER, PRODUCT, USER, gateway, redirect, render, safe_next, to_int, web_of

router = APIRouter(dependencies=[Depends(verify_csrf)])

RECEIVER_FIELDS = ("name", "phoneNumber", "postNumber", "address", "addressDetail")
MIN_CHARGE, MAX_CHARGE = 1_000, 2_000_000


def _direct(request: Request) -> tuple[int | None, int, int | None]:
    query = request.query_params
    return (to_int(query.get("productId"), None, low=1), to_int(query.get("quantity"), 1, low=1, high=999) or 1,
            to_int(query.get("memberCouponId"), None, low=1))


async def _checkout_page(request: Request, *, product_id: int | None, quantity: int, coupon_id: int | None,
                         status_code: int = 200, errors: FormErrors | None = None,
                         receiver: dict[str, str] | None = None, charge_errors: FormErrors | None = None) -> Response:
    gw = gateway(request)
    me, wallet, coupons = await asyncio.gather(
        gw.get(request, f"{USER}/members/me", auth="required"),
        gw.get(request, f"{ORDER}/wallet", auth="required"),
        gw.get(request, f"{ORDER}/members/me/coupons", auth="required"),
    )
    if product_id is not None:
        try:
            product = await gw.get(request, f"{PRODUCT}/products/{product_id}")
        except ApiError as exc:
            if exc.status in (404, 422):
                raise HTTPException(404) from exc
            raise
        item = {"productId": product["productId"], "name": product["name"], "thumbnailUrl": product.get("thumbnailUrl"),
                "unitPrice": product["unitPrice"], "quantity": quantity,
                "lineTotal": int(product["unitPrice"]) * quantity, "available": not product.get("soldOut")}
        chosen = {str(product_id): coupon_id} if coupon_id else {}
        lines, totals = priced_lines([item], coupons or [], chosen)
        mode = "direct"
    else:
        cart = await gw.get(request, f"{ORDER}/cart", auth="required")
        items = [i for i in cart.get("items") or [] if i.get("available", True)]
        if not items:
            flash(request, gettext(N_("Your cart is empty.")), "error")
            return redirect("/cart")
        lines, totals = priced_lines(items, coupons or [], request.session.get(COUPONS_KEY) or {})
        mode = "cart"
    if receiver is None:
        receiver = {"name": me.get("memberName") or "", "phoneNumber": me.get("phoneNumber") or "",
                    "postNumber": me.get("postNumber") or "", "address": me.get("address") or "",
                    "addressDetail": me.get("addressDetail") or ""}
    balance = int((wallet or {}).get("balance") or 0)
    here = "/checkout"
    if product_id is not None:
        here = checkout_url(product_id, quantity) + (f"&memberCouponId={coupon_id}" if coupon_id else "")
    return render(request, "checkout.html", status_code=status_code, mode=mode, lines=lines, totals=totals,
                  balance=balance, shortfall=max(0, totals["pay"] - balance), receiver=receiver,
                  product_id=product_id, quantity=quantity, coupon_id=coupon_id, errors=errors or FormErrors(),
                  charge_errors=charge_errors or FormErrors(), order_key=uuid.uuid4().hex,
                  charge_key=uuid.uuid4().hex, here=here, min_charge=MIN_CHARGE, max_charge=MAX_CHARGE)


def _with_charge_error(url: str, code: str) -> str:
    base = url.split("#")[0]
    return base + ("&" if "?" in base else "?") + urlencode({"chargeError": code[:40]}) + "#charge"


def charge_errors(request: Request) -> FormErrors:
    """Return the message of a failed charge (carried in `?chargeError=CODE` after the redirect)."""
    code = request.query_params.get("chargeError")
    if not code:
        return FormErrors()
    if code == "VALIDATION_ERROR":
        return FormErrors(None, {"amount": gettext(N_("Charge between 1,000원 and 2,000,000원."))})
    return FormErrors(None, {"amount": error_message(code)})


@router.get("/checkout")
async def checkout(request: Request) -> Response:
    """The checkout page for the cart, or for one product (`?productId=&quantity=`: buy now)."""
    product_id, quantity, coupon_id = _direct(request)
    return await _checkout_page(request, product_id=product_id, quantity=quantity, coupon_id=coupon_id,
                                charge_errors=charge_errors(request))


@router.post("/checkout")
async def place_order(request: Request) -> Response:
    """Place the order (202 PENDING) and go to its page, where its status shows live."""
    form = await request.form()
    value = {k: v for k, v in form.items() if isinstance(v, str)}
    receiver = {name: value.get(f"receiver.{name}", "").strip() for name in RECEIVER_FIELDS}
    product_id = to_int(value.get("productId"), None, low=1)
    quantity = to_int(value.get("quantity"), 1, low=1, high=999) or 1
    coupon_id = to_int(value.get("memberCouponId"), None, low=1)
    key = (value.get("orderKey") or uuid.uuid4().hex)[:64]
    missing = {f"receiver.{name}": gettext(N_("This field is required."))
               for name in ("name", "phoneNumber", "address") if not receiver[name]}
    if missing:
        return await _checkout_page(request, product_id=product_id, quantity=quantity, coupon_id=coupon_id,
                                    status_code=422, errors=FormErrors(None, missing), receiver=receiver)
    body: dict[str, Any] = {"receiver": receiver}
    if product_id is not None:
        item: dict[str, Any] = {"productId": product_id, "quantity": quantity}
        if coupon_id:
            item["memberCouponId"] = coupon_id
        body["items"] = [item]
    else:
        body["fromCart"] = True
        chosen = request.session.get(COUPONS_KEY) or {}
        if chosen:
            body["couponsByProduct"] = {str(k): v for k, v in chosen.items()}
    try:
        order = await gateway(request).post(request, f"{ORDER}/orders", json=body, auth="required",
                                            headers={"Idempotency-Key": key})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        errors = form_errors(exc, {"INSUFFICIENT_PAY_MONEY": "payMoney"})
        return await _checkout_page(request, product_id=product_id, quantity=quantity, coupon_id=coupon_id,
                                    status_code=exc.status, errors=errors, receiver=receiver)
    if product_id is None:
        request.session.pop(COUPONS_KEY, None)
    return redirect(f"/orders/{order['orderId']}")


@router.post("/checkout/charge")
async def charge(request: Request, amount: str = Form(""), charge_key: str = Form("", alias="chargeKey"),
                 next_url: str = Form("/checkout", alias="next")) -> Response:
    """Charge pay money (local mode approves at once) and come back to the page."""
    back = safe_next(next_url, "/checkout")
    value = to_int(amount.replace(",", ""), None)
    if value is None or not MIN_CHARGE <= value <= MAX_CHARGE:
        return redirect(_with_charge_error(back, "VALIDATION_ERROR"))
    try:
        wallet = await gateway(request).post(request, f"{ORDER}/wallet/charge", json={"amount": value},
                                             auth="required",
                                             headers={"Idempotency-Key": charge_key[:64] or uuid.uuid4().hex})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return redirect(_with_charge_error(back, exc.code))
    flash(request, gettext(N_("Pay money charged. Balance: %(balance)s")) % {
        "balance": web_of(request).env.filters["won"](wallet.get("balance"))}, "success")
    return redirect(back)


async def _order(request: Request, order_id: int) -> dict[str, Any]:
    try:
        return await gateway(request).get(request, f"{ORDER}/orders/{order_id}", auth="required")
    except ApiError as exc:
        if exc.status in (404, 422):
            raise HTTPException(404) from exc
        raise


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: int) -> Response:
    """One order; while it is PENDING its status is refreshed live."""
    return render(request, "order.html", order=await _order(request, order_id))


@router.get("/orders/{order_id}/status")
async def order_status(request: Request, order_id: int) -> Response:
    """The status block of an order (the order page polls it)."""
    response = render(request, "_order_status.html", order=await _order(request, order_id))
    return response


@router.post("/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: int, next_url: str = Form("", alias="next")) -> Response:
    """Cancel an order; a confirmed one is refunded and restocked."""
    back = safe_next(next_url, f"/orders/{order_id}")
    try:
        await gateway(request).post(request, f"{ORDER}/orders/{order_id}/cancel", auth="required")
        flash(request, gettext(N_("Your order is being cancelled. Pay money is refunded.")), "success")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        flash(request, error_message(exc.code), "error")
    return redirect(back)


def checkout_url(product_id: int, quantity: int) -> str:
    """Return the buy-now checkout URL of a product."""
    return "/checkout?" + urlencode({"productId": product_id, "quantity": quantity})
