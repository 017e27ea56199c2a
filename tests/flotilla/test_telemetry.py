"""Trace context survives a trip through NATS message headers."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from flotilla.telemetry import extract_context, inject_headers


def test_a_span_started_from_extracted_headers_continues_the_callers_trace() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        headers = inject_headers({"Nats-Msg-Id": "x"})
    assert "traceparent" in headers
    assert headers["Nats-Msg-Id"] == "x"
    with tracer.start_as_current_span("callee", context=extract_context(headers)) as callee:
        assert callee.get_span_context().trace_id == caller.get_span_context().trace_id
        assert isinstance(callee, ReadableSpan)
        assert callee.parent is not None
        assert callee.parent.span_id == caller.get_span_context().span_id
    assert trace.get_current_span() is trace.INVALID_SPAN
