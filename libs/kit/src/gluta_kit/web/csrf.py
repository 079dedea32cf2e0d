"""CSRF protection: a random token kept in the session, required on every state-changing request.

Forms carry it in a hidden field `csrf_token` (`{{ csrf_input() }}` in templates); scripts (htmx,
fetch) send it in the `X-CSRF-Token` header. Use `verify_csrf` as a dependency of every router
(`APIRouter(dependencies=[Depends(verify_csrf)])`); GET/HEAD/OPTIONS pass untouched.
"""

from __future__ import annotations

import secrets

from markupsafe import Markup, escape
from starlette.requests import Request

from gluta_kit.errors import AppError

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(AppError):
    status, code, title = 403, "CSRF_FAILED", "The form expired; reload the page and try again"


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, creating it (and so the session) on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_input(request: Request) -> Markup:
    """Return the hidden form field that carries the token."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">')


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request whose token is missing or differs from the session's."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not secrets.compare_digest(str(expected), supplied):
        raise CsrfFailed()
