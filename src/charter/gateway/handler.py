"""The per-call pipeline: authenticate → find the deployment → check the path and the tools → check the license
scope → rate limit → forward (`forward.py`) → audit (`auditing.py`) → respond.

Raw ASGI on purpose: no framework on the hot path. Every authenticated call to a known deployment gets one audit
entry, durable (group commit) before any response byte that completes the call is released; the others (no key, a
bad key, an unknown deployment, an unreadable body) are counted into a periodic summary entry (`refusals.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from charter.auth.authorize import allowed
from charter.auth.model import Actor, Permission, Resource
from charter.core import tracing
from charter.core.errors import CharterError, ErrorCode, Unauthenticated
from charter.deployments.model import Deployment, DeploymentKind, Reason, Request, Verdict
from charter.deployments.ratelimit import Limiter
from charter.deployments.scope import decide
from charter.gateway import admit, listing, paths
from charter.gateway.asgi import ClientGone, read_body, respond
from charter.gateway.auditing import Appender, AuditUnavailable, Call, _fence, _status_for
from charter.gateway.authz import ExternalDecisions
from charter.gateway.decision_cache import DecisionCache
from charter.gateway.forward import Approvals, Capture
from charter.gateway.ids import decision_id
from charter.gateway.inbound import Inbound, call_tools, inbound, openai_call
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache
from charter.gateway.mcp import McpRoute, Sessions
from charter.gateway.metrics import Metrics
from charter.gateway.problems import PROBLEM, problem_body
from charter.gateway.refusals import RefusalSummary
from charter.gateway.upstream import Upstream

__all__ = ["OPENAI_PATHS", "Appender", "AuditUnavailable", "Capture", "Gateway"]

log = logging.getLogger("charter.gateway")

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})


class Gateway(ExternalDecisions, McpRoute):
    """The ASGI app mounted at /v1, /gw, /mcp, /authz, /k8s and /metrics."""

    def __init__(
        self,
        *,
        index: LiveIndex,
        keys: KeyCache,
        audit: Appender,
        upstream: Upstream,
        metrics: Metrics,
        grace_s: float,
        max_body: int,
        capture: Capture | None = None,
        queue_depth: Callable[[], int] | None = None,
        refusals: RefusalSummary | None = None,
    ) -> None:
        self.index = index
        self.keys = keys
        self.audit = audit
        self.upstream = upstream
        self.metrics = metrics
        self.grace_s = grace_s
        self.max_body = max_body
        self.capture = capture
        self.queue_depth = queue_depth
        self.refusals = refusals or RefusalSummary()
        self.limiter = Limiter()
        self.decisions = DecisionCache()
        # OCI image references → model version digests (by registered URI), for admission; set by the factory.
        self.resolve_images: Callable[[Sequence[str]], Mapping[str, str]] = lambda _refs: {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sessions = Sessions()
        self.approvals: Approvals | None = None  # set by the factory
        self.tool_counts = self.metrics.tool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if tracing.tracer() is None:
            await self._dispatch(scope, receive, send)
            return
        with tracing.server_span("charter.gateway", scope) as span:
            await self._dispatch(scope, receive, tracing.traced_send(send, span))

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path in OPENAI_PATHS and method == "POST":
                await self._openai(scope, receive, send, path)
                return
            if path.startswith("/gw/"):
                await self._plain(scope, receive, send)
                return
            if path.startswith("/mcp/"):
                await self._mcp(scope, receive, send)
                return
            if path.startswith("/authz/"):
                await self.authz(scope, receive, send)
                return
            if path == "/k8s/admit" or path.startswith("/k8s/admit/"):
                await admit.admit(self, scope, receive, send, self.resolve_images)
                return
        except ClientGone:
            return  # nothing was decided or forwarded: no one to answer
        if path == "/v1/models" and method == "GET":
            await listing.models(self, scope, send)
        elif path == "/metrics" and method == "GET":
            await listing.metrics(self, scope, send)
        else:
            body = problem_body(404, ErrorCode.NOT_FOUND, f"no gateway route {method} {path}")
            await respond(send, 404, body, PROBLEM)

    # --- the call pipeline -------------------------------------------------------------------------------------

    async def _caller(self, send: Send, inb: Inbound) -> Actor | None:
        """The authenticated caller, or None once a keyless/bad-key call has been refused (counted, not audited)."""
        try:
            return await self.authenticate(inb)
        except Unauthenticated as exc:
            await self.summarise(send, 401, exc.code, exc.message)
            return None

    def _too_big(self, inb: Inbound) -> str | None:
        declared = inb.content_length
        if declared is not None and (declared < 0 or declared > self.max_body):
            return f"request body of {declared} bytes exceeds {self.max_body} bytes (declared Content-Length)"
        return None

    async def _openai(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """`POST /v1/chat/completions` and friends: the body's `model` names the deployment; its tools are checked."""
        call = Call(started=time.perf_counter(), decision_id=decision_id())
        inb = inbound(scope["headers"])
        actor = await self._caller(send, inb)
        if actor is None:
            return
        call.caller = actor.ref
        call.approval = inb.approval
        if inb.purpose is not None:
            call.facts = {"purpose": inb.purpose[:200]}
        too_big = self._too_big(inb)
        body = None if too_big else await read_body(receive, self.max_body)
        if body is None:
            detail = too_big or f"request body exceeds {self.max_body} bytes"
            await self.summarise(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, detail, close=True)
            return
        try:
            oa = openai_call(body)
        except CharterError as exc:
            await self.summarise(send, 400, exc.code, exc.message)
            return
        call.deployment = oa.model
        dep = self.index.snapshot.deployments.get(oa.model)
        if dep is None or dep.kind is not DeploymentKind.OPENAI:
            detail = f"no OpenAI-compatible deployment named '{oa.model[:100]}' (see: charter deployment list)"
            await self.summarise(send, 404, ErrorCode.DEPLOYMENT_NOT_FOUND, detail)
            return
        # A known deployment and an authenticated caller: from here on every outcome has its own audit entry.
        query: bytes = scope.get("query_string", b"")
        try:
            paths.check_query(query)
            tools = call_tools(body, oa.doc)
        except (paths.PathNotAllowed, CharterError) as exc:
            code = exc.code if isinstance(exc, CharterError) else ErrorCode.PATH_NOT_ALLOWED
            await self._refuse(send, call, 400, code, exc.message if isinstance(exc, CharterError) else str(exc))
            return
        if tools:  # bounded: these come from the caller
            call.facts = {**(call.facts or {}), "tools": [t[:100] for t in tools[:50]]}
        url = paths.openai_url(dep.upstream, path)
        await self._decided(scope, send, call, dep, actor, inb, tools, body, oa.doc, url, query)

    async def _plain(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`/gw/{deployment}/{path}`: any method, forwarded under the deployment's base URL (HTTP deployments)."""
        call = Call(started=time.perf_counter(), decision_id=decision_id())
        inb = inbound(scope["headers"])
        actor = await self._caller(send, inb)
        if actor is None:
            return
        call.caller = actor.ref
        if inb.purpose is not None:
            call.facts = {"purpose": inb.purpose[:200]}
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        try:
            name, rest = paths.split(raw)
        except paths.PathNotAllowed as exc:
            await self.summarise(send, 400, ErrorCode.PATH_NOT_ALLOWED, str(exc))
            return
        call.deployment = name
        dep = self.index.snapshot.deployments.get(name)
        if dep is None:
            detail = f"no deployment named '{name}' (see: charter deployment list)"
            await self.summarise(send, 404, ErrorCode.DEPLOYMENT_NOT_FOUND, detail)
            return
        if dep.kind is DeploymentKind.OPENAI:
            detail = (
                f"deployment '{name}' is OpenAI-compatible: call it at /v1/chat/completions, /v1/completions or "
                '/v1/embeddings (with "model": "' + name + '"), where its tool scope is checked'
            )
            await self._refuse(send, call, 400, ErrorCode.OPENAI_ROUTE_REQUIRED, detail)
            return
        query: bytes = scope.get("query_string", b"")
        try:
            paths.check(rest)
            paths.check_query(query)
        except paths.PathNotAllowed as exc:
            await self._refuse(send, call, 400, ErrorCode.PATH_NOT_ALLOWED, str(exc))
            return
        too_big = self._too_big(inb)
        body = None if too_big else await read_body(receive, self.max_body)
        if body is None:
            detail = too_big or f"request body exceeds {self.max_body} bytes"
            await self._refuse(send, call, 413, ErrorCode.PAYLOAD_TOO_LARGE, detail, close=True)
            return
        url = paths.plain_url(dep.upstream, rest)
        await self._decided(scope, send, call, dep, actor, inb, (), body, None, url, query)

    async def _decided(
        self,
        scope: Scope,
        send: Send,
        call: Call,
        dep: Deployment,
        actor: Actor,
        inb: Inbound,
        tools: tuple[str, ...],
        body: bytes,
        doc: dict[str, Any] | None,
        url: str,
        query: bytes,
    ) -> None:
        version = self.index.snapshot.version  # the snapshot _decide reads (no await in between)
        call.asked = (dep, actor, inb.purpose, tools)
        verdict = self._decide(dep, actor, inb.purpose, tools)
        call.verdict = verdict
        call.fence = _fence(verdict, version)
        if not verdict.allowed:
            reason = str(verdict.reason)
            await self._refuse(send, call, _status_for(reason), reason, verdict.detail)
            return
        limited = self._rate_limited(call, dep, verdict)
        if limited is not None:
            detail, retry = limited
            await self._refuse(send, call, 429, ErrorCode.RATE_LIMITED, detail, extra=[(b"retry-after", retry)])
            return
        if dep.upstream_model and doc is not None:
            doc["model"] = dep.upstream_model
            body = orjson.dumps(doc)
        if query:
            url = f"{url}?{query.decode('ascii')}"
        await self._forward(scope, send, call, dep, url, inb, body, doc)

    def _decide(self, dep: Deployment, actor: Actor, purpose: str | None, tools: tuple[str, ...]) -> Verdict:
        now = time.time()
        grants = self.index.snapshot.grants_for(dep)
        verdict = decide(
            grants,
            Request(actor.ref, purpose, tools),
            now,
            degraded_since=self.index.degraded_since(now),
            grace_s=self.grace_s,
        )
        if verdict.allowed and not allowed(
            actor, Permission.INFERENCE_CALL, Resource(kind="deployment", name=dep.name, system=dep.system)
        ):
            return Verdict(
                False,
                Reason.CALLER_NOT_IN_SCOPE,
                grant=verdict.grant,
                degraded=verdict.degraded,
                detail=f"{actor.ref} has no role that may call models (needs the app role)",
            )
        return verdict

    async def authenticate(self, inb: Inbound) -> Actor:
        if inb.token is None:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'", code=ErrorCode.MISSING_API_KEY)
        return await self.keys.actor(inb.token)
