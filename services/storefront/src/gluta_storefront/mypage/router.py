"""My page: summary, purchase history (cancel), likes, coupons, pay money, edit info, password, withdraw."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gluta_kit.web import ApiError, GatewayUnavailable, flash, gettext, verify_csrf
from gluta_storefront.account.router import MEMBER_FIELDS, PASSWORD, _form, check_member_fields
from gluta_storefront.checkout.router import MAX_CHARGE, MIN_CHARGE, charge_errors
from gluta_storefront.messages import N_, FormErrors, field_message, form_errors
from gluta_storefront.web import ORDER, PRODUCT, USER, gateway, redirect, render, to_int

router = APIRouter(prefix="/mypage", dependencies=[Depends(verify_csrf)])

PAGE_SIZE = 10


def _paging(request: Request, data: dict[str, Any], path: str) -> dict[str, Any]:
    total = int(data.get("total") or 0)
    size = int(data.get("size") or PAGE_SIZE)
    pages = max(1, -(-total // size))
    page = int(data.get("page") or 1)
    return {"page": page, "pages": pages, "url": lambda n: f"{path}?{urlencode({'page': n})}"}


def _page(request: Request) -> int:
    return to_int(request.query_params.get("page"), 1, low=1, high=100_000) or 1


@router.get("")
async def summary(request: Request) -> Response:
    """My page: member info, balance, recent orders and likes (parts whose service is down are named)."""
    data = await gateway(request).get(request, f"{USER}/members/me/summary", auth="required")
    return render(request, "mypage/summary.html", tab="summary", summary=data)


@router.get("/orders")
async def orders(request: Request) -> Response:
    """Purchase history, newest first, with cancel."""
    data = await gateway(request).get(request, f"{ORDER}/orders", params={"page": _page(request), "size": PAGE_SIZE},
                                      auth="required")
    return render(request, "mypage/orders.html", tab="orders", orders=data.get("items") or [],
                  paging=_paging(request, data, "/mypage/orders"))


@router.get("/likes")
async def likes(request: Request) -> Response:
    """Products the member liked."""
    data = await gateway(request).get(request, f"{PRODUCT}/members/me/likes",
                                      params={"page": _page(request), "size": 12}, auth="required")
    return render(request, "mypage/likes.html", tab="likes", products=data.get("items") or [],
                  paging=_paging(request, data, "/mypage/likes"))


@router.get("/coupons")
async def coupons(request: Request) -> Response:
    """The member's coupons, usable ones first."""
    data = await gateway(request).get(request, f"{ORDER}/members/me/coupons", auth="required")
    items = sorted(data or [], key=lambda c: (bool(c.get("used")), c.get("expiresAt") or ""))
    return render(request, "mypage/coupons.html", tab="coupons", coupons=items)


@router.get("/paymoney")
async def paymoney(request: Request) -> Response:
    """Pay money balance, charge form and history."""
    gw = gateway(request)
    wallet = await gw.get(request, f"{ORDER}/wallet", auth="required")
    history = await gw.get(request, f"{ORDER}/wallet/transactions", params={"page": _page(request), "size": PAGE_SIZE},
                           auth="required")
    return render(request, "mypage/paymoney.html", tab="paymoney", balance=int(wallet.get("balance") or 0),
                  transactions=history.get("items") or [], paging=_paging(request, history, "/mypage/paymoney"),
                  charge_key=uuid.uuid4().hex, charge_errors=charge_errors(request), min_charge=MIN_CHARGE,
                  max_charge=MAX_CHARGE)


@router.get("/profile")
async def profile_page(request: Request) -> Response:
    """Edit my information."""
    me = await gateway(request).get(request, f"{USER}/members/me", auth="required")
    return render(request, "mypage/profile.html", tab="profile", values=me, errors=FormErrors())


@router.post("/profile")
async def profile(request: Request) -> Response:
    """Save my information."""
    values = await _form(request)
    errors = FormErrors()
    check_member_fields(values, errors)
    if errors:
        return render(request, "mypage/profile.html", status_code=422, tab="profile", values=values, errors=errors)
    body = {name: values.get(name) or None for name in MEMBER_FIELDS}
    try:
        await gateway(request).put(request, f"{USER}/members/me", json=body, auth="required")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "mypage/profile.html", status_code=exc.status, tab="profile", values=values,
                      errors=form_errors(exc))
    auth = request.session.get("auth")
    if isinstance(auth, dict) and values.get("memberName"):
        request.session["auth"] = {**auth, "member": {**auth.get("member", {}), "memberName": values["memberName"]}}
    flash(request, gettext(N_("Your information was saved.")), "success")
    return redirect("/mypage/profile")


@router.get("/password")
async def password_page(request: Request) -> Response:
    """Change my password."""
    return render(request, "mypage/password.html", tab="password", errors=FormErrors())


@router.post("/password")
async def change_password(request: Request) -> Response:
    """Change the password (the current one is asked)."""
    values = await _form(request)
    errors = FormErrors()
    if not values.get("currentPassword"):
        errors.fields["currentPassword"] = field_message("currentPassword")
    if not PASSWORD.match(values.get("newPassword", "")):
        errors.fields["newPassword"] = field_message("newPassword")
    elif values.get("newPassword") != values.get("passwordConfirm"):
        errors.fields["passwordConfirm"] = gettext(N_("The two passwords differ."))
    if errors:
        return render(request, "mypage/password.html", status_code=422, tab="password", errors=errors)
    try:
        await gateway(request).put(request, f"{USER}/members/me/password", auth="required",
                                   json={"currentPassword": values["currentPassword"],
                                         "newPassword": values["newPassword"]})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "mypage/password.html", status_code=exc.status, tab="password",
                      errors=form_errors(exc, {"INVALID_CREDENTIALS": "currentPassword"}))
    flash(request, gettext(N_("Your password was changed.")), "success")
    return redirect("/mypage")


@router.get("/withdraw")
async def withdraw_page(request: Request) -> Response:
    """Leave the shop."""
    return render(request, "mypage/withdraw.html", tab="withdraw", errors=FormErrors())


@router.post("/withdraw")
async def withdraw(request: Request) -> Response:
    """Delete the account (the password is asked); the member is logged out."""
    values = await _form(request)
    if not values.get("password"):
        errors = FormErrors(None, {"password": gettext(N_("Enter your password."))})
        return render(request, "mypage/withdraw.html", status_code=422, tab="withdraw", errors=errors)
    try:
        await gateway(request).delete(request, f"{USER}/members/me", json={"password": values["password"]},
                                      auth="required")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "mypage/withdraw.html", status_code=exc.status, tab="withdraw",
                      errors=form_errors(exc, {"INVALID_CREDENTIALS": "password"}))
    request.session.clear()
    flash(request, gettext(N_("Your account was deleted. Thank you for shopping with us.")), "info")
    return redirect("/")
