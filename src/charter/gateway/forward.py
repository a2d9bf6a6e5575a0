"""Forwarding an allowed call: egress rules, no redirects, the answer's tool calls checked (JSON or SSE), the audit
entry durable before the answer (or its end) is released, and the capture hook after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.types import Scope, Send
from yarl import URL

from charter.core import tracing
from charter.core.errors import ErrorCode
from charter.deployments import toolscope
from charter.deployments.model import Deployment, DeploymentKind, Grant, Reason, Verdict
from charter.deployments.toolscope import RuledCall
from charter.gateway.auditing import Auditing, AuditUnavailable, Call, _license, _status_for
from charter.gateway.inbound import Inbound
from charter.gateway.toolcheck import EventStream, Refusal, check_payload, ruled_calls
from charter.gateway.upstream import (
    UPSTREAM_ERRORS,
    AnswerTooLarge,
    Upstream,
    is_stream,
    pass_events,
    pass_stream,
    refused_by_resolver,
    response_headers,
)

log = logging.getLogger("charter.gateway")

Capture = Callable[[Deployment, Any, Any], Awaitable[None] | None]


class Approvals(Protocol):
    """The approval store as the gateway uses it (`deployments.approvals`, run off the event loop)."""

    async def ask(
        self, *, license_id: str, deployment: str, tool: str, args: Any, args_sha256: str, agent: str, approver: str
    ) -> str: ...

    async def use(
        self, approval_id: str, *, license_id: str, deployment: str, tool: str, args_sha256: str, agent: str
    ) -> str | None: ...


class Forwarding(Auditing):
    """The forwarding half of the gateway."""

    upstream: Upstream
    capture: Capture | None
    approvals: Approvals | None
    _tasks: set[asyncio.Task[Any]]

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
            await self._refuse(send, call, 502, ErrorCode.UPSTREAM_NOT_ALLOWED, detail, request=body)
            return
        checked = dep.kind is DeploymentKind.OPENAI  # answers are read for tool calls
        if tracing.tracer() is None:
            await self._send_upstream(scope, send, call, dep, url, inb.forward, body, doc, checked)
            return
        with tracing.client_span("upstream", {"charter.deployment": dep.name, "http.request.method": scope["method"]}):
            headers = [(k, v) for k, v in inb.forward if k.lower() not in ("traceparent", "tracestate")]
            headers.append(("traceparent", tracing.traceparent() or ""))
            await self._send_upstream(scope, send, call, dep, url, headers, body, doc, checked)

    async def _send_upstream(
        self,
        scope: Scope,
        send: Send,
        call: Call,
        dep: Deployment,
        url: str,
        forward: list[tuple[str, str]],
        body: bytes,
        doc: dict[str, Any] | None,
        checked: bool,
    ) -> None:
        sent_at = time.perf_counter()
        problem: tuple[str, str] | None = None
        try:
            async with self.upstream.session.request(
                scope["method"], URL(url, encoded=True), data=body or None, headers=forward, allow_redirects=False
            ) as resp:
                status = resp.status
                encoding = resp.headers.get("content-encoding", "identity").lower()
                if 300 <= status < 400 and status != 304:
                    problem = (
                        ErrorCode.UPSTREAM_REDIRECT,
                        f"answered {status} (a redirect, which the gateway never follows)",
                    )
                elif checked and encoding != "identity":
                    problem = (ErrorCode.UPSTREAM_RESPONSE_UNREADABLE, f"answered in {encoding[:40]} encoding")
                elif is_stream(resp):
                    headers = response_headers(resp, call.decision_id.encode())
                    await self._stream(send, call, dep, resp, headers, body, sent_at, checked)
                    return
                else:
                    headers = response_headers(resp, call.decision_id.encode())
                    payload = await self.upstream.read(resp)
        except AnswerTooLarge as exc:
            problem = (ErrorCode.UPSTREAM_ANSWER_TOO_LARGE, str(exc))
        except UPSTREAM_ERRORS as exc:
            call.upstream_s = time.perf_counter() - sent_at
            why = refused_by_resolver(exc)
            if why is not None:
                detail = f"upstream of deployment '{dep.name}' is not allowed: {why}"
                await self._refuse(send, call, 502, ErrorCode.UPSTREAM_NOT_ALLOWED, detail, request=body)
                return
            detail = f"upstream of deployment '{dep.name}' did not answer ({type(exc).__name__})"
            await self._refuse(send, call, 502, ErrorCode.UPSTREAM_UNAVAILABLE, detail, request=body)
            return
        call.upstream_s = time.perf_counter() - sent_at
        if problem is not None:
            detail = f"upstream of deployment '{dep.name}' {problem[1]}; its answer is withheld"
            await self._refuse(send, call, 502, problem[0], detail, request=body)
            return
        if checked and call.verdict is not None and call.verdict.grant is not None:
            refusal = check_payload(payload, call.verdict.grant.tools)
            if refusal is None and call.verdict.grant.tool_rules:
                refusal = await self._tool_rules(call, dep, call.verdict.grant, payload)
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

    async def _tool_rules(self, call: Call, dep: Deployment, grant: Grant, payload: bytes) -> Refusal | None:
        """An answer's calls of tools with conditions or approvals in the license (OpenAI tools, like MCP's
        `tools/call`): every condition is checked first; then a call needing approval is held with a pending approval
        unless the caller's `Charter-Approval` names one granted for exactly this call (spent once). An approval passes
        one call, so an answer with two calls needing approval is refused without spending any."""
        found = ruled_calls(payload, frozenset(toolscope.ruled(grant, grant.tools)))
        if isinstance(found, Refusal):
            return found
        return await self._check_calls(call, dep, grant, found)

    async def _check_calls(self, call: Call, dep: Deployment, grant: Grant, found: list[RuledCall]) -> Refusal | None:
        """`_tool_rules` on calls already assembled (a whole answer's, or a held stream's)."""
        entries = [{"tool": rc.tool[:100], "args_sha256": rc.args_sha256} for rc in found]
        call.facts = {**(call.facts or {}), "tool_calls": entries}
        checked = toolscope.check_answer(grant, dep.name, found)
        if checked.refusal is not None:
            tools = (checked.refused_tool,) if checked.refused_tool else tuple(rc.tool for rc in found)
            if checked.refused_tool:
                self._tool_count(dep.name, checked.refused_tool, "refused")
            return Refusal(str(checked.refusal.reason), checked.refusal.detail, tools)
        held = checked.held
        if held is not None and checked.approver is not None:
            entry = entries[found.index(held)]
            refusal = await self._answer_approval(call, dep, grant, held, entry, checked.approver)
            if refusal is not None:
                return refusal
        for rc in found:
            self._tool_count(dep.name, rc.tool, "approved" if rc is held else "called")
        return None

    async def _answer_approval(
        self, call: Call, dep: Deployment, grant: Grant, rc: RuledCall, entry: dict[str, Any], approver: str
    ) -> Refusal | None:
        """Spend the caller's approval on this call, or ask for one: None when the call may pass."""
        bound = {"license_id": grant.license_id, "deployment": dep.name, "tool": rc.tool}
        if self.approvals is None:
            return Refusal("approval_refused", "this gateway has no approval store", (rc.tool,))
        if call.approval is not None:
            entry["approval_id"] = call.approval
            why = await self.approvals.use(call.approval, args_sha256=rc.args_sha256, agent=call.caller, **bound)
            if why is None:
                return None
            self._tool_count(dep.name, rc.tool, "refused")
            return Refusal("approval_refused", f"approval {call.approval}: {why}", (rc.tool,))
        approval_id = await self.approvals.ask(
            args=rc.args, args_sha256=rc.args_sha256, agent=call.caller, approver=approver, **bound
        )
        entry["approval_id"] = approval_id
        self._tool_count(dep.name, rc.tool, "approval_required")
        retry = f"send the same request again with the header 'Charter-Approval: {approval_id}'"
        detail = toolscope.waiting_detail(grant, rc.tool, approver, approval_id, retry)
        return Refusal("approval_required", detail, (rc.tool,), approval_id)

    def _tool_count(self, server: str, tool: str, outcome: str) -> None:
        counter = getattr(self, "tool_counts", None)
        if counter is not None:
            counter(server, tool, outcome)

    def _out_of_scope(self, call: Call, refusal: Refusal, answer: str) -> None:
        """The call's verdict becomes the answer's refusal (its audit entry says which tools the model called)."""
        allowed_verdict = call.verdict
        try:
            reason = Reason(refusal.code)
        except ValueError:
            reason = Reason.TOOL_NOT_IN_SCOPE
        call.verdict = Verdict(
            False,
            reason,
            grant=allowed_verdict.grant if allowed_verdict is not None else None,
            degraded=allowed_verdict.degraded if allowed_verdict is not None else False,
        )
        call.facts = {**(call.facts or {}), "tools_called": [t[:100] for t in refusal.tools[:50]], "answer": answer}

    async def _refuse_answer(self, send: Send, call: Call, refusal: Refusal, body: bytes, payload: bytes) -> None:
        self._out_of_scope(call, refusal, "withheld")
        detail = refusal.detail + "; the upstream's answer is withheld"
        extra = {"approval_id": refusal.approval_id} if refusal.approval_id else None
        if refusal.approval_id:
            call.facts = {**(call.facts or {}), "approval_id": refusal.approval_id}
        await self._refuse(send, call, 403, refusal.code, detail, request=body, response=payload, problem=extra)

    async def _stream(
        self,
        send: Send,
        call: Call,
        dep: Deployment,
        resp: Any,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        sent_at: float,
        checked: bool,
    ) -> None:
        events = None
        grant = call.verdict.grant if call.verdict is not None else None
        if checked and grant is not None:
            events = EventStream(grant.tools, frozenset(toolscope.ruled(grant, grant.tools)))
            result = await pass_events(resp, send, headers, events, self.upstream.max_answer)
        else:
            result = await pass_stream(resp, send, headers, self.upstream.max_answer)
        call.upstream_s = time.perf_counter() - sent_at
        extra: dict[str, Any] = {"stream": True}
        if result.client_gone:
            extra["client_gone"] = True
        refusal = events.refusal if events is not None else None
        if events is not None and grant is not None and refusal is None and events.holding:
            # a call of a tool with conditions or an approval: its events are held until it is judged whole
            extra["held"] = True
            if result.upstream_error is None and not result.client_gone:
                refusal = await self._check_calls(call, dep, grant, events.ruled_calls())
        if refusal is not None:
            await self._cut_stream(send, call, refusal, body, b"".join(result.body), extra, result.client_gone)
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
        self._out_of_scope(call, refusal, "cut")  # the events before the refused (or held) one were sent
        if refusal.approval_id:
            call.facts = {**(call.facts or {}), "approval_id": refusal.approval_id}
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
                **({"approval_id": refusal.approval_id} if refusal.approval_id else {}),
            }
        }
        await send(
            {"type": "http.response.body", "body": b"data: " + orjson.dumps(error) + b"\n\n", "more_body": False}
        )

    # --- refusals and audit ------------------------------------------------------------------------------------

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
