"""W3C trace context: one traceId follows a request over HTTP and over the bus."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind

_provider: TracerProvider | None = None


def setup_tracing(service_name: str) -> None:
    """Install a tracer provider once per process (ids only; exporters are a deployment choice)."""
    global _provider
    if _provider is None:
        from opentelemetry.sdk.resources import Resource

        _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        trace.set_tracer_provider(_provider)


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """Return the kit's tracer (one per process: asking OpenTelemetry for it on every span is costly)."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer("gluta")  # a proxy until a provider is set, then the provider's tracer
    return _tracer


def current_ids() -> tuple[str | None, str | None]:
    """Return the current (traceId, spanId) as hex, or Nones outside a span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (`traceparent`) into headers."""
    propagate.inject(carrier)
    return carrier


def current_traceparent() -> str | None:
    """Return the current context as a `traceparent` header value."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span_from(carrier: Mapping[str, str] | None, name: str, kind: SpanKind) -> Iterator[Span]:
    """Start a span that continues the trace found in `carrier` (or a new trace)."""
    parent = propagate.extract(dict(carrier or {}))
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            yield span
    finally:
        otel_context.detach(token)
