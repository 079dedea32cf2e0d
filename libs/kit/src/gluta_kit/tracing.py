"""W3C trace context: one traceId follows a request over HTTP and over the bus."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags, use_span

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def _random_id(bits: int) -> int:
    while True:
        value = random.getrandbits(bits)
        if value:  # 0 is the invalid id
            return value


class IdsTracer(trace.Tracer):
    """Spans that carry a trace id and a span id and nothing else.

    The kit uses spans only for their ids (`X-Trace-Id`, `traceparent` over HTTP and the bus, `traceId` and
    `spanId` in every log line); nothing records or exports them. The OpenTelemetry SDK did the same with a
    span processor and a resource nobody read, and cost about 2 MB of every process (memory goal). The ids
    follow the SDK's defaults: random, a new trace sampled, a child keeps its parent's trace id, flags and
    state. A deployment that wants spans exported installs the SDK's provider instead (`trace.set_tracer_provider`).
    """

    def start_span(self, name: str, context: otel_context.Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Any = None, links: Sequence[Any] | None = None,
                   start_time: int | None = None, record_exception: bool = True,
                   set_status_on_exception: bool = True) -> Span:
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            ids = SpanContext(parent.trace_id, _random_id(64), is_remote=False, trace_flags=parent.trace_flags,
                              trace_state=parent.trace_state)
        else:
            ids = SpanContext(_random_id(128), _random_id(64), is_remote=False, trace_flags=_SAMPLED)
        return NonRecordingSpan(ids)

    @contextmanager
    def start_as_current_span(self, name: str, context: otel_context.Context | None = None,
                              kind: SpanKind = SpanKind.INTERNAL, attributes: Any = None,
                              links: Sequence[Any] | None = None, start_time: int | None = None,
                              record_exception: bool = True, set_status_on_exception: bool = True,
                              end_on_exit: bool = True) -> Iterator[Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time, record_exception,
                               set_status_on_exception)
        with use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                      set_status_on_exception=set_status_on_exception) as current:
            yield current


class IdsTracerProvider(trace.TracerProvider):
    """Hands out the one `IdsTracer`."""

    def __init__(self) -> None:
        self._tracer = IdsTracer()

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self._tracer


_provider: trace.TracerProvider | None = None


def setup_tracing(service_name: str) -> None:
    """Install the tracer provider once per process (ids only; the service name is in every log line)."""
    global _provider
    if _provider is None:
        _provider = IdsTracerProvider()
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
