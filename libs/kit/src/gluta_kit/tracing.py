"""W3C trace context: one traceId follows a request over HTTP and over the bus.

No span is exported (exporters are a deployment choice), so by default a span is only its ids: a
non-recording OpenTelemetry span continuing the caller's `traceparent` (or starting a trace), made
current for the request or message. That is all `X-Trace-Id`, the log lines' `traceId`/`spanId` and
`traceparent` propagation need, at a tenth of the SDK span's cost (which builds attribute and event
lists, a resource and calls the span processors on every request). A deployment that adds an exporter
calls `setup_tracing(name, record=True)` and gets recording SDK spans, exported by the processors it
adds to the provider.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags, TraceState, use_span

_record = False

# traceparent as the W3C spec and OpenTelemetry's propagator read it: version-traceid-spanid-flags
_TRACEPARENT = re.compile(r"^\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\s*$")
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


def setup_tracing(service_name: str, *, record: bool = False) -> None:
    """Install the tracer provider once per process: ids only, or with `record` recording SDK spans.

    `record` is for a deployment that adds an exporter: it needs the OpenTelemetry SDK installed
    (`opentelemetry-sdk`, not a dependency of the kit: ~2 MB of every process that would never use it).
    """
    global _provider, _record
    if _provider is None:
        if record:
            try:
                from opentelemetry.sdk.resources import Resource
                from opentelemetry.sdk.trace import TracerProvider
            except ImportError as exc:
                raise RuntimeError("recording spans needs the OpenTelemetry SDK: install opentelemetry-sdk") from exc

            _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
            _record = True
        else:
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


def parse_traceparent(traceparent: str | None, tracestate: str | None = None) -> SpanContext | None:
    """Return the remote span context of a valid `traceparent` header, or None (as OpenTelemetry reads it)."""
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent)
    if match is None:
        return None
    version, trace_id_hex, span_id_hex, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, span_id = int(trace_id_hex, 16), int(span_id_hex, 16)
    if not trace_id or not span_id:
        return None
    state = TraceState.from_header([tracestate]) if tracestate else None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(flags, 16)), trace_state=state)


@contextmanager
def start_span(traceparent: str | None, tracestate: str | None, name: str, kind: SpanKind) -> Iterator[Span]:
    """Make a span current that continues the trace of `traceparent` (or starts a new trace)."""
    if _record:
        with span_from({k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if v},
                       name, kind) as span:
            yield span
        return
    parent = parse_traceparent(traceparent, tracestate)
    span_id = random.getrandbits(64) or 1
    if parent is None:
        context = SpanContext(random.getrandbits(128) or 1, span_id, is_remote=False, trace_flags=_SAMPLED)
    else:
        context = SpanContext(parent.trace_id, span_id, is_remote=False, trace_flags=parent.trace_flags,
                              trace_state=parent.trace_state)
    span = NonRecordingSpan(context)
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    finally:
        otel_context.detach(token)


@contextmanager
def span_from(carrier: Mapping[str, str] | None, name: str, kind: SpanKind) -> Iterator[Span]:
    """Start a span that continues the trace found in `carrier` (or a new trace)."""
    if not _record:
        carrier = carrier or {}
        with start_span(carrier.get("traceparent"), carrier.get("tracestate"), name, kind) as span:
            yield span
        return
    parent = propagate.extract(dict(carrier or {}))
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            yield span
    finally:
        otel_context.detach(token)
