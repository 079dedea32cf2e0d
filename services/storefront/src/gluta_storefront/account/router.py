"""Sign-up (live login-id check), login, logout, find login id, password reset, language switch."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gluta_kit.web import ApiError, GatewayUnavailable, flash, gettext, verify_csrf
from gluta_kit.web.gateway import current_member, store_tokens
from gluta_kit.web.i18n import LOCALE_COOKIE
from gluta_storefront.messages import N_, FormErrors, error_message, field_message, form_errors
from gluta_storefront.web import USER, gateway, redirect, render, safe_next, web_of

router = APIRouter(dependencies=[Depends(verify_csrf)])

LOGIN_ID = re.compile(r"^[a-z0-9_]{4,20}$")
PASSWORD = re.compile(r"^(?=.*[A-Za-z])(?=.*\d).{8,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9][0-9-]{6,18}[0-9]$")
MEMBER_FIELDS = ("memberName", "phoneNumber", "email", "postNumber", "address", "addressDetail")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() if k not in ("password", "passwordConfirm", "newPassword", "currentPassword") else v
            for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def check_member_fields(values: dict[str, str], errors: FormErrors) -> None:
    """Check the member fields as the user service will, so most mistakes are said before the call."""
    if not values.get("memberName"):
        errors.fields["memberName"] = field_message("memberName")
    if not PHONE.match(values.get("phoneNumber", "")):
        errors.fields["phoneNumber"] = field_message("phoneNumber")
    if not EMAIL.match(values.get("email", "")):
        errors.fields["email"] = field_message("email")


def check_password(values: dict[str, str], errors: FormErrors, name: str = "password") -> None:
    """Check a new password and its confirmation."""
    if not PASSWORD.match(values.get(name, "")):
        errors.fields[name] = field_message("password")
    elif values.get(name) != values.get("passwordConfirm"):
        errors.fields["passwordConfirm"] = gettext(N_("The two passwords differ."))


# --- language ----------------------------------------------------------------------------------------------
@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    """Switch the pages' language (ko, en) and go back."""
    catalogs = web_of(request).extra["catalogs"]
    response = redirect(safe_next(request.query_params.get("next"), "/"))
    response.status_code = 302
    response.set_cookie(LOCALE_COOKIE, catalogs.pick(lang), max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response


# --- sign-up -------------------------------------------------------------------------------------------------
@router.get("/signup")
async def signup_page(request: Request) -> Response:
    """The sign-up form."""
    if current_member(request):
        return redirect("/")
    return render(request, "signup.html", values={}, errors=FormErrors())


@router.get("/signup/check-login-id")
async def check_login_id(request: Request) -> Response:
    """Say whether a login id can be used (the sign-up form asks while the user types)."""
    login_id = (request.query_params.get("loginId") or "").strip()
    if not LOGIN_ID.match(login_id):
        return JSONResponse({"ok": False, "message": field_message("loginId")})
    result = await gateway(request).get(request, f"{USER}/members/login-id/duplicate", params={"loginId": login_id},
                                        auth="none")
    if result.get("duplicate"):
        return JSONResponse({"ok": False, "message": error_message("LOGIN_ID_TAKEN")})
    return JSONResponse({"ok": True, "message": gettext(N_("This login ID is available."))})


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Create the account, then log in with it."""
    values = await _form(request)
    errors = FormErrors()
    if not LOGIN_ID.match(values.get("loginId", "")):
        errors.fields["loginId"] = field_message("loginId")
    check_password(values, errors)
    check_member_fields(values, errors)
    if errors:
        return render(request, "signup.html", status_code=422, values=values, errors=errors)
    body: dict[str, Any] = {"loginId": values["loginId"], "password": values["password"]}
    body.update({name: values.get(name) or None for name in MEMBER_FIELDS})
    gw = gateway(request)
    try:
        await gw.post(request, f"{USER}/members", json=body, auth="none")
        tokens = await gw.post(request, f"{USER}/login", json={"loginId": values["loginId"],
                                                               "password": values["password"]}, auth="none")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "signup.html", status_code=exc.status, values=values, errors=form_errors(exc))
    _log_in(request, tokens)
    flash(request, gettext(N_("Welcome to Glutathione, %(name)s!")) % {"name": tokens["member"]["memberName"]},
          "success")
    return redirect("/")


# --- login / logout ---------------------------------------------------------------------------------------
def _log_in(request: Request, tokens: dict[str, Any]) -> None:
    csrf = request.session.get("csrf")
    request.session.rotate()  # a new session id after login: no session fixation
    store_tokens(request, tokens)
    if csrf:
        request.session["csrf"] = csrf


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The login form."""
    next_url = safe_next(request.query_params.get("next"), "/")
    if current_member(request):
        return redirect(next_url)
    return render(request, "login.html", next_url=next_url, values={}, errors=FormErrors())


@router.post("/login")
async def login(request: Request) -> Response:
    """Log in and go back to where the user was."""
    values = await _form(request)
    next_url = safe_next(values.get("next"), "/")
    if not values.get("loginId") or not values.get("password"):
        errors = FormErrors(gettext(N_("Enter your login ID and password.")))
        return render(request, "login.html", status_code=422, next_url=next_url, values=values, errors=errors)
    try:
        tokens = await gateway(request).post(request, f"{USER}/login", auth="none",
                                             json={"loginId": values["loginId"], "password": values["password"]})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        errors = FormErrors(error_message(exc.code if exc.code != "VALIDATION_ERROR" else "INVALID_CREDENTIALS"))
        return render(request, "login.html", status_code=exc.status, next_url=next_url, values=values, errors=errors)
    _log_in(request, tokens)
    return redirect(next_url)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Log out: the refresh token is revoked and the session forgotten."""
    auth = request.session.get("auth")
    if isinstance(auth, dict):
        try:
            await gateway(request).call(request, "POST", f"{USER}/logout", json={"refreshToken": auth.get("refresh")},
                                        raise_for_status=False)
        except Exception:  # noqa: BLE001 - the local logout happens whatever the user service says
            pass
    request.session.clear()
    flash(request, gettext(N_("You are logged out.")), "info")
    return redirect("/")


# --- account recovery -------------------------------------------------------------------------------------
@router.get("/find-login-id")
async def find_login_id_page(request: Request) -> Response:
    """The form that mails the login id."""
    return render(request, "find_login_id.html", values={}, errors=FormErrors(), sent=False)


@router.post("/find-login-id")
async def find_login_id(request: Request) -> Response:
    """Ask for the login id by mail (the answer never tells whether the email is known)."""
    values = await _form(request)
    if not EMAIL.match(values.get("email", "")):
        errors = FormErrors(None, {"email": field_message("email")})
        return render(request, "find_login_id.html", status_code=422, values=values, errors=errors, sent=False)
    try:
        await gateway(request).post(request, f"{USER}/members/find-login-id", json={"email": values["email"]},
                                    auth="none")
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "find_login_id.html", status_code=exc.status, values=values,
                      errors=form_errors(exc), sent=False)
    return render(request, "find_login_id.html", values=values, errors=FormErrors(), sent=True)


@router.get("/password-reset")
async def password_reset_page(request: Request) -> Response:
    """Ask for a reset link, or (with `?token=` from the mail) choose a new password."""
    token = request.query_params.get("token")
    if token:
        return render(request, "password_reset_confirm.html", token=token[:512], errors=FormErrors())
    return render(request, "password_reset.html", values={}, errors=FormErrors(), sent=False)


@router.post("/password-reset")
async def password_reset(request: Request) -> Response:
    """Mail a one-time reset link when the login id and email match (never says whether they do)."""
    values = await _form(request)
    errors = FormErrors()
    if not values.get("loginId"):
        errors.fields["loginId"] = field_message("loginId")
    if not EMAIL.match(values.get("email", "")):
        errors.fields["email"] = field_message("email")
    if errors:
        return render(request, "password_reset.html", status_code=422, values=values, errors=errors, sent=False)
    try:
        await gateway(request).post(request, f"{USER}/members/password-reset", auth="none",
                                    json={"loginId": values["loginId"], "email": values["email"]})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return render(request, "password_reset.html", status_code=exc.status, values=values,
                      errors=form_errors(exc), sent=False)
    return render(request, "password_reset.html", values=values, errors=FormErrors(), sent=True)


@router.post("/password-reset/confirm")
async def password_reset_confirm(request: Request) -> Response:
    """Set the new password with the mailed token."""
    values = await _form(request)
    token = values.get("token", "")[:512]
    errors = FormErrors()
    check_password(values, errors, "newPassword")
    if errors:
        return render(request, "password_reset_confirm.html", status_code=422, token=token, errors=errors)
    try:
        await gateway(request).post(request, f"{USER}/members/password-reset/confirm", auth="none",
                                    json={"token": token, "newPassword": values["newPassword"]})
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        errors = form_errors(exc)
        if exc.code == "INVALID_TOKEN":
            errors = FormErrors(error_message(exc.code))
        return render(request, "password_reset_confirm.html", status_code=exc.status, token=token, errors=errors)
    flash(request, gettext(N_("Your password was changed. Please log in.")), "success")
    return redirect("/login")
