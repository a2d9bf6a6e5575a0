"""External authorization: the user's own proxy asks Charter, Charter decides and records, the proxy forwards.

    GET|POST /authz/nginx[/...]     nginx `auth_request`: 2xx allows; 401 (no or bad key) and 403 deny. Anything
                                    else would be a 500 in nginx (fail closed), so every other refusal is a 403.
    ANY      /authz/envoy/{path}    Envoy / Istio HTTP ext_authz (`path_prefix: /authz/envoy`): only 200 allows; the
                                    refusal's own status (401, 403, 429, 503) and problem body go back to the client.

What is asked, from the request headers (the proxy passes the client's through):
- the caller: `Authorization: Bearer <Charter key>`;
- the deployment: `Charter-Deployment`, else the original path (`X-Original-URI` from nginx, the path after the
  prefix from Envoy) when it has the shape of Charter's own routes, `/gw/{deployment}/...` or `/mcp/{deployment}`;
- the purpose: `Charter-Purpose`;
- tools: MCP's `Mcp-Method: tools/call` with `Mcp-Name: TOOL` (revision 2026-07-28 mirrors them into headers), and,
  for an OpenAI-compatible deployment, the body's `tools` / `functions`: such a deployment is decided only with
  the body (Envoy's `with_request_body`); without it its tool scope could not be checked, so it is refused.

Allowed: 200 with `Charter-Decision-Id` / `Charter-License-Id` (nginx, for `auth_request_set`) or
`x-charter-decision-id` / `x-charter-license-id` (Envoy, for `allowed_upstream_headers`). Every decision on a known
deployment with a valid key is one durable audit entry, as at Charter's own gateway, with the same denial reasons,
degraded-mode rules, fence and rate limits; keyless and unknown-deployment calls are counted into the summary.
Allows are cached per (caller, deployment, purpose, tools) for one license state version (`decision_cache.py`).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from charter.auth.model import Actor
from charter.core.errors import CharterError, ErrorCode, Unauthenticated
from charter.deployments.model import Deployment, DeploymentKind
from charter.gateway.asgi import read_body, respond
from charter.gateway.auditing import Auditing, AuditUnavailable, Call, _fence, _status_for
from charter.gateway.decision_cache import DecisionCache
from charter.gateway.ids import decision_id
from charter.gateway.inbound import Inbound, call_tools, inbound, openai_call
from charter.gateway.problems import PROBLEM, problem_body

CONTRACTS = ("nginx", "envoy")
_MAX_NAME = 200


class Contract:
    """How one proxy reads an answer: header names, and which statuses it can pass on."""

    def __init__(
        self, name: str, decision_header: bytes, license_header: bytes, *, deny_statuses: set[int] | None
    ) -> None:
        self.name = name
        self.decision_header = decision_header
        self.license_header = license_header
        self.deny_statuses = deny_statuses

    def status(self, status: int) -> int:
        return status if self.deny_statuses is None or status in self.deny_statuses else 403


NGINX = Contract("nginx", b"charter-decision-id", b"charter-license-id", deny_statuses={401, 403})
ENVOY = Contract(
    "envoy",
    b"x-charter-decision-id",
    b"x-charter-license-id",
    deny_statuses=None,  # Envoy passes any status on
)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header this module reads (the rest go through `inbound`)."""
    wanted = {b"charter-deployment", b"x-original-uri", b"mcp-method", b"mcp-name"}
    out: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in wanted and name not in out:
            out[name] = value
    return out


def deployment_from_path(path: str) -> str | None:
    """`/gw/{name}/...` or `/mcp/{name}[/...]` (Charter's own route shapes) → name; anything else → None."""
    parts = unquote(path.partition("?")[0]).split("/")
    if len(parts) >= 3 and parts[0] == "" and parts[1] in ("gw", "mcp") and parts[2]:
        return parts[2]
    return None


def mcp_tools(headers: dict[bytes, bytes]) -> tuple[str, ...]:
    """The tool an MCP call names in its headers (`Mcp-Method: tools/call`, `Mcp-Name: TOOL`)."""
    method = headers.get(b"mcp-method", b"").decode("latin-1").strip()
    if method != "tools/call":
        return ()
    name = headers.get(b"mcp-name", b"").decode("latin-1").strip()
    if not name:
        raise _Refusal(400, ErrorCode.INVALID_REQUEST, "Mcp-Method is tools/call but no Mcp-Name header names the tool")
    return (name[:_MAX_NAME],)


class _Refusal(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class ExternalDecisions(Auditing):
    """The `/authz/*` half of the gateway: decide and audit, never forward."""

    max_body: int
    decisions: DecisionCache

    async def authenticate(self, inb: Inbound) -> Actor:
        raise NotImplementedError

    async def authz(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        name, _, rest = path[len("/authz/") :].partition("/")
        contract = NGINX if name == "nginx" else ENVOY if name == "envoy" else None
        if contract is None:
            body = problem_body(
                404, ErrorCode.NOT_FOUND, f"no decision contract '{name[:40]}' (use /authz/nginx or /authz/envoy)"
            )
            await respond(send, 404, body, PROBLEM)
            return
        call = Call(started=time.perf_counter(), decision_id=decision_id())
        inb = inbound(scope["headers"])
        extra = _headers(scope)
        try:
            actor = await self.authenticate(inb)
        except Unauthenticated as exc:
            await self._summarised(send, contract, 401, exc.code, exc.message)
            return
        call.caller = actor.ref
        original = "/" + rest if contract is ENVOY else extra.get(b"x-original-uri", b"").decode("latin-1")
        named = extra.get(b"charter-deployment", b"").decode("latin-1").strip() or deployment_from_path(original)
        if not named:
            detail = "no deployment: send a Charter-Deployment header, or an original path /gw/{deployment}/..."
            await self._summarised(send, contract, 400, ErrorCode.DEPLOYMENT_NOT_NAMED, detail)
            return
        call.deployment = named[:_MAX_NAME]
        dep = self.index.snapshot.deployments.get(named)
        if dep is None:
            detail = f"no deployment named '{named[:100]}' (see: charter deployment list)"
            await self._summarised(send, contract, 404, ErrorCode.DEPLOYMENT_NOT_FOUND, detail)
            return
        facts: dict[str, Any] = {"via": f"authz:{contract.name}"}
        if inb.purpose is not None:
            facts["purpose"] = inb.purpose[:200]
        if original:
            facts["path"] = original[:300]
        call.facts = facts
        try:
            tools = mcp_tools(extra) + await self._body_tools(dep, inb, receive)
        except _Refusal as exc:
            await self._denied(send, contract, call, exc.status, exc.code, exc.detail)
            return
        if tools:
            facts["tools"] = [t[:100] for t in tools[:50]]
        await self._authz_decided(send, contract, call, dep, actor, inb.purpose, tools)

    async def _body_tools(self, dep: Deployment, inb: Inbound, receive: Receive) -> tuple[str, ...]:
        """An OpenAI-compatible deployment's tools, from the body the proxy sent; none for other kinds."""
        if dep.kind is not DeploymentKind.OPENAI:
            return ()
        declared = inb.content_length
        if declared is not None and (declared < 0 or declared > self.max_body):
            raise _Refusal(413, ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds {self.max_body} bytes")
        body = await read_body(receive, self.max_body)
        if body is None:
            raise _Refusal(413, ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds {self.max_body} bytes")
        if not body:
            raise _Refusal(
                400,
                ErrorCode.BODY_REQUIRED,
                f"deployment '{dep.name}' is OpenAI-compatible: its tool scope is in the body, so the proxy must "
                "send it (Envoy: with_request_body), or call it through Charter's gateway",
            )
        try:
            return call_tools(body, openai_call(body).doc)
        except CharterError as exc:
            raise _Refusal(400, exc.code, exc.message) from None

    async def _authz_decided(
        self,
        send: Send,
        contract: Contract,
        call: Call,
        dep: Deployment,
        actor: Actor,
        purpose: str | None,
        tools: tuple[str, ...],
    ) -> None:
        version = self.index.snapshot.version
        key = (actor.ref, dep.name, purpose, tools)
        now = time.time()
        verdict = self.decisions.get(key, version, now)
        if verdict is None:
            verdict = self._decide(dep, actor, purpose, tools)
            self.decisions.put(key, version, verdict)
        call.asked = (dep, actor, purpose, tools)
        call.verdict = verdict
        call.fence = _fence(verdict, version)
        if not verdict.allowed:
            reason = str(verdict.reason)
            await self._denied(send, contract, call, _status_for(reason), reason, verdict.detail)
            return
        limited = self._rate_limited(call, dep, verdict)
        if limited is not None:
            await self._denied(send, contract, call, 429, ErrorCode.RATE_LIMITED, limited[0])
            return
        try:
            redecided = await self._audit_allowed(call, 200, None, None, None)
        except AuditUnavailable:
            await self._denied_unaudited(send, contract, call)
            return
        if redecided is not None:  # a license change committed first: decided again, now refused
            reason = str(redecided.reason)
            await self._denied(send, contract, call, _status_for(reason), reason, redecided.detail)
            return
        allowed = call.verdict
        headers = [(contract.decision_header, call.decision_id.encode())]
        if allowed is not None and allowed.license_id is not None:
            headers.append((contract.license_header, allowed.license_id.encode()))
        await respond(send, 200, b"", b"text/plain", headers)

    async def _denied(
        self,
        send: Send,
        contract: Contract,
        call: Call,
        status: int,
        code: str,
        detail: str,
    ) -> None:
        """A refusal on a known deployment: its own durable entry, then the contract's status and the problem."""
        self.metrics.denial(code)
        try:
            await self._audit(call, status, code, None, None)
        except AuditUnavailable:
            await self._denied_unaudited(send, contract, call)
            return
        lic = call.verdict.license_id if call.verdict is not None else None
        body = problem_body(status, code, detail, decision_id=call.decision_id, license_id=lic)
        headers = [(contract.decision_header, call.decision_id.encode())]
        await respond(send, contract.status(status), body, PROBLEM, headers)

    async def _denied_unaudited(self, send: Send, contract: Contract, call: Call) -> None:
        self.metrics.denial(ErrorCode.AUDIT_UNAVAILABLE)
        detail = "the audit log cannot be written, so no call is allowed; retry shortly"
        body = problem_body(503, ErrorCode.AUDIT_UNAVAILABLE, detail, decision_id=call.decision_id)
        await respond(send, contract.status(503), body, PROBLEM, [(b"retry-after", b"1")])

    async def _summarised(self, send: Send, contract: Contract, status: int, code: str, detail: str) -> None:
        """No valid key or no known deployment: counted for the periodic summary, not audited one by one."""
        self.metrics.denial(code)
        self.refusals.count(code)
        headers: list[tuple[bytes, bytes]] = []
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="charter"'))
        await respond(send, contract.status(status), problem_body(status, code, detail), PROBLEM, headers)
