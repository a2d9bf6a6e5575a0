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
from yarl import URL

from charter.audit.writer import FenceMoved
from charter.auth.authorize import allowed
from charter.auth.model import Actor, Permission, Resource
from charter.core.errors import CharterError, Unauthenticated
from charter.core.events import AuditEvent
from charter.deployments.decisions import inference_event
from charter.deployments.model import Deployment, DeploymentKind, Reason, Request, Verdict
from charter.deployments.ratelimit import Limiter
from charter.deployments.scope import decide
from charter.gateway import listing, paths
from charter.gateway.asgi import ClientGone, read_body, respond
from charter.gateway.ids import decision_id
from charter.gateway.inbound import Inbound, call_tools, inbound, openai_call
from charter.gateway.index import LiveIndex
from charter.gateway.keys import KeyCache
from charter.gateway.metrics import Metrics
from charter.gateway.problems import PROBLEM, problem_body
from charter.gateway.refusals import RefusalSummary
from charter.gateway.toolcheck import EventStream, Refusal, check_payload
from charter.gateway.upstream import (
    UPSTREAM_ERRORS,
    Upstream,
    is_stream,
    pass_events,
    pass_stream,
    refused_by_resolver,
    response_headers,
)

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
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path in OPENAI_PATHS and method == "POST":
                await self._openai(scope, receive, send, path)
                return
            if path.startswith("/gw/"):
                await self._plain(scope, receive, send)
                return
        except ClientGone:
            return  # nothing was decided or forwarded: no one to answer
        if path == "/v1/models" and method == "GET":
            await listing.models(self, scope, send)
        elif path == "/metrics" and method == "GET":
            await listing.metrics(self, scope, send)
        else:
            body = problem_body(404, "not_found", f"no gateway route {method} {path}")
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
        if inb.purpose is not None:
            call.facts = {"purpose": inb.purpose[:200]}
        too_big = self._too_big(inb)
        body = None if too_big else await read_body(receive, self.max_body)
        if body is None:
            detail = too_big or f"request body exceeds {self.max_body} bytes"
            await self.summarise(send, 413, "payload_too_large", detail, close=too_big is not None)
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
            await self.summarise(send, 404, "deployment_not_found", detail)
            return
        # A known deployment and an authenticated caller: from here on every outcome has its own audit entry.
        query: bytes = scope.get("query_string", b"")
        try:
            paths.check_query(query)
            tools = call_tools(body, oa.doc)
        except (paths.PathNotAllowed, CharterError) as exc:
            code = exc.code if isinstance(exc, CharterError) else "path_not_allowed"
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
            await self.summarise(send, 400, "path_not_allowed", str(exc))
            return
        call.deployment = name
        dep = self.index.snapshot.deployments.get(name)
        if dep is None:
            detail = f"no deployment named '{name}' (see: charter deployment list)"
            await self.summarise(send, 404, "deployment_not_found", detail)
            return
        if dep.kind is DeploymentKind.OPENAI:
            detail = (
                f"deployment '{name}' is OpenAI-compatible: call it at /v1/chat/completions, /v1/completions or "
                '/v1/embeddings (with "model": "' + name + '"), where its tool scope is checked'
            )
            await self._refuse(send, call, 400, "openai_route_required", detail)
            return
        query: bytes = scope.get("query_string", b"")
        try:
            paths.check(rest)
            paths.check_query(query)
        except paths.PathNotAllowed as exc:
            await self._refuse(send, call, 400, "path_not_allowed", str(exc))
            return
        too_big = self._too_big(inb)
        body = None if too_big else await read_body(receive, self.max_body)
        if body is None:
            detail = too_big or f"request body exceeds {self.max_body} bytes"
            await self._refuse(send, call, 413, "payload_too_large", detail, close=too_big is not None)
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
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
        return await self.keys.actor(inb.token)

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
        refused = self.upstream.refusal(dep.upstream)
        if refused is not None:
            detail = f"upstream of deployment '{dep.name}' is not allowed: {refused}"
            await self._refuse(send, call, 502, "upstream_not_allowed", detail, request=body)
            return
        checked = dep.kind is DeploymentKind.OPENAI  # answers are read for tool calls
        sent_at = time.perf_counter()
        problem: tuple[str, str] | None = None
        try:
            async with self.upstream.session.request(
                scope["method"], URL(url, encoded=True), data=body or None, headers=inb.forward, allow_redirects=False
            ) as resp:
                status = resp.status
                encoding = resp.headers.get("content-encoding", "identity").lower()
                if 300 <= status < 400 and status != 304:
                    problem = ("upstream_redirect", f"answered {status} (a redirect, which the gateway never follows)")
                elif checked and encoding != "identity":
                    problem = ("upstream_response_unreadable", f"answered in {encoding[:40]} encoding")
                elif is_stream(resp):
                    headers = response_headers(resp, call.decision_id.encode())
                    await self._stream(send, call, resp, headers, body, sent_at, checked)
                    return
                else:
                    headers = response_headers(resp, call.decision_id.encode())
                    payload = await resp.read()
        except UPSTREAM_ERRORS as exc:
            call.upstream_s = time.perf_counter() - sent_at
            why = refused_by_resolver(exc)
            if why is not None:
                detail = f"upstream of deployment '{dep.name}' is not allowed: {why}"
                await self._refuse(send, call, 502, "upstream_not_allowed", detail, request=body)
                return
            detail = f"upstream of deployment '{dep.name}' did not answer ({type(exc).__name__})"
            await self._refuse(send, call, 502, "upstream_unavailable", detail, request=body)
            return
        call.upstream_s = time.perf_counter() - sent_at
        if problem is not None:
            detail = f"upstream of deployment '{dep.name}' {problem[1]}; its answer is withheld"
            await self._refuse(send, call, 502, problem[0], detail, request=body)
            return
        if checked and call.verdict is not None and call.verdict.grant is not None:
            refusal = check_payload(payload, call.verdict.grant.tools)
            if refusal is not None:
                await self._refuse_answer(send, call, refusal, body, payload)
                return
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

    def _out_of_scope(self, call: Call, refusal: Refusal) -> None:
        """The call's verdict becomes the answer's refusal (its audit entry says which tools the model called)."""
        allowed_verdict = call.verdict
        call.verdict = Verdict(
            False,
            Reason.TOOL_NOT_IN_SCOPE,
            grant=allowed_verdict.grant if allowed_verdict is not None else None,
            degraded=allowed_verdict.degraded if allowed_verdict is not None else False,
        )
        call.facts = {**(call.facts or {}), "tools_called": [t[:100] for t in refusal.tools[:50]], "answer": "withheld"}

    async def _refuse_answer(self, send: Send, call: Call, refusal: Refusal, body: bytes, payload: bytes) -> None:
        self._out_of_scope(call, refusal)
        detail = refusal.detail + "; the upstream's answer is withheld"
        await self._refuse(send, call, 403, refusal.code, detail, request=body, response=payload)

    async def _stream(
        self,
        send: Send,
        call: Call,
        resp: Any,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        sent_at: float,
        checked: bool,
    ) -> None:
        events = None
        if checked and call.verdict is not None and call.verdict.grant is not None:
            events = EventStream(call.verdict.grant.tools)
            result = await pass_events(resp, send, headers, events)
        else:
            result = await pass_stream(resp, send, headers)
        call.upstream_s = time.perf_counter() - sent_at
        extra: dict[str, Any] = {"stream": True}
        if result.client_gone:
            extra["client_gone"] = True
        if events is not None and events.refusal is not None:
            await self._cut_stream(send, call, events.refusal, body, b"".join(result.body), extra, result.client_gone)
            return
        reason = "upstream_stream_error" if result.upstream_error else None
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

    async def _cut_stream(
        self,
        send: Send,
        call: Call,
        refusal: Refusal,
        body: bytes,
        received: bytes,
        extra: dict[str, Any],
        client_gone: bool,
    ) -> None:
        """End a stream at its first out-of-scope tool call: audit the refusal, then an error event and the end."""
        self._out_of_scope(call, refusal)
        self.metrics.denial(refusal.code)
        try:
            await self._audit(call, 403, refusal.code, body, received, extra=extra)
        except AuditUnavailable:
            raise RuntimeError("audit unavailable: stream aborted before its end") from None
        if client_gone:
            return
        error = {
            "error": {
                "message": refusal.detail + "; the rest of the answer is withheld",
                "type": "charter_refusal",
                "code": refusal.code,
                "decision_id": call.decision_id,
                "license_id": _license(call),
            }
        }
        await send(
            {"type": "http.response.body", "body": b"data: " + orjson.dumps(error) + b"\n\n", "more_body": False}
        )

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
        response: bytes | None = None,
        close: bool = False,
    ) -> None:
        """Refuse a call to a known deployment: its own audit entry (durable first), then the problem."""
        self.metrics.denial(code)
        try:
            await self._audit(call, status, code, request, response)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        headers = [(b"charter-decision-id", call.decision_id.encode())]
        if extra:
            headers.extend(extra)
        if close:  # the body was not read: end the connection rather than read or skip it
            headers.append((b"connection", b"close"))
        body = problem_body(status, code, detail, decision_id=call.decision_id, license_id=_license(call))
        await respond(send, status, body, PROBLEM, headers)

    async def summarise(self, send: Send, status: int, code: str, detail: str, *, close: bool = False) -> None:
        """Refuse a call that names no known deployment with a valid key: counted for the periodic summary entry
        (and in metrics by reason), not audited one by one; no decision id, as there is no entry to look up."""
        self.metrics.denial(code)
        self.refusals.count(code)
        headers: list[tuple[bytes, bytes]] = []
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="charter"'))
        if close:
            headers.append((b"connection", b"close"))
        await respond(send, status, problem_body(status, code, detail), PROBLEM, headers)

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
