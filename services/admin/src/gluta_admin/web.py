"""What every admin page shares: rendering, the admin-only guard, form helpers, paging."""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gluta_admin.operations.service import Operations
from gluta_kit.web import (
    ApiError,
    GatewayClient,
    LoginRequired,
    csrf_token,
    current_locale,
    flash,
    gettext,
    make_environment,
    pop_flashes,
)
from gluta_kit.web.gateway import current_member

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LOCALES = HERE / "locales"

_ = gettext


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """Return the URL of a static file, versioned by its content so browsers never keep a stale copy."""
    return f"/static/{name}?v={_static_version(name)}"


def safe_href(value: Any) -> str:
    """Return a link target that cannot run script: http(s) or a local path, else `#`."""
    text = str(value or "").strip()
    if text.startswith(("https://", "http://")) or (text.startswith("/") and not text.startswith("//")):
        return text
    return "#"


def build_templates(catalogs: Any) -> Any:
    """Return the Jinja2 environment of the admin pages."""
    return make_environment([TEMPLATES], catalogs, globals={"static_url": static_url},
                            filters={"safe_href": safe_href})


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with what every page needs (locale, CSRF token, flashes, the admin)."""
    env = request.app.state.templates
    values = {
        "request": request,
        "locale": current_locale(),
        "csrf_token": csrf_token(request),
        "flashes": [(f.get("level", "info"), f.get("message", "")) for f in pop_flashes(request)],
        "admin": current_admin(request),
        "storefront_url": request.app.state.settings.storefront_url.rstrip("/"),
    }
    values.update(context)
    return HTMLResponse(env.get_template(template).render(**values), status_code=status_code)


def current_admin(request: Request) -> dict[str, Any] | None:
    """Return the logged-in admin of this session, or None (a member's tokens never count)."""
    member = current_member(request)
    if isinstance(member, dict) and member.get("role") == "admin":
        return member
    return None


async def require_admin(request: Request) -> dict[str, Any]:
    """Let only a session holding an admin's tokens through; anything else goes to the login page."""
    admin = current_admin(request)
    if admin is None:
        if current_member(request) is not None:  # tokens of another role: never usable here
            request.session.pop("auth", None)
        raise LoginRequired()
    return admin


Admin = Annotated[dict[str, Any], Depends(require_admin)]


def gateway(request: Request) -> GatewayClient:
    """Return the app's gateway client."""
    return request.app.state.gateway


def operations(request: Request) -> Operations:
    """Return the app's operations prober."""
    return request.app.state.operations


def redirect(url: str) -> RedirectResponse:
    """Answer a form post with a redirect to a page (Post/Redirect/Get)."""
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Return a local path to go to after login or a switch; anything else becomes `default`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def flash_error(request: Request, error: ApiError, fallback: str | None = None) -> None:
    """Show a gateway refusal to the admin in plain words."""
    flash(request, describe(error, fallback), "error")


def describe(error: ApiError, fallback: str | None = None) -> str:
    """Return a translated sentence for an API error, with the service's own detail when it helps."""
    known = {
        "TYPE_IN_USE": _("This type is still used by products, so it cannot be deleted."),
        "TYPE_EXISTS": _("A type with this name already exists."),
        "TYPE_NOT_FOUND": _("The chosen type no longer exists."),
        "IMAGE_NOT_FOUND": _("An image of this product no longer exists; upload it again."),
        "UNSUPPORTED_MEDIA": _("This file is not an image (JPEG, PNG, WebP or GIF)."),
        "PAYLOAD_TOO_LARGE": _("The file is too large."),
        "PRODUCT_NOT_FOUND": _("The product no longer exists."),
        "SERVICE_UNAVAILABLE": _("A service needed for this is not answering right now. Try again shortly."),
        "TOO_MANY_REQUESTS": _("Too many requests; wait a moment and try again."),
        "FORBIDDEN": _("This account is not allowed to do that."),
    }
    message = known.get(error.code) or fallback or _("The request was refused.")
    if error.fields:
        details = "; ".join(f"{name}: {text}" for name, text in list(error.fields.items())[:4])
        return f"{message} {details}"
    if message is fallback and error.detail:
        return f"{message} ({error.detail})"
    return message


class Paging:
    """A page of a list: where we are and how many pages there are."""

    def __init__(self, body: dict[str, Any], page: int, size: int) -> None:
        self.items: list[dict[str, Any]] = list(body.get("items") or [])
        self.page = int(body.get("page") or page)
        self.size = int(body.get("size") or size)
        self.total = int(body.get("total") or 0)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size)) if self.size else 1


def clamp_page(value: Any) -> int:
    """Return a page number from a query value: 1 for anything odd."""
    try:
        page = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(page, 1), 100_000)


def form_text(form: Any, name: str, limit: int = 10_000) -> str:
    """Return a trimmed text field of a form ('' when absent)."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def form_int(form: Any, name: str) -> int | None:
    """Return an integer field of a form, None when empty or not a number."""
    text = form_text(form, name, 40).replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None
