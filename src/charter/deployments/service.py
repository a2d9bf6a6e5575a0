"""Deployment use cases: add, list, show, remove; the index snapshot gateways load; SDK decisions.

Every state-changing function takes `uow` and `actor` first, authorizes first, records its audit event in the
same transaction and commits once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select

from charter.audit.tables import AuditEntryRow
from charter.auth.authorize import allowed, authorize, only_as_caller
from charter.auth.model import Actor, Permission, Resource
from charter.catalog import service as catalog
from charter.core import egress
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, Forbidden, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.deployments import approvals, toolscope
from charter.deployments.decisions import inference_event
from charter.deployments.index import Snapshot, build_grants, with_tombstones
from charter.deployments.model import Deployment, DeploymentKind, Grant, Reason, Request, Verdict
from charter.deployments.schemas import DecisionCreate, DecisionRead, DeploymentCreate, DeploymentRead, ToolCall
from charter.deployments.scope import decide
from charter.deployments.tables import DeploymentRow
from charter.licenses import notify
from charter.licenses import service as licenses
from charter.storage.uow import UnitOfWork


def _read(row: DeploymentRow) -> DeploymentRead:
    return DeploymentRead.model_validate(row)


def to_model(row: DeploymentRow | DeploymentRead) -> Deployment:
    """The pure deployment the gateway keeps in memory."""
    return Deployment(
        id=row.id,
        name=row.name,
        model=row.model,
        system=row.system,
        digest=row.digest,
        env=row.env,
        upstream=row.upstream.rstrip("/"),
        kind=DeploymentKind(row.kind),
        upstream_model=row.upstream_model,
        rate_limit_rps=row.rate_limit_rps,
        rate_burst=row.rate_burst,
    )


def _row(uow: UnitOfWork, name: str) -> DeploymentRow:
    row = uow.session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
    if row is None:
        raise _not_found(name)
    return row


def _not_found(name: str) -> NotFound:
    return NotFound(
        f"no deployment named '{name}' (see: charter deployment list)",
        code=ErrorCode.DEPLOYMENT_NOT_FOUND,
        field="name",
    )


class _Readable:
    """Which deployments `actor` may read: DEPLOYMENT_READ on the system, and for an app (whose read comes from the
    app role alone) only those of a model digest and environment that a license naming it covers."""

    def __init__(self, uow: UnitOfWork, actor: Actor) -> None:
        self.uow, self.actor = uow, actor
        self._scope: frozenset[tuple[str, str]] | None = None

    def __call__(self, row: DeploymentRow) -> bool:
        res = Resource(kind="deployment", name=row.name, system=row.system)
        if not allowed(self.actor, Permission.DEPLOYMENT_READ, res):
            return False
        if not only_as_caller(self.actor, Permission.DEPLOYMENT_READ, res):
            return True
        if self._scope is None:
            self._scope = licenses.caller_scope(self.uow, self.actor.ref)
        return (row.digest, row.env) in self._scope


def _resource(uow: UnitOfWork, system: str) -> Resource:
    res = catalog.system_resource(uow, system)
    return Resource(kind="deployment", name=res.name, team=res.team, system=res.system, production=res.production)


def check_upstream(url: str, allow: egress.Allow) -> None:
    """Refuse an upstream URL Charter must not call (userinfo, link-local/metadata, outside CHARTER_UPSTREAM_ALLOW)."""
    why = egress.check_resolved(url, allow) if allow.enabled else egress.url_refusal(url, allow)
    if why is not None:
        raise InvalidInput(f"upstream not allowed: {why}", code=ErrorCode.UPSTREAM_NOT_ALLOWED, field="upstream")


def add(uow: UnitOfWork, actor: Actor, data: DeploymentCreate, *, allow: egress.Allow) -> DeploymentRead:
    """Register a deployment of SYSTEM@VERSION in an environment behind an upstream model server.

    `allow` is CHARTER_UPSTREAM_ALLOW (`Settings.upstream_allowlist`): the upstream must satisfy it."""
    version = catalog.get_model_version(uow, data.model)
    authorize(actor, Permission.DEPLOYMENT_WRITE, _resource(uow, version.system))
    check_upstream(data.upstream, allow)
    if version.retired_at is not None:
        raise catalog.retired_error(version.ref, version.retired_at)
    if uow.session.scalar(select(DeploymentRow.id).where(DeploymentRow.name == data.name)) is not None:
        raise Conflict(f"deployment '{data.name}' already exists", code=ErrorCode.DEPLOYMENT_EXISTS, field="name")
    now = utcnow()
    row = DeploymentRow(
        id=new_id("dep"),
        name=data.name,
        model=f"{version.system}@{version.version}",
        system=version.system,
        digest=version.digest,
        env=data.env,
        upstream=data.upstream.rstrip("/"),
        kind=data.kind,
        upstream_model=data.upstream_model,
        rate_limit_rps=data.rate_limit_rps,
        rate_burst=data.rate_burst,
        created_by=actor.ref,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.after_commit(notify.changed)  # this process's gateway routes it at once; others at their next poll
    uow.record(
        AuditEvent(
            actor.ref,
            "deployment.create",
            f"deployment:{data.name}",
            details={
                "model": row.model,
                "digest": row.digest,
                "env": row.env,
                "upstream": row.upstream,
                "kind": row.kind,
                "rate_limit_rps": row.rate_limit_rps,
            },
        )
    )
    out = _read(row)
    uow.commit()
    return out


def get(uow: UnitOfWork, actor: Actor, name: str) -> DeploymentRead:
    """One deployment by name (an app: one it is a caller of; any other is 404, as one that does not exist)."""
    row = _row(uow, name)
    authorize(actor, Permission.DEPLOYMENT_READ, Resource(kind="deployment", name=name, system=row.system))
    if not _Readable(uow, actor)(row):
        raise _not_found(name)
    return _read(row)


def list_all(uow: UnitOfWork, actor: Actor) -> list[DeploymentRead]:
    """Every deployment the actor may read (an app: those it is a caller of)."""
    rows = uow.session.scalars(select(DeploymentRow).order_by(DeploymentRow.name))
    readable = _Readable(uow, actor)
    return [_read(r) for r in rows if readable(r)]


def remove(uow: UnitOfWork, actor: Actor, name: str) -> DeploymentRead:
    """Delete a deployment; gateways stop routing to it within a second."""
    row = _row(uow, name)
    authorize(actor, Permission.DEPLOYMENT_WRITE, _resource(uow, row.system))
    out = _read(row)
    uow.session.delete(row)
    uow.after_commit(notify.changed)
    uow.record(AuditEvent(actor.ref, "deployment.delete", f"deployment:{name}", details={"model": row.model}))
    uow.commit()
    return out


def probe(uow: UnitOfWork) -> tuple[int, int, str]:
    """Cheap change detector for gateways: license state version, deployment count and newest update."""
    count, newest = uow.session.execute(select(func.count(DeploymentRow.id), func.max(DeploymentRow.updated_at))).one()
    return licenses.state_version(uow), int(count or 0), str(newest)


def snapshot(uow: UnitOfWork, previous: Snapshot | None = None) -> Snapshot:
    """Everything a gateway needs in memory: license state version, grants, deployments.

    Licenses that were in `previous` but left the index are kept as revoked/expired tombstones.
    """
    version = licenses.state_version(uow)
    grants = build_grants(licenses.active_index(uow))
    if previous is not None:
        grants = with_tombstones(grants, previous.grants, time.time())
    rows = uow.session.scalars(select(DeploymentRow))
    return Snapshot(version=version, grants=grants, deployments={r.name: to_model(r) for r in rows})


def _callable(uow: UnitOfWork, actor: Actor, name: str) -> DeploymentRow:
    row = _row(uow, name)
    authorize(actor, Permission.INFERENCE_CALL, Resource(kind="deployment", name=name, system=row.system))
    return row


def _grants(uow: UnitOfWork, dep: Deployment) -> tuple[Grant, ...]:
    """The licenses of the deployment's model digest in its environment, as the gateway's index holds them."""
    return build_grants(licenses.active_index(uow)).get((dep.digest, dep.env), ())


def for_capture(uow: UnitOfWork, actor: Actor, name: str) -> DeploymentRead:
    """The deployment whose monitoring windows `actor` may add its calls to (the SDK's capture): it may call it, and
    a live license of the deployment (active, or suspended: calls run on in warn and shadow modes) names it as a
    caller. Anyone else's counts could dilute a drift or fake one, so they are refused."""
    row = _callable(uow, actor, name)
    grants = _grants(uow, to_model(row))
    if not any(actor.ref in g.callers for g in grants if g.state in ("active", "suspended")):
        raise Forbidden(
            f"{actor.ref} is not a caller of a live license of deployment '{name}': only licensed callers' calls "
            "are monitored",
            code=ErrorCode.CALLER_NOT_IN_SCOPE,
        )
    return _read(row)


def record_decision(uow: UnitOfWork, actor: Actor, name: str, data: DecisionCreate) -> DecisionRead:
    """Check an in-process model call (SDK) against the deployment's licenses and audit the decision."""
    started = time.perf_counter()
    row = _callable(uow, actor, name)
    dep = to_model(row)
    grants = _grants(uow, dep)
    verdict = decide(grants, Request(actor.ref, data.purpose, tuple(data.tools)), time.time())
    decision_id = new_id("dec")
    approval_id: str | None = None
    tool_facts: dict[str, object] | None = None
    if data.tool_call is not None:
        verdict, tool_facts, approval_id = _tool_call(uow, actor, name, verdict, data.tool_call)
    answer_facts: list[dict[str, object]] | None = None
    if data.answer_calls and verdict.allowed and verdict.grant is not None:
        verdict, answer_facts, approval_id = _answer_calls(uow, actor, name, verdict.grant, verdict, data)
    status = 200 if verdict.allowed else 403
    extra: dict[str, object] = {"mode": data.mode, "via": "sdk", "purpose": data.purpose}
    if data.tools:  # as the gateway records them: what was asked, bounded
        extra["tools"] = [t[:100] for t in data.tools[:50]]
    if data.latency_ms is not None:
        extra["call_latency_ms"] = data.latency_ms
    if tool_facts is not None:
        extra["mcp"] = tool_facts
    if answer_facts:
        extra["tool_calls"] = answer_facts  # as the gateway records an OpenAI answer's ruled calls
    seq = uow.record(
        inference_event(
            decision_id=decision_id,
            caller=actor.ref,
            deployment=name,
            verdict=verdict,
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000,
            # The SDK sends sha256 digests of its payloads; they are keyed (HMAC) like gateway bodies.
            request=data.request_digest.encode() if data.request_digest else None,
            response=data.response_digest.encode() if data.response_digest else None,
            extra=extra,
        )
    )
    uow.commit()
    return DecisionRead(
        decision_id=decision_id,
        allowed=verdict.allowed,
        reason=str(verdict.reason) if verdict.reason else None,
        detail=verdict.detail,
        license_id=verdict.license_id,
        deployment=name,
        degraded=verdict.degraded,
        audit_seq=seq,
        approval_id=approval_id,
        ruled_tools=sorted({r.tool for r in verdict.grant.tool_rules}) if verdict.grant is not None else [],
    )


def _answer_calls(
    uow: UnitOfWork, actor: Actor, name: str, grant: Grant, verdict: Verdict, data: DecisionCreate
) -> tuple[Verdict, list[dict[str, object]], str | None]:
    """An answer's calls of tools with rules in the license, as the gateway checks them (`toolscope.check_answer`);
    the one call needing approval spends `data.approval_id`, or asks for an approval."""
    found = toolscope.ruled_calls_of(grant, [(c.tool, c.arguments) for c in data.answer_calls])
    entries: list[dict[str, object]] = [{"tool": rc.tool[:100], "args_sha256": rc.args_sha256} for rc in found]
    checked = toolscope.check_answer(grant, name, found)
    if checked.refusal is not None:
        reason = checked.refusal.reason
        return Verdict(False, reason, grant=grant, detail=checked.refusal.detail), entries, None
    rc, approver = checked.held, checked.approver
    if rc is None or approver is None or rc.args is None:
        return verdict, entries, None
    held = _Held(name, rc.tool, rc.args, rc.args_sha256, approver, "call again under guard.approved('{}')")
    verdict, approval_id = _spend_or_ask(uow, actor, grant, verdict, held, data.approval_id, entries[found.index(rc)])
    return verdict, entries, approval_id


@dataclass(frozen=True, slots=True)
class _Held:
    """A call waiting for a human's approval: what the approval is bound to, and who may give it."""

    deployment: str
    tool: str
    args: Mapping[str, Any]
    args_sha256: str
    approver: str
    retry: str  # how the caller sends the call again with the approval, e.g. "call again under guard.approved('{}')"


def _spend_or_ask(
    uow: UnitOfWork,
    actor: Actor,
    grant: Grant,
    verdict: Verdict,
    held: _Held,
    approval_id: str | None,
    facts: dict[str, object],
) -> tuple[Verdict, str | None]:
    """Spend the caller's approval on the held call (the verdict stands when it covers exactly this call), or ask
    for one (refused: approval_required); `facts` gets the approval's id."""
    bound = {
        "license_id": grant.license_id,
        "deployment": held.deployment,
        "tool": held.tool,
        "args_sha256": held.args_sha256,
    }
    if approval_id is not None:
        facts["approval_id"] = approval_id
        why = approvals.use(uow, approval_id, agent=actor.ref, commit=False, **bound)
        if why is None:
            return verdict, approval_id
        detail = f"approval {approval_id}: {why}"
        return Verdict(False, Reason.APPROVAL_REFUSED, grant=grant, detail=detail), None
    asked = approvals.ask(uow, args=dict(held.args), agent=actor.ref, approver=held.approver, commit=False, **bound)
    facts["approval_id"] = asked
    detail = toolscope.waiting_detail(grant, held.tool, held.approver, asked, held.retry.format(asked))
    return Verdict(False, Reason.APPROVAL_REQUIRED, grant=grant, detail=detail), asked


def _tool_call(
    uow: UnitOfWork, actor: Actor, name: str, verdict: Verdict, call: ToolCall
) -> tuple[Verdict, dict[str, object], str | None]:
    """The SDK's `guard.tool_call`: the gateway's MCP checks (name, arguments, scope, conditions, approval)."""
    facts: dict[str, object] = {"method": "tools/call", "server": name, "tool": call.tool[:100], "via": "sdk"}
    grant = verdict.grant
    if not verdict.allowed or grant is None:
        return verdict, facts, None
    try:
        tool = toolscope.check_name(call.tool)
        raw = toolscope.canonical_args(call.arguments)
    except toolscope.BadCall as exc:
        return Verdict(False, Reason.TOOL_NOT_IN_SCOPE, grant=grant, detail=str(exc)), facts, None
    sha = toolscope.digest(raw)
    facts["args_sha256"] = sha
    out = toolscope.check(grant, name, tool, call.arguments)
    if out.reason is Reason.APPROVAL_REQUIRED and out.approver is not None:
        held = _Held(name, tool, call.arguments, sha, out.approver, "call guard.tool_call again with approval='{}'")
        verdict, approval_id = _spend_or_ask(uow, actor, grant, verdict, held, call.approval_id, facts)
        return verdict, facts, approval_id
    if out.reason is not None:
        return Verdict(False, out.reason, grant=grant, detail=out.detail), facts, None
    return verdict, facts, None


TOOL_COUNT_WINDOW = 10_000


def tool_counts(uow: UnitOfWork, actor: Actor, name: str) -> list[dict[str, object]]:
    """Per tool of an MCP deployment: calls forwarded, refusals, approvals asked and spent, from its latest
    `TOOL_COUNT_WINDOW` decisions in the audit log (needs audit.read: the counts come from the log)."""
    row = _row(uow, name)
    authorize(actor, Permission.AUDIT_READ, _resource(uow, row.system))
    query = (
        select(AuditEntryRow.action, AuditEntryRow.body)
        .where(AuditEntryRow.resource == f"deployment:{name}", AuditEntryRow.action.like("inference.%"))
        .order_by(AuditEntryRow.seq.desc())
        .limit(TOOL_COUNT_WINDOW)
    )
    counts: dict[str, dict[str, int]] = {}
    for action, body in uow.session.execute(query):
        details = orjson.loads(bytes(body)).get("details", {})
        for tool, approval_id in _called(details, action == "inference.allow"):
            c = counts.setdefault(tool, dict.fromkeys(("calls", "refused", "approvals", "approved"), 0))
            if action == "inference.allow":
                c["calls"] += 1
                c["approved"] += 1 if approval_id else 0
            elif details.get("reason") == "approval_required":
                c["approvals"] += 1
            else:
                c["refused"] += 1
    return [{"tool": tool, **c} for tool, c in sorted(counts.items())]


def _called(details: dict[str, Any], allowed: bool) -> list[tuple[str, object]]:
    """The tool calls an entry decided: an MCP `tools/call`, or the calls in an OpenAI answer (those with rules in
    `tool_calls`; on a refusal only the call that decided it, the last one checked; out-of-scope `tools_called`)."""
    mcp = details.get("mcp") or {}
    if mcp.get("method") == "tools/call" and isinstance(mcp.get("tool"), str):
        return [(mcp["tool"], mcp.get("approval_id"))]
    calls = [c for c in details.get("tool_calls") or [] if isinstance(c, dict) and isinstance(c.get("tool"), str)]
    if calls:
        chosen = calls if allowed else calls[-1:]
        return [(c["tool"], c.get("approval_id")) for c in chosen]
    return [(t, None) for t in details.get("tools_called") or [] if isinstance(t, str) and not allowed]
