"""Log in (administrators only), log out, switch language."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gluta_admin.web import _, current_admin, gateway, redirect, render, safe_next
from gluta_kit.web import ApiError, GatewayUnavailable, flash, verify_csrf
from gluta_kit.web.gateway import AUTH_KEY, store_tokens
from gluta_kit.web.i18n import LOCALE_COOKIE

router = APIRouter(dependencies=[Depends(verify_csrf)])

ADMIN_LOGIN = "/api/user-service/admin/login"
LOGOUT = "/api/user-service/logout"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    """Show the login form (or go on when this session already holds an admin)."""
    if current_admin(request):
        return redirect(safe_next(next))
    return render(request, "login.html", next_url=safe_next(next), login_id="", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Log an administrator in; a member's credentials are refused with a message that says why."""
    form = await request.form()
    login_id = str(form.get("loginId") or "").strip()[:64]
    password = str(form.get("password") or "")[:128]
    next_url = safe_next(str(form.get("next") or "/"))

    def refuse(message: str, status: int) -> Response:
        return render(request, "login.html", status_code=status, next_url=next_url, login_id=login_id,
                      error=message)

    if not login_id or not password:
        return refuse(_("Enter your login ID and password."), 400)
    client = gateway(request)
    try:
        tokens = await client.post(request, ADMIN_LOGIN, auth="none",
                                   json={"loginId": login_id, "password": password})
    except GatewayUnavailable:
        return refuse(_("The login service is not answering right now. Try again shortly."), 503)
    except ApiError as exc:
        if exc.status == 429:
            return refuse(_("Too many attempts. Wait a few minutes and try again."), 429)
        if exc.status in (400, 401, 422):
            # The user service refuses members' credentials here as it refuses wrong ones: one message for both.
            return refuse(_("The login ID or password is wrong, or this is not an administrator account."), 401)
        return refuse(_("Logging in failed. Try again shortly."), 502)
    member = tokens.get("member") if isinstance(tokens, dict) else None
    if not isinstance(member, dict) or member.get("role") != "admin":
        return refuse(_("This is a customer (member) account. The admin console accepts administrator "
                        "accounts only."), 403)
    request.session.rotate()  # a new session id at login: no session fixation
    store_tokens(request, tokens)
    flash(request, _("Welcome, %(name)s.") % {"name": member.get("memberName") or member.get("loginId")},
          "success")
    return redirect(next_url)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session and revoke its refresh token."""
    auth = request.session.get(AUTH_KEY)
    if isinstance(auth, dict) and auth.get("refresh"):
        try:
            await gateway(request).post(request, LOGOUT, auth="none", json={"refreshToken": auth["refresh"]},
                                        headers={"Authorization": f"Bearer {auth.get('access')}"})
        except ApiError:
            pass  # the session ends here whatever the user service says
    request.session.clear()
    flash(request, _("You are logged out."), "info")
    return redirect("/login")


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, next: str | None = None) -> Response:
    """Remember the chosen language in a cookie and go back."""
    catalogs = request.app.state.catalogs
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LOCALE_COOKIE, catalogs.pick(lang), max_age=365 * 24 * 3600, httponly=True,
                        samesite="lax", path="/")
    return response
