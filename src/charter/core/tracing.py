"""OpenTelemetry traces, off unless an OTLP endpoint is configured with the standard `OTEL_*` variables.

`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns tracing on: spans go over OTLP/HTTP
(protobuf) through a batch processor; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_BSP_*` and `OTEL_SDK_DISABLED` mean what the specification says. With tracing off nothing of OpenTelemetry is
imported and the hot paths pay one module-attribute read (`tracer()` returns None).

Spans: `charter.gateway` (server; W3C `traceparent` read from the caller and returned to it) with the decision's
deployment, license id, decision id, reason and audit seq; its `upstream` child (client; its `traceparent` sent to the
model server); API requests (`HTTP` server spans named by route); `audit.batch` (one group commit: entries, seqs);
`monitoring.check` (one window's checks).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

_tracer: Any = None
_provider: Any = None
_server_span: ContextVar[Any] = ContextVar("charter_server_span", default=None)

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def wanted(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and neither the SDK nor the exporter disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARS)


def configure(service: str, env: Mapping[str, str] = os.environ) -> bool:
    """Start exporting spans when the environment asks for it; returns whether tracing is on."""
    if _tracer is not None or not wanted(env):
        return _tracer is not None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: pip install 'charter[otel]' "
            "(or unset the variable)"
        ) from None
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider: Any) -> None:
    """Trace with `provider` (an SDK TracerProvider); tests install one with their own processor."""
    global _tracer, _provider
    from charter import __version__

    _provider, _tracer = provider, provider.get_tracer("charter", __version__)


def shutdown() -> None:
    """Flush and stop exporting (at process exit)."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def tracer() -> Any:
    """The tracer, or None when tracing is off (the only thing hot paths ask)."""
    return _tracer


def _headers(scope: Mapping[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}


@contextlib.contextmanager
def server_span(name: str, scope: Mapping[str, Any], attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A SERVER span for an incoming ASGI request, continuing the caller's `traceparent` if it sent one."""
    from opentelemetry import propagate, trace

    parent = propagate.extract(_headers(scope))
    attrs = {"http.request.method": scope.get("method", ""), "url.path": scope.get("path", ""), **(attributes or {})}
    with _tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER, attributes=attrs) as span:
        token = _server_span.set(span)
        try:
            yield span
        finally:
            _server_span.reset(token)


@contextlib.contextmanager
def client_span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A CLIENT span (an outgoing call), or None when tracing is off."""
    if _tracer is None:
        yield None
        return
    from opentelemetry import trace

    with _tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=dict(attributes or {})) as span:
        yield span


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """An INTERNAL span (a batch, a check), or None when tracing is off."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=dict(attributes or {})) as current:
        yield current


def traceparent() -> str | None:
    """The W3C `traceparent` of the current span (to send upstream or return to the caller)."""
    if _tracer is None:
        return None
    from opentelemetry import propagate

    carrier: MutableMapping[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def annotate(**attributes: Any) -> None:
    """Set attributes on the request's server span (the gateway's decision facts); no-op when tracing is off."""
    current = _server_span.get() if _tracer is not None else None
    if current is not None:
        current.set_attributes({f"charter.{k}": v for k, v in attributes.items() if v is not None})


def set_status(span_: Any, status: int) -> None:
    if span_ is None:
        return
    span_.set_attribute("http.response.status_code", status)
    if status >= 500:
        from opentelemetry.trace import Status, StatusCode

        span_.set_status(Status(StatusCode.ERROR))


def traced_send(send: Any, span_: Any) -> Any:
    """An ASGI `send` that records the response status on `span_` and returns the trace's `traceparent` header."""
    header = traceparent()

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            set_status(span_, int(message["status"]))
            if header is not None:
                message = {**message, "headers": [*message.get("headers", []), (b"traceparent", header.encode())]}
        await send(message)

    return wrapped


def record(name: str, start_ns: int, attributes: Mapping[str, Any]) -> None:
    """A span that ran from `start_ns` until now, recorded after the fact (work done off the request's context)."""
    if _tracer is None:
        return
    _tracer.start_span(name, start_time=start_ns, attributes=dict(attributes)).end()
