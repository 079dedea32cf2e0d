"""Page plumbing shared by the storefront's features: rendering, the gateway, a short public cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gluta_kit.web import GatewayClient, csrf_token, pop_flashes
from gluta_kit.web.csrf import csrf_input
from gluta_kit.web.gateway import current_member
from gluta_storefront.settings import StorefrontSettings

USER = "/api/user-service"
PRODUCT = "/api/product-service"
ORDER = "/api/order-service"


class PublicCache:
    """Guest-visible answers kept a few seconds; one gateway call per key at a time (no stampede)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Any]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}

    async def get(self, gateway: GatewayClient, request: Request, path: str,
                  params: Mapping[str, Any] | None = None) -> Any:
        """Return the JSON of a guest GET, from the cache when fresh."""
        key = path + "?" + urlencode(sorted((params or {}).items()))
        now = time.monotonic()
        item = self._items.get(key)
        if item and item[0] > now:
            return item[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await gateway.get(request, path, params=params, auth="none")
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(value)
        if self.ttl > 0:
            if len(self._items) > 2000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, value)
        return value


class GuestPages:
    """Whole pages rendered for guests (no session: nothing personal on them), kept as long as their data."""

    def __init__(self, cache: PublicCache, max_items: int = 500) -> None:
        self.cache = cache
        self.max_items = max_items
        self._items: dict[tuple[str, str], tuple[float, HTMLResponse]] = {}

    def get(self, request: Request) -> HTMLResponse | None:
        """Return the cached page for this guest request, if fresh."""
        if self.cache.ttl <= 0 or request.session:
            return None
        item = self._items.get(self._key(request))
        if item is None or item[0] < time.monotonic():
            return None
        return HTMLResponse(item[1].body, status_code=item[1].status_code, headers={"Cache-Control": "no-store"})

    def put(self, request: Request, response: HTMLResponse) -> HTMLResponse:
        """Keep a page rendered for a guest (only a 200 that left the session empty)."""
        if self.cache.ttl > 0 and not request.session and response.status_code == 200:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[self._key(request)] = (time.monotonic() + self.cache.ttl, response)
        return response

    @staticmethod
    def _key(request: Request) -> tuple[str, str]:
        return str(request.scope.get("state", {}).get("locale", "")), current_url(request)


@dataclass
class Web:
    """What the pages need, built once by the app."""

    settings: StorefrontSettings
    env: Any
    gateway: GatewayClient
    cache: PublicCache
    extra: dict[str, Any] = field(default_factory=dict)
    guest_pages: GuestPages | None = None

    def __post_init__(self) -> None:
        if self.guest_pages is None:
            self.guest_pages = GuestPages(self.cache)


def web_of(request: Request) -> Web:
    """Return the storefront's shared parts."""
    return request.app.state.web


def gateway(request: Request) -> GatewayClient:
    """Return the gateway client."""
    return web_of(request).gateway


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the common context (member, flashes, CSRF field, current URL)."""
    web = web_of(request)
    context.setdefault("errors", None)
    context.update(
        request=request,
        member=current_member(request),
        flashes=pop_flashes(request),
        csrf_input=lambda: csrf_input(request),
        csrf_token=lambda: csrf_token(request),
        current_url=current_url(request),
        settings=web.settings,
    )
    html = web.env.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def redirect(url: str) -> RedirectResponse:
    """Redirect after a POST (303: the browser follows with GET)."""
    return RedirectResponse(url, status_code=303)


def current_url(request: Request) -> str:
    """Return the path and query of the request."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(url: str | None, default: str = "/") -> str:
    """Return `url` when it is a path on this site (no open redirect), else `default`."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def login_url(next_url: str) -> str:
    """Return the login page that comes back to `next_url`."""
    return "/login?" + urlencode({"next": safe_next(next_url)})


def to_int(value: Any, default: int | None = None, *, low: int | None = None, high: int | None = None) -> int | None:
    """Parse an integer from a query or form value, clamped; `default` when missing or not a number."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    if low is not None and number < low:
        return default if default is not None else low
    if high is not None and number > high:
        return high
    return number


def wants_json(request: Request) -> bool:
    """Return True for a script's request that asked for JSON."""
    return "application/json" in request.headers.get("accept", "")
