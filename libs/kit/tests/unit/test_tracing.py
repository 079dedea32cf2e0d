"""Spans are ids only unless recording is asked for; a caller's traceparent is continued as W3C says."""

import pytest
from opentelemetry.trace import SpanKind

from gluta_kit import tracing
from gluta_kit.tracing import current_ids, current_traceparent, parse_traceparent, span_from, start_span

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.mark.parametrize(("header", "valid"), [
    (f"00-{TRACE}-{PARENT}-01", True),
    (f" 00-{TRACE}-{PARENT}-00 ", True),
    (f"01-{TRACE}-{PARENT}-01-future", True),  # a later version may add fields
    (f"00-{TRACE}-{PARENT}-01-extra", False),  # version 00 may not
    (f"ff-{TRACE}-{PARENT}-01", False),
    (f"00-{'0' * 32}-{PARENT}-01", False),
    (f"00-{TRACE}-{'0' * 16}-01", False),
    (f"00-{TRACE.upper()}-{PARENT}-01", False),
    ("00-abc-def-01", False),
    ("", False),
    (None, False),
])
def test_traceparent_is_read_as_the_w3c_spec_says(header: str | None, valid: bool) -> None:
    context = parse_traceparent(header)
    assert (context is not None) == valid
    if context is not None:
        assert format(context.trace_id, "032x") == TRACE and format(context.span_id, "016x") == PARENT


def test_a_span_continues_the_callers_trace_and_goes_on_in_traceparent() -> None:
    assert current_ids() == (None, None)
    with start_span(f"00-{TRACE}-{PARENT}-01", "vendor=x", "GET /", SpanKind.SERVER):
        trace_id, span_id = current_ids()
        assert trace_id == TRACE and span_id and span_id != PARENT
        assert current_traceparent() == f"00-{TRACE}-{span_id}-01"
    assert current_ids() == (None, None)
    with span_from({"traceparent": "garbage"}, "consume x", SpanKind.CONSUMER):
        fresh, _ = current_ids()
        assert fresh and fresh != TRACE and len(fresh) == 32  # a new trace


def test_recording_spans_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # What setup_tracing(name, record=True) installs, without replacing this process's global provider.
    from opentelemetry.sdk.trace import TracerProvider  # a dev dependency: deployments that export add it

    provider = TracerProvider()
    monkeypatch.setattr(tracing, "_record", True)
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("gluta"))
    with start_span(f"00-{TRACE}-{PARENT}-01", None, "GET /", SpanKind.SERVER) as span:
        assert span.is_recording()
        assert current_ids()[0] == TRACE
