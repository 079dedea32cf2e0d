"""The web front-ends' client of the gateway: the user's tokens stay here, in the session.

`GatewayClient.call(request, method, path, ...)` sends the call with the session's access token,
refreshes it first when it is about to expire (or once after a 401), forwards `traceparent` and the
browser's address (`X-Forwarded-For`, which the gateway trusts from loopback), and raises `ApiError`
for any problem+json answer. When the refresh token is refused, the tokens are dropped from the session,
a message is flashed and `LoginRequired` is raised: the app redirects to its login page.

The base URL may list several gateways, comma-separated (`http://127.0.0.1:8000,http://127.0.0.1:8001`):
calls take them in turn, and a call that could not connect to one goes to the next (it never reached a
gateway, so nothing ran twice). Behind one load-balanced address (compose, Kubernetes) give that one.

Two requests of the same session never spend one refresh token twice (the user service would revoke
the whole family): refreshes are serialised per session, and a request that waited re-reads the tokens
another request stored.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from starlette.requests import Request

from gluta_kit.http import tls_context
from gluta_kit.tracing import inject

AUTH_KEY = "auth"
REFRESH_PATH = "/api/user-service/token/refresh"
# a 401 with one of these codes is about what the user typed (a password), not about the access token
CREDENTIAL_CODES = frozenset({"INVALID_CREDENTIALS"})


class ApiError(Exception):
    """A problem+json answer of the gateway, or a failure to get one."""

    def __init__(self, status: int, code: str, detail: str = "", fields: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = dict(fields or {})
        self.body = dict(body or {})

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Build the error from an answer with status >= 400 (problem+json or not)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        fields: dict[str, str] = {}
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                name = item.get("field") or ".".join(str(p) for p in (item.get("loc") or [])[1:])
                if name:
                    fields.setdefault(str(name), str(item.get("msg") or item.get("message") or "invalid"))
        code = str(body.get("code") or _STATUS_CODES.get(response.status_code, "ERROR"))
        return cls(response.status_code, code, str(body.get("detail") or body.get("title") or ""), fields, body)


_STATUS_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
                 413: "PAYLOAD_TOO_LARGE", 422: "VALIDATION_ERROR", 429: "TOO_MANY_REQUESTS",
                 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}


class GatewayUnavailable(ApiError):
    """The gateway could not be reached or did not answer in time."""

    def __init__(self, detail: str = "the gateway did not answer") -> None:
        super().__init__(503, "SERVICE_UNAVAILABLE", detail)


class LoginRequired(Exception):
    """The page needs a logged-in member; `expired` when a session ended because its tokens died."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("login required")
        self.expired = expired


def store_tokens(request: Request, tokens: Mapping[str, Any]) -> None:
    """Keep a `Tokens` answer (login or refresh) in the session."""
    request.session[AUTH_KEY] = {
        "access": tokens["accessToken"],
        "refresh": tokens["refreshToken"],
        "exp": time.time() + float(tokens.get("expiresIn") or 300),
        "member": dict(tokens.get("member") or {}),
    }


def current_member(request: Request) -> dict[str, Any] | None:
    """Return the logged-in member (`memberId`, `loginId`, `memberName`, `role`) or None."""
    auth = request.session.get(AUTH_KEY)
    return auth.get("member") if isinstance(auth, dict) else None


class GatewayClient:
    """Call the gateway on behalf of the browser whose request is being served."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, refresh_margin_seconds: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None, expired_message: str | None = None,
                 max_connections: int = 200) -> None:
        self.base_urls = [url.strip().rstrip("/") for url in base_url.split(",") if url.strip()]
        if not self.base_urls:
            raise ValueError("the gateway URL is empty")
        self.base_url = self.base_urls[0]
        self._turn = itertools.count()
        self.refresh_margin = refresh_margin_seconds
        self.expired_message = expired_message
        self.http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                      limits=httpx.Limits(max_connections=max_connections), trust_env=False,
                                      verify=tls_context())
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.http.aclose()

    # --- the calls ---------------------------------------------------------------------------------
    async def call(self, request: Request | None, method: str, path: str, *, auth: str = "optional",
                   json: Any = None, params: Mapping[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None, files: Any = None, data: Any = None,
                   raise_for_status: bool = True) -> httpx.Response:
        """Send one call; `auth` is "required" (LoginRequired without tokens), "optional" or "none".

        With "optional", a member whose session just expired is served as a guest (with the flashed message).
        """
        token = None
        if auth != "none" and request is not None:
            token = await self._token_or_guest(request, auth)
        kwargs = {"json": json, "params": params, "headers": headers, "files": files, "data": data}
        response = await self._send(request, method, path, token, **kwargs)
        if _token_rejected(response) and token is not None and request is not None:
            token = await self._token_or_guest(request, auth, force=True, rejected=token)
            response = await self._send(request, method, path, token, **kwargs)
            if _token_rejected(response) and token is not None:
                await self._drop_tokens(request)
                if auth == "required":
                    raise LoginRequired(expired=True)
                response = await self._send(request, method, path, None, **kwargs)
        if raise_for_status and response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    async def _token_or_guest(self, request: Request, auth: str, **kwargs: Any) -> str | None:
        try:
            token = await self._access_token(request, **kwargs)
        except LoginRequired:
            if auth == "required":
                raise
            return None
        if token is None and auth == "required":
            raise LoginRequired(expired=bool(kwargs))
        return token

    async def get(self, request: Request | None, path: str, **kwargs: Any) -> Any:
        """GET and decode JSON."""
        return orjson.loads((await self.call(request, "GET", path, **kwargs)).content)

    async def post(self, request: Request | None, path: str, **kwargs: Any) -> Any:
        """POST and decode JSON (None for an empty answer)."""
        return _json_or_none(await self.call(request, "POST", path, **kwargs))

    async def put(self, request: Request | None, path: str, **kwargs: Any) -> Any:
        """PUT and decode JSON (None for an empty answer)."""
        return _json_or_none(await self.call(request, "PUT", path, **kwargs))

    async def patch(self, request: Request | None, path: str, **kwargs: Any) -> Any:
        """PATCH and decode JSON (None for an empty answer)."""
        return _json_or_none(await self.call(request, "PATCH", path, **kwargs))

    async def delete(self, request: Request | None, path: str, **kwargs: Any) -> Any:
        """DELETE and decode JSON (None for an empty answer)."""
        return _json_or_none(await self.call(request, "DELETE", path, **kwargs))

    async def _send(self, request: Request | None, method: str, path: str, token: str | None,
                    **kwargs: Any) -> httpx.Response:
        headers: dict[str, str] = inject({})  # type: ignore[assignment]
        if request is not None and request.client is not None:
            forwarded = request.headers.get("x-forwarded-for")
            headers["X-Forwarded-For"] = forwarded or request.client.host
        headers.update(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self._request(method, path, headers=headers, **kwargs)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send to the next gateway; one that refuses the connection is skipped for the next one."""
        start = next(self._turn) % len(self.base_urls)
        error: Exception | None = None
        for base in self.base_urls[start:] + self.base_urls[:start]:
            try:
                return await self.http.request(method, base + path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = exc  # the request never left: the next gateway may take it
            except (httpx.TransportError, TimeoutError) as exc:
                raise GatewayUnavailable(repr(exc)) from exc
        raise GatewayUnavailable(repr(error))

    # --- tokens --------------------------------------------------------------------------------------
    async def _access_token(self, request: Request, *, force: bool = False, rejected: str | None = None) -> str | None:
        auth = request.session.get(AUTH_KEY)
        if not isinstance(auth, dict):
            return None
        if not force and auth.get("exp", 0) - time.time() > self.refresh_margin:
            return str(auth["access"])
        session = request.session
        key = getattr(session, "id", None) or str(id(session))
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()  # held by its users only: gone when they are
        async with lock:
            if hasattr(session, "reload"):
                await session.reload([AUTH_KEY])
            fresh = session.get(AUTH_KEY)
            if not isinstance(fresh, dict):
                return None
            renewed = fresh.get("access") not in (auth.get("access"), rejected)
            if renewed and fresh.get("exp", 0) - time.time() > self.refresh_margin:
                return str(fresh["access"])  # another request refreshed while this one waited
            return await self._refresh(request, fresh)

    async def _refresh(self, request: Request, auth: dict[str, Any]) -> str | None:
        response = await self._request("POST", REFRESH_PATH, json={"refreshToken": auth.get("refresh")},
                                       headers=inject({}))
        if response.status_code == 200:
            store_tokens(request, response.json())
            if hasattr(request.session, "persist"):
                await request.session.persist()  # other requests of this browser must see the new pair now
            return str(request.session[AUTH_KEY]["access"])
        if response.status_code in (400, 401, 403, 404, 422):
            await self._drop_tokens(request)
            raise LoginRequired(expired=True)
        raise ApiError.from_response(response)

    async def _drop_tokens(self, request: Request) -> None:
        request.session.pop(AUTH_KEY, None)
        if self.expired_message:
            from gluta_kit.web.i18n import gettext
            from gluta_kit.web.session import flash

            flash(request, gettext(self.expired_message), "error")
        if hasattr(request.session, "persist"):
            await request.session.persist()


def _token_rejected(response: httpx.Response) -> bool:
    """Return True for a 401 about the token (not about a password the user typed)."""
    if response.status_code != 401:
        return False
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return True
    return code not in CREDENTIAL_CODES


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return orjson.loads(response.content)
