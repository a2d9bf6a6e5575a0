"""Prometheus metrics of one gateway process: requests by deployment/decision, denials by reason, latencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters and histograms; label children are cached so the hot path skips label resolution."""

    content_type = CONTENT_TYPE_LATEST.encode()

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "charter_gateway_requests",
            "Calls by deployment and decision.",
            ["deployment", "decision"],
            registry=self.registry,
        )
        self._denials = Counter(
            "charter_gateway_denials", "Refused calls by reason.", ["reason"], registry=self.registry
        )
        self._latency = Histogram(
            "charter_gateway_request_seconds",
            "Time from request to audited response.",
            ["deployment"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._upstream = Histogram(
            "charter_gateway_upstream_seconds",
            "Time spent waiting for the upstream.",
            ["deployment"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._audit = Histogram(
            "charter_gateway_audit_seconds",
            "Time until the audit entry is durable.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge("charter_gateway_audit_queue_depth", "Audit entries waiting.", registry=self.registry)
        self.degraded = Gauge("charter_gateway_degraded", "1 while the license index is stale.", registry=self.registry)
        self.index_version = Gauge(
            "charter_gateway_license_state_version", "License state version in memory.", registry=self.registry
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = make()
        return child

    def request(self, deployment: str, decision: str, seconds: float, upstream_s: float | None) -> None:
        self._child(("r", deployment, decision), lambda: self._requests.labels(deployment, decision)).inc()
        self._child(("l", deployment), lambda: self._latency.labels(deployment)).observe(seconds)
        if upstream_s is not None:
            self._child(("u", deployment), lambda: self._upstream.labels(deployment)).observe(upstream_s)

    def denial(self, reason: str) -> None:
        self._child(("d", reason), lambda: self._denials.labels(reason)).inc()

    def audit(self, seconds: float) -> None:
        self._audit.observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
