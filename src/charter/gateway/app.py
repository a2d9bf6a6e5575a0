"""Gateway factory: `create(container)` builds the ASGI app the server mounts at /v1, /gw and /metrics.

Wires the pooled upstream session, the live license index, the key cache and the group-commit audit writer
into the container's lifespan, so `charter serve` and `charter gateway` start and stop them with the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from charter.auth import service as auth_service
from charter.auth.model import Actor
from charter.bootstrap import Container
from charter.catalog import versions
from charter.core.events import AuditEvent
from charter.deployments import approvals
from charter.deployments import service as deployments
from charter.deployments.index import Snapshot
from charter.gateway.audit import closer, group_writer
from charter.gateway.authz_grpc import GrpcListener
from charter.gateway.handler import Capture, Gateway
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache
from charter.gateway.listen import listener_for
from charter.gateway.metrics import Metrics
from charter.gateway.refusals import RefusalSummary
from charter.gateway.upstream import Upstream
from charter.licenses import notify

# Model calls carry long prompts and base64 images: the API's 1 MiB default is too small for them.
MODEL_BODY_BYTES = 32 << 20


class NotStarted:
    """The audit appender before the lifespan started: every call is refused (503), never served unaudited."""

    async def append(self, event: AuditEvent, *, fence: int | None = None) -> int:
        raise RuntimeError(f"gateway not started: cannot audit {event.action} (fence {fence})")


def create(container: Container) -> Gateway:
    """The gateway app for one process; its background parts start with the server's lifespan."""
    settings = container.settings

    def verify(key: str) -> Actor:
        with container.uow(write=False) as uow:
            return auth_service.authenticate(uow, key)

    def probe() -> Hashable:
        with container.uow(write=False) as uow:
            return deployments.probe(uow)

    def load() -> Snapshot:
        with container.uow(write=False) as uow:
            return deployments.snapshot(uow, index.snapshot)

    index = LiveIndex(probe, load, poll_s=settings.propagation_poll_s)
    upstream = Upstream(allow=settings.upstream_allowlist, max_answer=settings.max_answer_bytes)
    refusals = RefusalSummary(settings.gateway_refusal_summary_s)
    gateway = Gateway(
        index=index,
        keys=KeyCache(verify, ttl_s=5.0),
        audit=NotStarted(),
        upstream=upstream,
        metrics=Metrics(),
        grace_s=float(settings.degraded_grace_s),
        max_body=max(settings.max_body_bytes, MODEL_BODY_BYTES),
        refusals=refusals,
    )

    def resolve_images(images: Sequence[str]) -> Mapping[str, str]:
        with container.uow(write=False) as uow:
            return versions.digests_by_image(uow, images)

    gateway.resolve_images = resolve_images
    gateway.approvals = StoredApprovals(container)
    listener = listener_for(container.engine, index.wake)  # other processes' changes (PostgreSQL)
    unsubscribe: list[Callable[[], None]] = []
    stoppers: list[Callable[[], Awaitable[None]]] = []

    async def startup() -> None:
        writer = group_writer(container)
        gateway.audit = writer
        gateway.queue_depth = lambda: writer.queue_depth
        # Monitoring registers its capture hook at wiring time; read it once everything is wired.
        capture: Capture | None = container.monitor.capturer if container.monitor is not None else None
        gateway.capture = capture
        await upstream.start()
        await index.start()
        unsubscribe.append(notify.subscribe(index.wake))  # in-process license changes: probe at once
        refusals.start(lambda: gateway.audit)
        if listener is not None:
            listener.start()
        if settings.authz_grpc_port:
            grpc = GrpcListener(gateway, settings.host, settings.authz_grpc_port)
            await grpc.start()
            stoppers.append(grpc.stop)

    async def shutdown() -> None:
        while stoppers:
            await stoppers.pop()()
        while unsubscribe:
            unsubscribe.pop()()
        if listener is not None:
            await asyncio.to_thread(listener.stop)
        await index.stop()
        await refusals.stop(gateway.audit)
        await upstream.close()
        await closer(container)()

    container.lifespan.add(startup, shutdown)
    return gateway


class StoredApprovals:
    """The approval store for the gateway: the domain service run in a worker thread (a write per call)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def ask(self, **kw: Any) -> str:
        def run() -> str:
            with self.container.uow() as uow:
                return approvals.ask(uow, **kw)

        return await asyncio.to_thread(run)

    async def use(self, approval_id: str, **kw: Any) -> str | None:
        def run() -> str | None:
            with self.container.uow() as uow:
                return approvals.use(uow, approval_id, **kw)

        return await asyncio.to_thread(run)
