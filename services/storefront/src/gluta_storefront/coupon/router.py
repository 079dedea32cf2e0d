"""Coupons that can be claimed now: remaining count, sold-out state, claim (first come, first served)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gluta_kit.web import ApiError, GatewayUnavailable, LoginRequired, flash, gettext, verify_csrf
from gluta_kit.web.gateway import current_member
from gluta_storefront.messages import N_, error_message
from gluta_storefront.web import ORDER, gateway, login_url, redirect, render

router = APIRouter(dependencies=[Depends(verify_csrf)])


async def _coupons_page(request: Request, status_code: int = 200, claim_errors: dict[int, str] | None = None,
                        ) -> Response:
    gw = gateway(request)
    coupons = await gw.get(request, f"{ORDER}/coupons", auth="none")
    mine: set[int] = set()
    if current_member(request):
        try:
            held = await gw.get(request, f"{ORDER}/members/me/coupons", auth="required")
            mine = {int(c["couponId"]) for c in held or []}
        except LoginRequired:
            pass
    return render(request, "coupons.html", status_code=status_code, coupons=coupons or [], mine=mine,
                  claim_errors=claim_errors or {})


@router.get("/coupons")
async def coupons(request: Request) -> Response:
    """The coupons page."""
    return await _coupons_page(request)


@router.post("/coupons/{coupon_id}/claim")
async def claim(request: Request, coupon_id: int) -> Response:
    """Claim a coupon; sold out, already held or inactive is said next to the coupon."""
    try:
        await gateway(request).post(request, f"{ORDER}/coupons/{coupon_id}/issue", auth="required")
    except LoginRequired:
        return redirect(login_url("/coupons"))
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return await _coupons_page(request, exc.status, {coupon_id: error_message(exc.code)})
    flash(request, gettext(N_("The coupon is yours. Choose it in your cart.")), "success")
    return redirect("/coupons")
