"""The proxy: `/api/<name>-service/**` → a live instance of `<name>`, after the policy, token and limits.

A plain ASGI app reached through `ProxyDispatch` before FastAPI's routing, wrapped in the kit's
request middleware, which starts the server span, adds `X-Trace-Id`, logs and measures every
proxied request. Failures before the answer starts are raised as `AppError`s and become problem+json.

Order of checks: token (if any) → rate limit (member by subject, else address) → route table (404)
→ role (401/403) → declared body size (413) → forward. A token that fails verification on a GUEST
route is forwarded untouched: the service decides (the kit's services refuse it with 401 too, and
routes such as login or token refresh keep working for a client that still sends a stale token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

from gluta_gateway.client import (
    BadResponse,
    ConnectFailed,
    ConnectionBroken,
    ReadTimeout,
    UpstreamPool,
    UpstreamResponse,
)
from gluta_gateway.policy import Access, Policy, Rule
from gluta_gateway.ratelimit import RateLimiter, retry_after_seconds
from gluta_gateway.settings import GatewaySettings
from gluta_gateway.upstream import LiveInstances
from gluta_kit.errors import (
    AppError,
    Forbidden,
    InvalidToken,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    problem,
)
from gluta_kit.logging import get_logger
from gluta_kit.observability import Metrics, RequestContextMiddleware
from gluta_kit.tokens import Principal, TokenVerifier

log = get_logger("gluta.gateway.proxy")

API_PREFIX = "/api/"
SERVICE_SUFFIX = "-service"

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"trailers", b"transfer-encoding", b"upgrade"})
# request headers not passed on as they came: hop-by-hop, framing (set from the body), the ones the
# gateway sets itself, and the internal token (internal endpoints are never reachable through here)
DROP_REQUEST = HOP_BY_HOP | {b"host", b"content-length", b"expect", b"traceparent", b"tracestate",
                             b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix",
                             b"forwarded", b"x-real-ip", b"x-internal-token"}
# response headers the gateway's own server and middleware write again
DROP_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-trace-id"}
NO_BODY_STATUS = frozenset({204, 304})

BUFFER_LIMIT = 256 * 1024  # request bodies up to this size are read whole (and can be replayed)
RESPONSE_BUFFER_LIMIT = 512 * 1024  # answers up to this size are sent in one piece
MAX_ATTEMPTS = 3
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


class UpstreamTimeout(AppError):
    status, code, title = 504, "UPSTREAM_TIMEOUT", "The service did not answer in time"


class BadGateway(AppError):
    status, code, title = 502, "BAD_GATEWAY", "The service gave no valid answer"


class _BodyState:
    """What happened to a streamed request body while the client was sending it."""

    __slots__ = ("started", "too_large", "disconnected")

    def __init__(self) -> None:
        self.started = False
        self.too_large = False
        self.disconnected = False


class _ClientGone(Exception):
    """The client went away while sending its body."""


class _AnswerCut(Exception):
    """The service's answer broke off after it had started to go to the client."""


class Proxy:
    """Forward public requests to the services."""

    def __init__(self, settings: GatewaySettings, policy: Policy, verifier: TokenVerifier,
                 instances: LiveInstances, limiter: RateLimiter) -> None:
        self.settings = settings
        self.policy = policy
        self.verifier = verifier
        self.instances = instances
        self.limiter = limiter
        self.pool = UpstreamPool(connect_timeout=settings.upstream_connect_timeout_seconds,
                                 max_idle_per_origin=settings.upstream_max_idle_connections)
        self.services = frozenset(settings.routed_services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        service, sub_path = _split(path)

        # one pass over the headers: what the gateway needs, and what goes on
        authorization = content_length = host = connection = None
        content_type = b""
        out: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name in DROP_REQUEST:
                if name == b"content-length":
                    content_length = value
                elif name == b"host":
                    host = value
                elif name == b"connection":
                    connection = value
                continue
            if name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
            out.append((name, value))

        # the caller's address as uvicorn resolved it: the peer, or, when the peer is a trusted proxy
        # (uvicorn's FORWARDED_ALLOW_IPS, 127.0.0.1 by default: the web front-ends), the last address
        # in its X-Forwarded-For that is not one; a client's own X-Forwarded-For is never believed
        client = scope.get("client")
        address = client[0] if client else "unknown"

        # who is calling
        principal: Principal | None = None
        token_error: AppError | None = None
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                try:
                    principal = await self.verifier.verify(token)
                except InvalidToken as exc:
                    token_error = exc
                    if exc.detail == "signing keys are unavailable":
                        token_error = ServiceUnavailable("tokens cannot be checked now: the signing keys are "
                                                         "unavailable")
            else:
                token_error = InvalidToken("expected a Bearer token")

        # rate limit: a member (or admin) by its subject, anyone else by address
        if principal is not None:
            wait = await self.limiter.check_member(f"{principal.role}:{principal.subject_id}")
        else:
            wait = await self.limiter.check_guest(address)
        if wait:
            raise TooManyRequests("too many requests; slow down", retry_after=retry_after_seconds(wait))

        rule = self.policy.match(service, method, sub_path) if service in self.services else None
        if rule is None:
            raise NotFound("no such route")
        scope["route"] = rule  # the kit's metrics label proxied requests by the rule's public template

        if rule.access is not Access.GUEST:
            if principal is None:
                raise token_error or Unauthorized("this needs you to log in")
            if not rule.access.allows(principal.role):
                raise Forbidden(f"this route is for the {rule.access.value} role")

        # body limit, on the declared length first
        limit = (self.settings.max_upload_body_bytes if content_type.startswith(b"multipart/")
                 else self.settings.max_json_body_bytes)
        declared: int | None = None
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                declared = None
            if declared is not None and declared > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes")

        target = _target(scope, len(path) - len(sub_path))
        if target is None:
            raise NotFound("no such route")

        # headers the gateway sets
        if connection is not None:  # headers named in Connection are hop-by-hop too
            named = {token.strip().lower().encode("latin-1") for token in connection.decode("latin-1").split(",")}
            out = [(k, v) for k, v in out if k not in named]
        out.append((b"x-forwarded-for", address.encode("latin-1")))
        out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
        if host:
            out.append((b"x-forwarded-host", host))
        out.append((b"x-forwarded-prefix", path[: len(path) - len(sub_path)].encode("latin-1")))
        span = trace.get_current_span().get_span_context()  # the kit middleware's server span
        if span.is_valid:
            out.append((b"traceparent", b"00-%032x-%016x-%02x" % (span.trace_id, span.span_id, span.trace_flags)))

        # the body: small ones read whole (replayable), large or unsized ones streamed
        state = _BodyState()
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        data: bytes | AsyncIterator[bytes] = message.get("body", b"")
        if message.get("more_body"):
            if declared is not None and declared <= BUFFER_LIMIT:
                data = await _read_all(data, receive, limit)  # type: ignore[arg-type]
            else:
                data = _stream(data, receive, limit, state)  # type: ignore[arg-type]
        elif len(data) > limit:  # type: ignore[arg-type]
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")

        response = await self._send_upstream(rule, method, target, out, data, declared, state)
        try:
            await self._answer(response, method, send)
        except BaseException:
            response.close()  # a half-read answer must not go back to the pool
            raise
        response.release()

    async def _send_upstream(self, rule: Rule, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                             data: bytes | AsyncIterator[bytes], declared: int | None,
                             state: _BodyState) -> UpstreamResponse:
        """Send the request to an instance; when one cannot be reached, try the next."""
        urls = await self.instances.ordered(rule.service)
        if not urls:
            self.instances.refresh_soon(rule.service)
            raise ServiceUnavailable(f"no live instance of {rule.service}-service")
        timeout = self.settings.upstream_timeout_seconds
        last: Exception | None = None
        for url in urls[:MAX_ATTEMPTS]:
            try:
                return await self.pool.request(url, method, target, headers, data, read_timeout=timeout,
                                               content_length=declared)
            except ConnectFailed as exc:
                # nothing reached the instance: safe to try another, whatever the method
                last = exc
                self.instances.mark_bad(url)
                self.instances.refresh_soon(rule.service)
                log.warning("proxy.instance_unreachable", service=rule.service, url=url, error=str(exc))
                if state.started:
                    break
                continue
            except ConnectionBroken as exc:
                if state.too_large:
                    raise PayloadTooLarge("the body is larger than allowed") from exc
                if state.disconnected:
                    raise _ClientGone() from exc
                last = exc
                # a kept-alive connection the service had just closed: the request may not have arrived,
                # but only an idempotent one with a body at hand may go again
                if method in IDEMPOTENT and isinstance(data, bytes):
                    continue
                raise BadGateway(f"{rule.service}-service dropped the connection") from exc
            except ReadTimeout as exc:
                raise UpstreamTimeout(f"{rule.service}-service did not answer within {timeout:g}s") from exc
            except BadResponse as exc:
                raise BadGateway(f"{rule.service}-service gave an invalid answer") from exc
        if state.too_large:
            raise PayloadTooLarge("the body is larger than allowed")
        raise ServiceUnavailable(f"no instance of {rule.service}-service could be reached ({last})")

    async def _answer(self, response: UpstreamResponse, method: str, send: Send) -> None:
        """Send the service's answer on: status, end-to-end headers, body (streamed when large)."""
        headers = [(name, value) for name, value in response.headers if name not in DROP_RESPONSE]
        status = response.status
        timeout = self.settings.upstream_timeout_seconds
        if method == "HEAD" or status in NO_BODY_STATUS:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        length = response.content_length
        if response.complete or (length is not None and length <= RESPONSE_BUFFER_LIMIT):
            try:
                body = await response.read(timeout)
            except ReadTimeout as exc:
                raise UpstreamTimeout("the service stopped answering") from exc
            except ConnectionBroken as exc:
                raise BadGateway("the service's answer was cut") from exc
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            async for chunk in response.iter_chunks(timeout):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (ReadTimeout, ConnectionBroken, BadResponse) as exc:
            # the answer has started: all that is left is to end the connection early
            log.warning("proxy.answer_cut", status=status, error=repr(exc))
            raise _AnswerCut() from exc
        await send({"type": "http.response.body", "body": b""})


def _split(path: str) -> tuple[str, str]:
    """Split `/api/<name>-service/rest` into (name, /rest); ("", "") when it is not that shape."""
    rest = path[len(API_PREFIX):]
    slash = rest.find("/")
    if slash <= 0:
        return "", ""
    segment = rest[:slash]
    if not segment.endswith(SERVICE_SUFFIX):
        return "", ""
    sub_path = rest[slash:]
    if "//" in sub_path or "/./" in sub_path or "/../" in sub_path or sub_path.endswith(("/.", "/..")):
        return "", ""
    return segment[: -len(SERVICE_SUFFIX)], sub_path


def _target(scope: Scope, prefix_length: int) -> bytes | None:
    """Return the path and query to request upstream, from the raw path as the client sent it."""
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        rest = quote(scope["path"][prefix_length:], safe=_URL_SAFE).encode("ascii")
    else:
        if raw[:prefix_length] != scope["path"][:prefix_length].encode("latin-1"):
            return None  # the prefix itself was percent-encoded: refuse rather than guess
        rest = raw[prefix_length:]
        if not rest.isascii() or b" " in rest:
            rest = quote(rest, safe=_URL_SAFE).encode("ascii")
    query: bytes = scope.get("query_string", b"")
    if query:
        if not query.isascii() or b" " in query:
            query = quote(query, safe=_URL_SAFE).encode("ascii")
        return rest + b"?" + query
    return rest


async def _read_all(first: bytes, receive: Receive, limit: int) -> bytes:
    """Read the whole body, refusing it as soon as it passes `limit`."""
    parts = [first]
    total = len(first)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


async def _stream(first: bytes, receive: Receive, limit: int, state: _BodyState) -> AsyncIterator[bytes]:
    """Pass the body on as it arrives, stopping when it passes `limit`."""
    state.started = True
    total = len(first)
    if total > limit:
        state.too_large = True
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            state.disconnected = True
            raise _ClientGone()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            state.too_large = True
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


class ProxyDispatch:
    """Send `/api/**` straight to the proxy, inside the kit's request middleware; the rest to the app.

    Installed as the outermost user middleware, so proxied requests skip FastAPI's exception
    middleware, exit stack and router (a fifth of the gateway's own cost per request) and still
    get the kit's span, `X-Trace-Id`, access log and metrics. Errors become the same problem+json
    answers the kit's handlers give.
    """

    def __init__(self, app: ASGIApp, proxy: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.proxied = RequestContextMiddleware(_problems(proxy), metrics=metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.proxied(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _problems(app: ASGIApp) -> ASGIApp:
    """Wrap the proxy so its failures answer as problem+json (before the answer has started)."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except _ClientGone:
            return  # nobody is left to answer
        except _AnswerCut:
            return  # the answer had started: ending the connection is all that is left
        except AppError as exc:
            response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
            if isinstance(exc, TooManyRequests):
                response.headers["Retry-After"] = str(exc.retry_after)
            await response(scope, receive, send)
        except Exception as exc:
            log.exception("proxy.failed", error=repr(exc))
            try:
                await problem(500, "INTERNAL_ERROR", "Internal error", "Something went wrong on our side.")(
                    scope, receive, send)
            except RuntimeError:
                pass  # the answer had started

    return handle
