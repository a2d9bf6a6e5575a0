"""The gateway's read-only routes: `GET /v1/models` (what the caller may use) and `GET /metrics` (a key with
`metrics.read`: the admin and auditor roles)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from starlette.types import Scope, Send

from charter.auth.authorize import allowed
from charter.auth.model import Permission, Resource
from charter.core.errors import ErrorCode, Unauthenticated
from charter.deployments.model import DeploymentKind, Request
from charter.deployments.scope import check
from charter.gateway.asgi import respond
from charter.gateway.inbound import inbound
from charter.gateway.problems import PROBLEM, problem_body

if TYPE_CHECKING:
    from charter.gateway.handler import Gateway

JSON = b"application/json"


async def models(gw: Gateway, scope: Scope, send: Send) -> None:
    """OpenAI-shaped list of the deployments some license lets this caller use now (any of its purposes)."""
    try:
        actor = await gw.authenticate(inbound(scope["headers"]))
    except Unauthenticated as exc:
        await gw.summarise(send, 401, exc.code, exc.message)
        return
    now = time.time()
    snap = gw.index.snapshot
    data = []
    for dep in sorted(snap.deployments.values(), key=lambda d: d.name):
        if dep.kind is not DeploymentKind.OPENAI:
            continue
        grants = snap.grants_for(dep)
        if any(check(g, Request(actor.ref, p, ()), now) is None for g in grants for p in g.purposes):
            data.append({"id": dep.name, "object": "model", "created": 0, "owned_by": "charter", "model": dep.model})
    await respond(send, 200, orjson.dumps({"object": "list", "data": data}), JSON)


async def metrics(gw: Gateway, scope: Scope, send: Send) -> None:
    """Prometheus text format; gauges are read at scrape time. Needs a key with `metrics.read`."""
    try:
        actor = await gw.authenticate(inbound(scope["headers"]))
    except Unauthenticated as exc:
        await gw.summarise(send, 401, exc.code, exc.message + " (Prometheus: `authorization: {credentials: KEY}`)")
        return
    if not allowed(actor, Permission.METRICS_READ, Resource(kind="metrics")):
        detail = f"{actor.ref} may not read metrics: needs metrics.read (the admin or auditor role)"
        await respond(send, 403, problem_body(403, ErrorCode.FORBIDDEN, detail), PROBLEM)
        return
    now = time.time()
    gw.metrics.degraded = 1 if gw.index.degraded_since(now) is not None else 0
    gw.metrics.index_version = gw.index.snapshot.version
    if gw.queue_depth is not None:
        gw.metrics.queue_depth = gw.queue_depth()
    await respond(send, 200, gw.metrics.render(), gw.metrics.content_type)
