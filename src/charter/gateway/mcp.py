"""`/mcp/{deployment}`: an MCP server's Streamable HTTP endpoint behind the license of the agent system.

Per message (one JSON-RPC message per POST): authenticate the agent's key → find the `mcp` deployment → parse the
message (no batches, no repeated deciding keys) → routing headers must match the body (2026-07-28: `Mcp-Method`,
`Mcp-Name`; else 400 / -32020) → a legacy session id must be one this gateway issued to this agent → the license
(state, caller, purpose) → for `tools/call`, `prompts/get`, `resources/read`: the name in scope (`SERVER:TOOL`,
`SERVER:*`), `tools/call` arguments bounded, their conditions true, an approval when one is required → forward →
`tools/list` answers cut to the allowed tools → one audit entry (license, agent, server, tool, sha256 of the
canonical arguments and of the result, latency) durable before the answer is released.

Legacy sessions (`initialize` + `Mcp-Session-Id`): the upstream's session id never reaches the agent; Charter hands
out its own, mapped 1:1 to the upstream's and bound to the agent that created it, so another agent's session id
(or a guessed upstream one) is refused. The map lives in this gateway process.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from yarl import URL

from charter.auth.model import Actor
from charter.core.errors import ErrorCode
from charter.deployments import toolscope
from charter.deployments.model import Deployment, DeploymentKind, Reason, Verdict
from charter.gateway import mcp_wire as wire
from charter.gateway.asgi import read_body, respond
from charter.gateway.auditing import AuditUnavailable, Call, _fence, _license, _status_for
from charter.gateway.forward import Forwarding
from charter.gateway.ids import decision_id
from charter.gateway.inbound import Inbound, inbound
from charter.gateway.upstream import UPSTREAM_ERRORS, AnswerTooLarge, refused_by_resolver, response_headers

JSON = b"application/json"
MAX_SESSIONS = 100_000
_PASS_METHODS = ("GET", "DELETE")


@dataclass(frozen=True, slots=True)
class Session:
    upstream_id: str
    caller: str
    deployment: str


class Sessions:
    """Charter session id → the upstream's, and who created it (bounded; the oldest are forgotten first)."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._map: OrderedDict[str, Session] = OrderedDict()
        self._limit = limit

    def add(self, session: Session) -> str:
        sid = "charter-" + secrets.token_urlsafe(24)
        self._map[sid] = session
        while len(self._map) > self._limit:
            self._map.popitem(last=False)
        return sid

    def get(self, sid: str) -> Session | None:
        return self._map.get(sid)

    def drop(self, sid: str) -> None:
        self._map.pop(sid, None)


def _headers(scope: Scope) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        if name.startswith(b"mcp-"):
            out.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return out


class McpRoute(Forwarding):
    """The MCP half of the gateway (mixed into `handler.Gateway`)."""

    sessions: Sessions
    max_body: int
    tool_counts: Callable[[str, str, str], None]

    def _decide(self, dep: Deployment, actor: Actor, purpose: str | None, tools: tuple[str, ...]) -> Verdict:
        raise NotImplementedError

    async def _caller(self, send: Send, inb: Inbound) -> Actor | None:
        raise NotImplementedError

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = Call(started=time.perf_counter(), decision_id=decision_id())
        inb = inbound(scope["headers"])
        actor = await self._caller(send, inb)
        if actor is None:
            return
        call.caller = actor.ref
        path: str = scope["path"]
        name = path[5:].rstrip("/")
        dep = self.index.snapshot.deployments.get(name)
        if dep is None or dep.kind is not DeploymentKind.MCP:
            await self.summarise(send, 404, ErrorCode.DEPLOYMENT_NOT_FOUND, f"no MCP deployment named '{name[:100]}'")
            return
        call.deployment = dep.name
        headers = _headers(scope)
        method: str = scope["method"]
        facts: dict[str, Any] = {"mcp": {"http": method}}
        if inb.purpose is not None:
            facts["purpose"] = inb.purpose[:200]
        call.facts = facts
        session: Session | None = None
        sids = headers.get("mcp-session-id", [])
        if len(sids) > 1:
            await self._rpc_refuse(
                send,
                call,
                400,
                wire.HEADER_MISMATCH,
                ErrorCode.HEADER_MISMATCH,
                "mcp-session-id header appears more than once",
                None,
            )
            return
        sid = sids[0] if sids else None
        if sid is not None:
            session = self.sessions.get(sid)
            if session is None or session.deployment != dep.name:
                await self._rpc_refuse(
                    send,
                    call,
                    404,
                    wire.INVALID_REQUEST,
                    ErrorCode.UNKNOWN_SESSION,
                    "no session with this id at this gateway: initialize again",
                    None,
                )
                return
            if session.caller != actor.ref:
                await self._rpc_refuse(
                    send,
                    call,
                    403,
                    wire.INVALID_REQUEST,
                    ErrorCode.SESSION_NOT_YOURS,
                    "this session belongs to another agent",
                    None,
                )
                return
        if method in _PASS_METHODS:
            await self._pass(scope, send, call, dep, actor, inb, session, sid)
            return
        if method != "POST":
            await self._rpc_refuse(
                send,
                call,
                405,
                wire.INVALID_REQUEST,
                ErrorCode.METHOD_NOT_ALLOWED,
                f"{method} is not an MCP Streamable HTTP method",
                None,
            )
            return
        body = await read_body(receive, self.max_body)
        if body is None:
            await self._rpc_refuse(
                send,
                call,
                413,
                wire.INVALID_REQUEST,
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"request body exceeds {self.max_body} bytes",
                None,
            )
            return
        try:
            msg = wire.parse(body)
            wire.check_headers(msg, headers)
        except wire.WireError as exc:
            await self._rpc_refuse(send, call, exc.status, exc.rpc_code, exc.reason, exc.message, exc.msg_id, body)
            return
        facts["mcp"] = {"http": method, "method": msg.method}
        call.asked = (dep, actor, inb.purpose, ())
        version = self.index.snapshot.version
        verdict = self._decide(dep, actor, inb.purpose, ())
        call.verdict = verdict
        call.fence = _fence(verdict, version)
        if not verdict.allowed:
            reason = str(verdict.reason)
            await self._rpc_refuse(
                send, call, _status_for(reason), wire.CHARTER_REFUSED, reason, verdict.detail, msg.id, body
            )
            return
        limited = self._rate_limited(call, dep, verdict)
        if limited is not None:
            await self._rpc_refuse(
                send, call, 429, wire.CHARTER_REFUSED, ErrorCode.RATE_LIMITED, limited[0], msg.id, body
            )
            return
        if msg.method in wire.NAME_PARAM and not await self._named(send, call, dep, actor, msg, body, facts):
            return
        await self._post(send, call, dep, inb, msg, body, session, sid)

    async def _named(
        self,
        send: Send,
        call: Call,
        dep: Deployment,
        actor: Actor,
        msg: wire.Message,
        body: bytes,
        facts: dict[str, Any],
    ) -> bool:
        """Check a tools/call, prompts/get or resources/read by name; False once it has been refused."""
        grant = call.verdict.grant if call.verdict is not None else None
        assert grant is not None
        info: dict[str, Any] = facts["mcp"]
        info["server"] = dep.name
        try:
            if msg.method == "resources/read":
                uri = msg.name
                if not isinstance(uri, str) or not uri or len(uri) > 2048 or not uri.isascii() or not uri.isprintable():
                    raise toolscope.BadCall(ErrorCode.INVALID_RESOURCE_URI, "the resource URI must be printable ASCII")
                target = uri
            else:
                target = toolscope.check_name(msg.name, "tool" if msg.method == "tools/call" else "prompt")
            info["tool" if msg.method == "tools/call" else "name"] = target
            raw = toolscope.canonical_args(msg.arguments) if msg.method == "tools/call" else None
        except toolscope.BadCall as exc:
            self._count(dep.name, str(msg.name)[:100], "refused")
            await self._rpc_refuse(send, call, 400, wire.INVALID_REQUEST, exc.code, str(exc), msg.id, body)
            return False
        if raw is None:
            if not toolscope.in_scope(grant, dep.name, target):
                self._count(dep.name, target, "refused")
                detail = f"{msg.method} of {dep.name}:{target} is not in license {grant.license_id}"
                await self._deny(send, call, Reason.TOOL_NOT_IN_SCOPE, detail, msg, body)
                return False
            return True
        args_sha = toolscope.digest(raw)
        info["args_sha256"] = args_sha
        args = msg.arguments if isinstance(msg.arguments, dict) else {}
        decision = toolscope.check(grant, dep.name, target, args)
        if decision.reason is Reason.APPROVAL_REQUIRED and decision.approver is not None:
            return await self._approval(
                send, call, dep, actor, msg, body, info, target, args, args_sha, decision.approver
            )
        if decision.reason is not None:
            self._count(dep.name, target, "refused")
            await self._deny(send, call, decision.reason, decision.detail, msg, body)
            return False
        return True

    async def _approval(
        self,
        send: Send,
        call: Call,
        dep: Deployment,
        actor: Actor,
        msg: wire.Message,
        body: bytes,
        info: dict[str, Any],
        tool: str,
        args: Any,
        args_sha: str,
        approver: str,
    ) -> bool:
        grant = call.verdict.grant if call.verdict is not None else None
        assert grant is not None
        if self.approvals is None:
            await self._deny(send, call, Reason.APPROVAL_REFUSED, "this gateway has no approval store", msg, body)
            return False
        given = msg.approval
        if given is not None:
            info["approval_id"] = given[:60]
            why = await self.approvals.use(
                given,
                license_id=grant.license_id,
                deployment=dep.name,
                tool=tool,
                args_sha256=args_sha,
                agent=actor.ref,
            )
            if why is None:
                self._count(dep.name, tool, "approved")
                return True
            self._count(dep.name, tool, "refused")
            await self._deny(send, call, Reason.APPROVAL_REFUSED, f"approval {given[:60]}: {why}", msg, body)
            return False
        approval_id = await self.approvals.ask(
            license_id=grant.license_id,
            deployment=dep.name,
            tool=tool,
            args=args,
            args_sha256=args_sha,
            agent=actor.ref,
            approver=approver,
        )
        info["approval_id"] = approval_id
        self._count(dep.name, tool, "approval_required")
        detail = (
            f"{dep.name}:{tool} needs approval by {approver} under license {grant.license_id}: approval {approval_id} "
            f"is waiting (charter approval approve {approval_id}); retry with _meta['{wire.APPROVAL_META}'] = "
            f"'{approval_id}' and the same arguments once it is approved"
        )
        await self._deny(
            send,
            call,
            Reason.APPROVAL_REQUIRED,
            detail,
            msg,
            body,
            approval_id=approval_id,
            rpc_code=wire.APPROVAL_REQUIRED,
        )
        return False

    def _count(self, server: str, tool: str, outcome: str) -> None:
        counter = getattr(self, "tool_counts", None)
        if counter is not None:
            counter(server, tool, outcome)

    async def _deny(
        self,
        send: Send,
        call: Call,
        reason: Reason,
        detail: str,
        msg: wire.Message,
        body: bytes,
        *,
        approval_id: str | None = None,
        rpc_code: int = wire.CHARTER_REFUSED,
    ) -> None:
        allowed = call.verdict
        call.verdict = Verdict(
            False,
            reason,
            grant=allowed.grant if allowed is not None else None,
            degraded=allowed.degraded if allowed is not None else False,
            detail=detail,
        )
        extra = {"approval_id": approval_id} if approval_id else None
        await self._rpc_refuse(send, call, 403, rpc_code, str(reason), detail, msg.id, body, extra)

    async def _rpc_refuse(
        self,
        send: Send,
        call: Call,
        status: int,
        rpc_code: int,
        reason: str,
        detail: str,
        msg_id: Any,
        request: bytes | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Refuse one message: its audit entry (durable first), then a JSON-RPC error the SDK surfaces as such."""
        self.metrics.denial(reason)
        try:
            await self._audit(call, status, reason, request, None)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        data: dict[str, Any] = {"reason": reason, "decision_id": call.decision_id, "license_id": _license(call)}
        if extra:
            data.update(extra)
        body = wire.error_body(msg_id, rpc_code, f"{reason}: {detail}", data)
        await respond(send, status, body, JSON, [(b"charter-decision-id", call.decision_id.encode())])

    def _upstream_headers(self, inb: Inbound, session: Session | None) -> list[tuple[str, str]]:
        out = [(k, v) for k, v in inb.forward if k != "mcp-session-id"]
        if session is not None:
            out.append(("mcp-session-id", session.upstream_id))
        return out

    async def _post(
        self,
        send: Send,
        call: Call,
        dep: Deployment,
        inb: Inbound,
        msg: wire.Message,
        body: bytes,
        session: Session | None,
        sid: str | None,
    ) -> None:
        refused = self.upstream.refusal(dep.upstream)
        if refused is not None:
            await self._rpc_refuse(
                send, call, 502, wire.CHARTER_REFUSED, ErrorCode.UPSTREAM_NOT_ALLOWED, refused, msg.id, body
            )
            return
        sent_at = time.perf_counter()
        try:
            async with self.upstream.session.request(
                "POST",
                URL(dep.upstream, encoded=True),
                data=body,
                headers=self._upstream_headers(inb, session),
                allow_redirects=False,
            ) as resp:
                status = resp.status
                headers = response_headers(resp, call.decision_id.encode())
                sse = resp.content_type == "text/event-stream"
                payload = await self.upstream.read(resp)
                new_sid = resp.headers.get("mcp-session-id")
        except AnswerTooLarge as exc:
            call.upstream_s = time.perf_counter() - sent_at
            detail = f"upstream of deployment '{dep.name}' {exc}; its answer is withheld"
            code = ErrorCode.UPSTREAM_ANSWER_TOO_LARGE
            await self._rpc_refuse(send, call, 502, wire.CHARTER_REFUSED, code, detail, msg.id, body)
            return
        except UPSTREAM_ERRORS as exc:
            call.upstream_s = time.perf_counter() - sent_at
            why = refused_by_resolver(exc)
            code = ErrorCode.UPSTREAM_NOT_ALLOWED if why else ErrorCode.UPSTREAM_UNAVAILABLE
            detail = why or f"upstream of deployment '{dep.name}' did not answer ({type(exc).__name__})"
            await self._rpc_refuse(send, call, 502, wire.CHARTER_REFUSED, code, detail, msg.id, body)
            return
        call.upstream_s = time.perf_counter() - sent_at
        if 300 <= status < 400:
            await self._rpc_refuse(
                send,
                call,
                502,
                wire.CHARTER_REFUSED,
                ErrorCode.UPSTREAM_REDIRECT,
                f"upstream answered {status} (a redirect, never followed)",
                msg.id,
                body,
            )
            return
        info: dict[str, Any] = (call.facts or {}).setdefault("mcp", {})
        grant = call.verdict.grant if call.verdict is not None else None
        if msg.method == "tools/list" and grant is not None:
            payload, removed = wire.filter_listing(
                payload, sse, msg.id, lambda t: toolscope.in_scope(grant, dep.name, t) and _plain(t)
            )
            info["tools_hidden"] = removed
        elif msg.method == "tools/call":
            answer = wire.response_to(payload, sse, msg.id)
            if answer is not None:
                part = answer.get("result", answer.get("error"))
                # sha256 of the result as JSON with sorted keys (RFC 8785 would cost 80 µs a call here).
                info["result_sha256"] = toolscope.digest(orjson.dumps(part, option=orjson.OPT_SORT_KEYS))
                if "error" in answer:
                    info["upstream_error"] = True
            self._count(dep.name, str(info.get("tool", "?")), "calls")
        headers = [(k, v) for k, v in headers if k != b"mcp-session-id"]
        if msg.method == "initialize" and new_sid is not None and 200 <= status < 300:
            sid = self.sessions.add(Session(new_sid, call.caller, dep.name))
        if sid is not None and (new_sid is not None or session is not None):
            headers.append((b"mcp-session-id", sid.encode()))
        try:
            changed = await self._audit_allowed(call, status, None, body, payload)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        if changed is not None:
            reason = str(changed.reason)
            await self._rpc_refuse(
                send,
                call,
                _status_for(reason),
                wire.CHARTER_REFUSED,
                reason,
                changed.detail + "; it changed while the call was in flight",
                msg.id,
                body,
            )
            return
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _pass(
        self,
        scope: Scope,
        send: Send,
        call: Call,
        dep: Deployment,
        actor: Actor,
        inb: Inbound,
        session: Session | None,
        sid: str | None,
    ) -> None:
        """GET (the server's event stream) and DELETE (end the session): license checked, audited, passed through."""
        method: str = scope["method"]
        if session is None or sid is None:
            await self._rpc_refuse(
                send,
                call,
                400,
                wire.INVALID_REQUEST,
                ErrorCode.SESSION_REQUIRED,
                f"{method} needs the Mcp-Session-Id this gateway issued",
                None,
            )
            return
        call.asked = (dep, actor, inb.purpose, ())
        version = self.index.snapshot.version
        verdict = self._decide(dep, actor, inb.purpose, ())
        call.verdict = verdict
        call.fence = _fence(verdict, version)
        if not verdict.allowed:
            reason = str(verdict.reason)
            await self._rpc_refuse(send, call, _status_for(reason), wire.CHARTER_REFUSED, reason, verdict.detail, None)
            return
        try:
            changed = await self._audit_allowed(call, 200, None, None, None)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        if changed is not None:
            reason = str(changed.reason)
            await self._rpc_refuse(send, call, _status_for(reason), wire.CHARTER_REFUSED, reason, changed.detail, None)
            return
        if method == "DELETE":
            self.sessions.drop(sid)
        try:
            async with self.upstream.session.request(
                method,
                URL(dep.upstream, encoded=True),
                headers=self._upstream_headers(inb, session),
                allow_redirects=False,
            ) as resp:
                headers = [
                    (k, v) for k, v in response_headers(resp, call.decision_id.encode()) if k != b"mcp-session-id"
                ]
                headers.append((b"mcp-session-id", sid.encode()))
                await send({"type": "http.response.start", "status": resp.status, "headers": headers})
                async for chunk in resp.content.iter_any():
                    if self.index.snapshot.version != version and not self._decide(dep, actor, inb.purpose, ()).allowed:
                        break  # the license changed: the server's stream to this agent ends
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UPSTREAM_ERRORS:
            pass
        except OSError:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _plain(name: str) -> bool:
    try:
        toolscope.check_name(name)
    except toolscope.BadCall:
        return False
    return True
