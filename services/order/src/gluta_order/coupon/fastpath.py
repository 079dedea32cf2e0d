"""The claim's fast path: `POST /coupons/{id}/issue` answered without FastAPI's routing and dependencies.

A coupon storm is thousands of these at once, and on the claim route FastAPI's middleware stack, route
matching over every route of the service, dependency solving and response validation cost several
times what the claim itself does (bench/coupon_storm.py). This ASGI middleware, installed outermost
like the gateway's ProxyDispatch, answers the well-formed claims itself, inside the kit's own
RequestContextMiddleware (span, `X-Trace-Id`, access log, metrics under the route template
`/coupons/{coupon_id}/issue`), with the same checks and the same answers as the FastAPI route:

- the token is verified here by the service's TokenVerifier, `app.state.verifier` (every service
  verifies the JWT itself); 401 INVALID_TOKEN for a bad one, 403 FORBIDDEN ("members only") for an admin;
- then `service.claim`, the very function the route calls; its AppErrors become the same problem+json,
  anything else a logged 500 INTERNAL_ERROR, as the kit's handlers do;
- 201 `{"couponId": <id>, "status": "ISSUED"}`, as the route's IssueRead.

Anything else goes on to FastAPI untouched, which then answers as it always did: another method or
path, a coupon id that is not a plain decimal in range (422), no or a non-Bearer Authorization (401),
an Idempotency-Key outside 1..64 characters or given twice (422), a root path. The route stays
declared in FastAPI (OpenAPI, and those answers).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from gluta_kit.errors import AppError, Forbidden, TooManyRequests, problem
from gluta_kit.logging import get_logger
from gluta_kit.observability import Metrics, RequestContextMiddleware
from gluta_kit.tokens import TokenVerifier
from gluta_order.common import MAX_ID
from gluta_order.coupon import service

log = get_logger("gluta.order.coupon")

PREFIX = "/coupons/"
SUFFIX = "/issue"
TEMPLATE = "/coupons/{coupon_id}/issue"
_MAX_ID_DIGITS = len(str(MAX_ID))
_HEADERS = [(b"content-type", b"application/json")]


class _Route:
    """What the kit's metrics read from `scope["route"]`: the route template."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


_ROUTE = _Route(TEMPLATE)


def claim_request(scope: Scope) -> tuple[int, str, str | None] | None:
    """Return (coupon id, bearer token, Idempotency-Key) of a well-formed claim, or None for FastAPI to answer."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None
    path: str = scope["path"]
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    digits = path[len(PREFIX):-len(SUFFIX)]
    if not (0 < len(digits) <= _MAX_ID_DIGITS and digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    coupon_id = int(digits)
    if coupon_id > MAX_ID:
        return None
    authorization: bytes | None = None
    key: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
        elif name == b"idempotency-key":
            if key is not None:
                return None
            key = value
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    idempotency_key = None
    if key is not None:
        idempotency_key = key.decode("latin-1")
        if not 1 <= len(idempotency_key) <= 64:
            return None
    return coupon_id, token, idempotency_key


class ClaimFastPath:
    """Answer well-formed claims directly; pass everything else on to the app."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.handle = RequestContextMiddleware(self._claim, metrics=metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = claim_request(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        scope["gluta.claim"] = request
        scope["route"] = _ROUTE
        await self.handle(scope, receive, send)

    async def _claim(self, scope: Scope, receive: Receive, send: Send) -> None:
        coupon_id, token, idempotency_key = scope["gluta.claim"]
        state = scope["app"].state  # the verifier and the context the FastAPI route's dependencies use
        try:
            verifier: TokenVerifier = state.verifier
            principal = await verifier.verify(token)
            if principal.role != "member":
                raise Forbidden("members only")
            ctx = state.order
            answer = await service.claim(directory=ctx.coupons, gate=ctx.gate, coupon_id=coupon_id,
                                         member_id=principal.member_id, now=ctx.clock(),
                                         retry=idempotency_key is not None)
        except AppError as exc:
            await _problem(exc)(scope, receive, send)
            return
        except Exception as exc:
            log.exception("request.failed", error=repr(exc))
            await problem(500, "INTERNAL_ERROR", "Internal error", "Something went wrong on our side.")(
                scope, receive, send)
            return
        body = orjson.dumps({"couponId": answer.coupon_id, "status": answer.status})
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-length", b"%d" % len(body)), *_HEADERS]})
        await send({"type": "http.response.body", "body": body})


def _problem(exc: AppError) -> Any:
    """The answer the kit's AppError handler gives."""
    response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
