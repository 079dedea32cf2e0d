"""Coupons: create (first-come with a quantity and a time window, fixed or percent with a cap), disable."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.coupon.service import parse_coupon
from gluta_admin.web import Admin, _, describe, flash_error, gateway, redirect, render
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

ADMIN_COUPONS = "/api/order-service/admin/coupons"
COUPONS = "/api/order-service/coupons"


async def _page(request: Request, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                status_code: int = 200) -> HTMLResponse:
    coupons = await gateway(request).get(request, ADMIN_COUPONS, auth="required") or []
    coupons = sorted(coupons, key=lambda c: (bool(c.get("disabled")), -int(c.get("couponId") or 0)))
    return render(request, "coupons.html", status_code=status_code, nav="coupons", coupons=coupons,
                  values=values or {"discountType": "FIXED"}, errors=errors or {})


@router.get("/coupons", response_class=HTMLResponse)
async def coupon_list(request: Request, admin: Admin) -> HTMLResponse:
    """List coupons with issued and used counts, and the form for a new one."""
    return await _page(request)


@router.post("/coupons", response_class=HTMLResponse)
async def create_coupon(request: Request, admin: Admin) -> Response:
    """Create a coupon."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    body, errors = parse_coupon(form)
    if not errors:
        try:
            created = await gateway(request).post(request, COUPONS, auth="required", json=body)
        except ApiError as exc:
            errors = {k.split(".")[0]: v for k, v in exc.fields.items()}
            errors["form"] = describe(exc, _("The coupon could not be created."))
        else:
            flash(request, _("Coupon “%(name)s” was created.") % {"name": created.get("name", body["name"])},
                  "success")
            return redirect("/coupons")
    errors.setdefault("form", _("Check the highlighted fields."))
    return await _page(request, values=values, errors=errors, status_code=422)


@router.post("/coupons/{coupon_id}/disable")
async def disable_coupon(request: Request, coupon_id: int, admin: Admin) -> Response:
    """Stop a coupon from being claimed (copies already issued stay usable)."""
    try:
        await gateway(request).delete(request, f"{COUPONS}/{coupon_id}", auth="required")
    except ApiError as exc:
        flash_error(request, exc, _("The coupon could not be disabled."))
        return redirect("/coupons")
    flash(request, _("The coupon was disabled; no more claims."), "success")
    return redirect("/coupons")
