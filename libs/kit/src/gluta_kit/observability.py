"""Per-request tracing, `X-Trace-Id`, request logs and Prometheus metrics, as one pure ASGI middleware."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gluta_kit.logging import get_logger
from gluta_kit.tracing import start_span

log = get_logger("gluta.http.access")

_QUIET_PATHS = {"/health", "/ready", "/metrics"}


class Metrics:
    """One registry per service process."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_seconds", "HTTP request latency", ["service", "method", "route"],
                                 registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.service = service

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Continue or start the trace, answer with `X-Trace-Id`, log and measure every request.

    Cheap per request: the trace headers are picked from the raw header list, the span is only ids
    (see gluta_kit.tracing), the labelled metric children are looked up once per (method, route,
    status), and an access line below the log level is dropped before it is built (gluta_kit.logging).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = tracestate = None
        for name, value in scope.get("headers", ()):
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        started = time.perf_counter()
        status = 500
        with start_span(traceparent, tracestate, f"{method} {path}", SpanKind.SERVER) as span:
            trace_header = (b"x-trace-id", b"%032x" % span.get_span_context().trace_id)

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", []), trace_header]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                counter = self._counters.get((method, route, status))
                if counter is None:
                    counter = self._counters[(method, route, status)] = self.metrics.requests.labels(
                        self.metrics.service, method, route, str(status))
                timer = self._timers.get((method, route))
                if timer is None:
                    timer = self._timers[(method, route)] = self.metrics.latency.labels(
                        self.metrics.service, method, route)
                counter.inc()
                timer.observe(elapsed)
                if path not in _QUIET_PATHS:
                    log.info("http.request", method=method, path=path, status=status,
                             ms=round(elapsed * 1000, 2))
