"""OpenTelemetry: one trace links the caller's span, the gateway's decision (with its audit seq), the upstream call
(whose `traceparent` the model server received) and what the caller gets back; spans arrive over real OTLP/HTTP
(protobuf, decoded with `opentelemetry-proto`) at a receiver on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from charter.core import tracing
from charter.gateway.handler import Gateway
from tests.integration.gateway.test_gateway_pipeline import CHAT, World, _entry, world  # noqa: F401 (fixture)

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each export request, keeps every span with its attributes."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                assert self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.changed:
                    for rs in request.resource_spans:
                        service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                receiver.spans.append(_span(s, service))
                    receiver.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, name: str, **attrs: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for s in self.spans:
                if s["name"] == name and all(s["attributes"].get(k) == v for k, v in attrs.items()):
                    return s
            return None

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, timeout=15), (name, attrs, self.spans)
            span = found()
            assert span is not None
            return span


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _span(s: Any, service: str) -> dict[str, Any]:
    return {
        "name": s.name,
        "service": service,
        "trace_id": s.trace_id.hex(),
        "span_id": s.span_id.hex(),
        "parent": s.parent_span_id.hex(),
        "kind": s.kind,
        "attributes": {a.key: _value(a.value) for a in s.attributes},
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    provider = TracerProvider(resource=Resource.create({"service.name": "charter-test"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=r.url)))
    tracing.install(provider)
    yield r
    tracing.shutdown()
    r.server.shutdown()


@SQLITE
def test_one_trace_links_caller_gateway_upstream_and_audit_seq(
    receiver: Receiver,
    world: tuple[World, Gateway, str, str],  # noqa: F811 (the imported fixture)
) -> None:
    w, _, key, _ = world
    headers = {
        "Authorization": f"Bearer {key}",
        "Charter-Purpose": "credit-scoring",
        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
    }
    r = httpx.post(w.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    decision = r.headers["charter-decision-id"]
    seq = _entry(w.container, decision)["seq"]

    gateway = receiver.wait_for("charter.gateway", **{"charter.decision_id": decision})
    assert gateway["trace_id"] == CALLER_TRACE and gateway["parent"] == CALLER_SPAN  # the caller's trace goes on
    assert gateway["attributes"]["charter.audit_seq"] == seq
    assert gateway["attributes"]["charter.license_id"] == "lic_test"
    assert gateway["attributes"]["charter.deployment"] == "credit-prod"
    assert gateway["attributes"]["charter.decision"] == "allow"
    assert gateway["attributes"]["http.response.status_code"] == 200

    upstream = receiver.wait_for("upstream", **{"charter.deployment": "credit-prod"})
    assert upstream["trace_id"] == CALLER_TRACE and upstream["parent"] == gateway["span_id"]
    sent = w.upstream.seen_headers[-1]["traceparent"]
    assert sent == f"00-{CALLER_TRACE}-{upstream['span_id']}-01"  # the model server continues the same trace
    assert r.headers["traceparent"].split("-")[1:3] == [CALLER_TRACE, gateway["span_id"]]  # returned to the caller
    receiver.wait_for("audit.batch")


@SQLITE
def test_a_refusal_is_traced_with_its_reason(
    receiver: Receiver,
    world: tuple[World, Gateway, str, str],  # noqa: F811 (the imported fixture)
) -> None:
    w, _, key, _ = world
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": "marketing"}
    r = httpx.post(w.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)  # type: ignore[attr-defined]
    assert r.status_code == 403
    span = receiver.wait_for("charter.gateway", **{"charter.decision_id": r.headers["charter-decision-id"]})
    assert span["attributes"]["charter.decision"] == "deny"
    assert span["attributes"]["charter.reason"] == "purpose_not_in_scope"
    assert span["attributes"]["http.response.status_code"] == 403
    assert not [s for s in receiver.spans if s["name"] == "upstream" and s["trace_id"] == span["trace_id"]]


def test_tracing_is_off_without_an_endpoint() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"})


def test_api_requests_are_spans_named_by_route(receiver: Receiver, container: Any, admin_key: str) -> None:
    from starlette.testclient import TestClient

    from charter.server import Dispatcher

    with TestClient(Dispatcher(container)) as api:
        r = api.get("/api/v1/systems/nope", headers={"Authorization": f"Bearer {admin_key}"})
    assert r.status_code == 404 and "traceparent" in r.headers
    span = receiver.wait_for("GET /api/v1/systems/{name}")
    assert span["attributes"]["http.route"] == "/api/v1/systems/{name}"
    assert span["attributes"]["http.response.status_code"] == 404
    assert span["attributes"]["url.path"] == "/api/v1/systems/nope"
