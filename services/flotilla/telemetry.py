"""OpenTelemetry tracing set up from the standard `OTEL_*` settings, and W3C trace context carried
in NATS message headers so that one trace follows a call across services."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context, propagate
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from flotilla.settings import ServiceSettings

__all__ = ["extract_context", "inject_headers", "tracer_provider"]


def tracer_provider(service: str, settings: ServiceSettings) -> TracerProvider:
    """A tracer provider for `service`; it exports over OTLP/HTTP when an endpoint is set.

    Without `OTEL_EXPORTER_OTLP_ENDPOINT` spans are still created (trace context still flows
    between services) but go nowhere. The kit installs it as the global provider only in a
    service's own process, so tests can run several services side by side.
    """
    name = settings.otel_service_name or f"flotilla-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers for a NATS message that carry the current trace context (traceparent, ...)."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> context.Context:
    """The trace context a NATS message's headers carry (empty when they carry none)."""
    return propagate.extract(dict(headers or {}))
