"""The per-call pipeline: authenticate → find the license → check scope → rate limit → forward → audit → respond.

Raw ASGI on purpose: no framework on the hot path. Every call that reaches a deployment decision gets one audit
entry, durable (group commit) before any response byte that completes the call is released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from starlette.types import Receive, Scope, Send

from charter.audit.writer import FenceMoved
from charter.auth.authorize import allowed
from charter.auth.model import Actor, Permission, Resource
from charter.core.errors import CharterError, Unauthenticated
from charter.core.events import AuditEvent
from charter.deployments.decisions import inference_event
from charter.deployments.model import Deployment, DeploymentKind, Reason, Request, Verdict
from charter.deployments.ratelimit import Limiter
from charter.deployments.scope import decide
from charter.gateway import listing
from charter.gateway.asgi import read_body, respond
from charter.gateway.ids import decision_id
from charter.gateway.inbound import Inbound, inbound, openai_call
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache
from charter.gateway.metrics import Metrics
from charter.gateway.problems import PROBLEM, problem_body
from charter.gateway.upstream import UPSTREAM_ERRORS, Upstream, is_stream, pass_stream, response_headers

log = logging.getLogger("charter.gateway")

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
Capture = Callable[[Deployment, Any, Any], Awaitable[None] | None]


class Appender(Protocol):
    """The group-commit audit writer: resolves once the entry is durable.

    With `fence` (the license state version a call was allowed on) it raises FenceMoved, writing nothing, when a
    license change committed in the meantime: the call is then decided again on the new state.
    """

    async def append(self, event: AuditEvent, *, fence: int | None = None) -> int: ...


class AuditUnavailable(Exception):
    """The audit entry could not be made durable: the call must not be answered."""


@dataclass(slots=True)
class Call:
    """One call in flight."""

    started: float
    decision_id: str
    deployment: str = "-"
    caller: str = "anonymous"
    verdict: Verdict | None = None
    upstream_s: float | None = None
    facts: dict[str, Any] | None = None  # what the call declared (purpose, tools), for its audit entry
    fence: int | None = None  # license state version the call was allowed on
    asked: tuple[Deployment, Actor, str | None, tuple[str, ...]] | None = None  # to decide again


_REDECIDE_TRIES = 5


def _status_for(reason: str) -> int:
    if reason == Reason.RATE_LIMITED:
        return 429
    if reason == Reason.LICENSE_STATUS_UNAVAILABLE:
        return 503
    return 403


class Gateway:
    """The ASGI app mounted at /v1, /gw and /metrics."""

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
        self.limiter = Limiter()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path in OPENAI_PATHS and method == "POST":
            await self._call(scope, receive, send, None)
        elif path.startswith("/gw/"):
            name, _, rest = path[4:].partition("/")
            await self._call(scope, receive, send, (name, rest))
        elif path == "/v1/models" and method == "GET":
            await listing.models(self, scope, send)
        elif path == "/metrics" and method == "GET":
            await listing.metrics(self, send)
        else:
            body = problem_body(404, "not_found", f"no gateway route {method} {path}")
            await respond(send, 404, body, PROBLEM)

    # --- the call pipeline -------------------------------------------------------------------------------------

    async def _call(self, scope: Scope, receive: Receive, send: Send, plain: tuple[str, str] | None) -> None:
        call = Call(started=time.perf_counter(), decision_id=decision_id())
        if plain is not None:
            call.deployment = plain[0]
        inb = inbound(scope["headers"])
        try:
            actor = await self.authenticate(inb)
        except Unauthenticated as exc:
            await self._refuse(send, call, 401, exc.code, exc.message)
            return
        call.caller = actor.ref
        if inb.purpose is not None:
            call.facts = {"purpose": inb.purpose[:200]}
        body = await read_body(receive, self.max_body)
        if body is None:
            await self._refuse(send, call, 413, "payload_too_large", f"request body exceeds {self.max_body} bytes")
            return
        tools: tuple[str, ...] = ()
        doc: dict[str, Any] | None = None
        if plain is None:
            try:
                oa = openai_call(body)
            except CharterError as exc:
                await self._refuse(send, call, 400, exc.code, exc.message)
                return
            call.deployment, tools, doc = oa.model, oa.tools, oa.doc
            if tools:  # bounded: these come from the caller
                call.facts = {**(call.facts or {}), "tools": [t[:100] for t in tools[:50]]}
        dep = self.index.snapshot.deployments.get(call.deployment)
        if dep is None or (plain is None and dep.kind is not DeploymentKind.OPENAI):
            detail = f"no {'OpenAI-compatible ' if plain is None else ''}deployment named '{call.deployment}'"
            await self._refuse(send, call, 404, "deployment_not_found", detail + " (see: charter deployment list)")
            return
        version = self.index.snapshot.version  # the snapshot _decide reads (no await in between)
        call.asked = (dep, actor, inb.purpose, tools)
        verdict = self._decide(dep, actor, inb.purpose, tools)
        call.verdict = verdict
        call.fence = _fence(verdict, version)
        if not verdict.allowed:
            reason = str(verdict.reason)
            await self._refuse(send, call, _status_for(reason), reason, verdict.detail)
            return
        grant = verdict.grant
        assert grant is not None
        rps = grant.rate_limit_rps or dep.rate_limit_rps
        bucket = self.limiter.take((grant.license_id, dep.name), rps, grant.rate_burst or dep.rate_burst)
        if bucket is not None:
            call.verdict = Verdict(False, Reason.RATE_LIMITED, grant=grant, degraded=verdict.degraded)
            retry = f"{max(1, round(bucket.retry_after()))}".encode()
            detail = f"license {grant.license_id} on {dep.name} allows {rps:g} calls/s"
            await self._refuse(send, call, 429, "rate_limited", detail, extra=[(b"retry-after", retry)])
            return
        if dep.upstream_model and doc is not None:
            doc["model"] = dep.upstream_model
            body = orjson.dumps(doc)
        url = self._url(dep, scope, plain)
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
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
        return await self.keys.actor(inb.token)

    @staticmethod
    def _url(dep: Deployment, scope: Scope, plain: tuple[str, str] | None) -> str:
        if plain is not None:
            url = f"{dep.upstream}/{plain[1]}"
        else:
            path: str = scope["path"]
            url = dep.upstream + (path[3:] if dep.upstream.endswith("/v1") else path)
        query: bytes = scope.get("query_string", b"")
        return f"{url}?{query.decode('latin-1')}" if query else url

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        call: Call,
        dep: Deployment,
        url: str,
        inb: Inbound,
        body: bytes,
        doc: dict[str, Any] | None,
    ) -> None:
        sent_at = time.perf_counter()
        try:
            async with self.upstream.session.request(
                scope["method"], url, data=body or None, headers=inb.forward
            ) as resp:
                headers = response_headers(resp, call.decision_id.encode())
                if is_stream(resp):
                    await self._stream(send, call, resp, headers, body, sent_at)
                    return
                payload = await resp.read()
                status = resp.status
        except UPSTREAM_ERRORS as exc:
            call.upstream_s = time.perf_counter() - sent_at
            detail = f"upstream of deployment '{dep.name}' did not answer ({type(exc).__name__})"
            await self._refuse(send, call, 502, "upstream_unavailable", detail, request=body)
            return
        call.upstream_s = time.perf_counter() - sent_at
        try:
            changed = await self._audit_allowed(call, status, None, body, payload)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        if changed is not None:
            await self._withhold(send, call, changed, body)
            return
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if self.capture is not None and 200 <= status < 300:
            self._capture(dep, doc, body, payload)

    async def _stream(
        self, send: Send, call: Call, resp: Any, headers: list[tuple[bytes, bytes]], body: bytes, sent_at: float
    ) -> None:
        result = await pass_stream(resp, send, headers)
        call.upstream_s = time.perf_counter() - sent_at
        reason = "upstream_stream_error" if result.upstream_error else None
        extra = {"stream": True}
        if result.client_gone:
            extra["client_gone"] = True
        try:
            changed = await self._audit_allowed(call, resp.status, reason, body, b"".join(result.body), extra=extra)
            if changed is not None:
                await self._audit(call, _status_for(str(changed.reason)), None, body, None, extra=extra)
        except AuditUnavailable:
            # Headers and part of the body are out; withholding the end of the stream is all that is left to do.
            raise RuntimeError("audit unavailable: stream aborted before its end") from None
        if changed is not None:
            raise RuntimeError(f"{changed.reason} while streaming: stream aborted before its end")
        if result.upstream_error:
            raise RuntimeError(f"upstream stream failed: {result.upstream_error}")
        if not result.client_gone:
            await send({"type": "http.response.body", "body": result.held, "more_body": False})

    # --- refusals and audit ------------------------------------------------------------------------------------

    async def _refuse(
        self,
        send: Send,
        call: Call,
        status: int,
        code: str,
        detail: str,
        *,
        extra: list[tuple[bytes, bytes]] | None = None,
        request: bytes | None = None,
    ) -> None:
        self.metrics.denial(code)
        try:
            await self._audit(call, status, code, request, None)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        headers = [(b"charter-decision-id", call.decision_id.encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="charter"'))
        if extra:
            headers.extend(extra)
        body = problem_body(status, code, detail, decision_id=call.decision_id, license_id=_license(call))
        await respond(send, status, body, PROBLEM, headers)

    async def _audit_allowed(
        self,
        call: Call,
        status: int,
        reason: str | None,
        request: bytes | None,
        response: bytes | None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> Verdict | None:
        """Audit an allowed call, fenced by the license state it was allowed on.

        When a license change committed before the entry could be (FenceMoved), catch the index up and decide again:
        still allowed, the entry is written on the new state; refused, nothing is written and the new verdict is
        returned, for the caller to refuse the call. So no allow is ever ordered after the entry of a change that
        would have refused it.
        """
        for _ in range(_REDECIDE_TRIES):
            try:
                await self._audit(call, status, reason, request, response, extra=extra, fence=call.fence)
                return None
            except FenceMoved as moved:
                if call.asked is None or not await self.index.catch_up(moved.current):
                    raise AuditUnavailable from moved
                version = self.index.snapshot.version
                verdict = self._decide(*call.asked)
                call.verdict = verdict
                call.fence = _fence(verdict, version)
                if not verdict.allowed:
                    return verdict
        raise AuditUnavailable("license state kept changing: the call could not be decided on a settled state")

    async def _withhold(self, send: Send, call: Call, verdict: Verdict, request: bytes) -> None:
        reason = str(verdict.reason)
        detail = (verdict.detail or f"license {verdict.license_id}: {reason}") + (
            "; it changed while the call was in flight, so the upstream's answer is withheld"
        )
        await self._refuse(send, call, _status_for(reason), reason, detail, request=request)

    async def _audit(
        self,
        call: Call,
        status: int,
        reason: str | None,
        request: bytes | None,
        response: bytes | None,
        *,
        extra: dict[str, Any] | None = None,
        fence: int | None = None,
    ) -> int:
        elapsed = time.perf_counter() - call.started
        if call.facts:
            extra = {**call.facts, **(extra or {})}
        event = inference_event(
            decision_id=call.decision_id,
            caller=call.caller,
            deployment=call.deployment,
            verdict=call.verdict,
            status=status,
            latency_ms=elapsed * 1000,
            reason=reason,
            request=request,
            response=response,
            extra=extra,
        )
        t0 = time.perf_counter()
        try:
            seq = await self.audit.append(event, fence=fence)
        except FenceMoved:
            raise
        except Exception as exc:
            log.error("audit append failed: %s", type(exc).__name__)
            raise AuditUnavailable from exc
        done = time.perf_counter()
        self.metrics.audit(done - t0)
        self.metrics.request(call.deployment, event.action.partition(".")[2], done - call.started, call.upstream_s)
        return seq

    async def _audit_down(self, send: Send, call: Call) -> None:
        self.metrics.denial("audit_unavailable")
        body = problem_body(
            503,
            "audit_unavailable",
            "the audit log cannot be written, so no call is answered; retry shortly",
            decision_id=call.decision_id,
        )
        await respond(send, 503, body, PROBLEM, [(b"retry-after", b"1")])

    def _capture(self, dep: Deployment, doc: dict[str, Any] | None, body: bytes, payload: bytes) -> None:
        hook = self.capture
        assert hook is not None
        wants = getattr(hook, "wants", None)
        if wants is not None and not wants(dep):
            return  # a model nobody monitors: no task, no parsing

        async def run() -> None:
            try:
                try:  # plain HTTP deployments: the request body itself; neither side need be JSON
                    request, response = (doc if doc is not None else orjson.loads(body)), orjson.loads(payload)
                except orjson.JSONDecodeError:
                    return
                result = hook(dep, request, response)
                if result is not None:
                    await result
            except Exception as exc:  # monitoring must never break serving
                log.warning("capture hook failed: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _fence(verdict: Verdict, version: int) -> int | None:
    """The license state version an allow stands on; none for a degraded decision, which knows no current state
    (the grace rules govern it, and its entry must stay writable while license tables cannot be read)."""
    return version if verdict.allowed and not verdict.degraded else None


def _license(call: Call) -> str | None:
    return call.verdict.license_id if call.verdict is not None else None
