"""Runtime approvals: a tool call a license marks `approval` waits for a human, and an approval is a single-use
grant for exactly that call.

The gateway (or the SDK) `ask`s when a call needs one: a pending approval names the license, the deployment, the
tool, the sha256 of the canonical arguments (and the arguments, for the approver to read) and the agent. An approver
holding the named role (`role:ROLE`, or a reviewer's function: `role:legal`) approves or denies it; an approval
expires after `ttl` (15 minutes by default, read from `core.clock`). The agent's retry carries the approval id:
`use` passes it once when every bound part is the same, and refuses a second use, other arguments, another tool or
agent, a denial and expiry. Request, decision and use are audit entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update

from charter.auth.authorize import authorize, authorize_any
from charter.auth.model import Actor, Permission, Role
from charter.core.clock import as_utc, utcnow
from charter.core.errors import Conflict, ErrorCode, Forbidden, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.deployments.tables import ToolApprovalRow
from charter.storage.uow import UnitOfWork

DEFAULT_TTL = timedelta(minutes=15)
STATES = ("pending", "approved", "denied", "used", "expired")


class ApprovalRead(BaseModel):
    id: str
    state: str
    license_id: str
    deployment: str
    tool: str
    args: Any
    args_sha256: str
    agent: str
    approver: str
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None
    reason: str | None = None


def _read(row: ToolApprovalRow) -> ApprovalRead:
    return ApprovalRead.model_validate(row, from_attributes=True)


def _details(row: ToolApprovalRow) -> dict[str, Any]:
    return {
        "license_id": row.license_id,
        "deployment": row.deployment,
        "tool": row.tool,
        "args_sha256": row.args_sha256,
        "agent": row.agent,
        "approver": row.approver,
    }


def ask(
    uow: UnitOfWork,
    *,
    license_id: str,
    deployment: str,
    tool: str,
    args: Any,
    args_sha256: str,
    agent: str,
    approver: str,
    commit: bool = True,
) -> str:
    """A pending approval for one call (internal: the gateway has authenticated the agent and checked its scope)."""
    row = ToolApprovalRow(
        id=new_id("apr"),
        license_id=license_id,
        deployment=deployment,
        tool=tool,
        args_sha256=args_sha256,
        args=args,
        agent=agent,
        approver=approver,
        state="pending",
        created_at=utcnow(),
    )
    uow.session.add(row)
    uow.record(AuditEvent(agent, "approval.request", f"approval:{row.id}", details=_details(row)))
    if commit:
        uow.commit()
    return row.id


def use(
    uow: UnitOfWork,
    approval_id: str,
    *,
    license_id: str,
    deployment: str,
    tool: str,
    args_sha256: str,
    agent: str,
    commit: bool = True,
) -> str | None:
    """Spend an approval on the call it was granted for: None when it passes (once), else why not (audited)."""
    row = uow.session.get(ToolApprovalRow, approval_id)
    if row is None:
        return "no such approval"
    why = _unusable(row, license_id=license_id, deployment=deployment, tool=tool, args_sha256=args_sha256, agent=agent)
    now = utcnow()
    if why is None:
        done = uow.session.execute(
            update(ToolApprovalRow)
            .where(ToolApprovalRow.id == row.id, ToolApprovalRow.state == "approved")
            .values(state="used", used_at=now)
        )
        if getattr(done, "rowcount", 0) != 1:
            why = "was already used"
    elif why == "has expired" and row.state == "approved":
        row.state = "expired"
    details = {**_details(row), "asked_args_sha256": args_sha256, "asked_by": agent}
    if why is not None:
        details["refused"] = why
    event = AuditEvent(agent, "approval.use", f"approval:{row.id}", details=details)
    if why is not None:
        event = AuditEvent(agent, "approval.use", f"approval:{row.id}", outcome="denied", details=details)
    uow.record(event)
    if commit:
        uow.commit()
    return why


def _unusable(
    row: ToolApprovalRow, *, license_id: str, deployment: str, tool: str, args_sha256: str, agent: str
) -> str | None:
    if row.state == "pending":
        return "is still waiting for its approver"
    if row.state == "denied":
        return f"was denied by {row.decided_by}"
    if row.state == "used":
        return "was already used (an approval passes one call)"
    if row.state == "expired" or (row.expires_at is not None and as_utc(row.expires_at) <= utcnow()):
        return "has expired"
    if row.agent != agent:
        return "was granted to another agent"
    if (row.license_id, row.deployment, row.tool) != (license_id, deployment, tool):
        return f"was granted for {row.deployment}:{row.tool}, not this tool"
    if row.args_sha256 != args_sha256:
        return "was granted for other arguments (sha256 of the canonical arguments differs)"
    return None


def may_approve(actor: Actor, approver: str) -> bool:
    """`role:NAME`: a Charter role the actor holds, or a reviewer function it signs as; admins may always."""
    name = approver.removeprefix("role:")
    if actor.has_role(Role.ADMIN):
        return True
    return any(str(g.role) == name or (g.role is Role.REVIEWER and g.function == name) for g in actor.grants)


def list_all(uow: UnitOfWork, actor: Actor, state: str | None = None) -> list[ApprovalRead]:
    authorize_any(actor, Permission.TOOL_APPROVE)
    q = select(ToolApprovalRow).order_by(ToolApprovalRow.created_at.desc(), ToolApprovalRow.id)
    if state is not None:
        q = q.where(ToolApprovalRow.state == state)
    return [_read(r) for r in uow.session.scalars(q.limit(1000))]


def get(uow: UnitOfWork, actor: Actor, approval_id: str) -> ApprovalRead:
    authorize_any(actor, Permission.TOOL_APPROVE)
    row = uow.session.get(ToolApprovalRow, approval_id)
    if row is None:
        raise NotFound(f"no approval {approval_id}", code=ErrorCode.APPROVAL_NOT_FOUND)
    return _read(row)


def decide(
    uow: UnitOfWork, actor: Actor, approval_id: str, *, approve: bool, reason: str = "", ttl: timedelta = DEFAULT_TTL
) -> ApprovalRead:
    """Approve (a single-use grant, expiring after `ttl`) or deny a pending approval, as its named approver."""
    authorize(actor, Permission.TOOL_APPROVE)
    row = uow.session.get(ToolApprovalRow, approval_id)
    if row is None:
        raise NotFound(f"no approval {approval_id}", code=ErrorCode.APPROVAL_NOT_FOUND)
    if not may_approve(actor, row.approver):
        raise Forbidden(
            f"approval {row.id} needs {row.approver}; {actor.ref} does not hold it", code=ErrorCode.APPROVER_REQUIRED
        )
    if actor.ref == row.agent:
        raise Forbidden("an agent cannot approve its own call", code=ErrorCode.APPROVER_REQUIRED)
    if row.state != "pending":
        raise Conflict(f"approval {row.id} is {row.state}, not pending", code=ErrorCode.APPROVAL_DECIDED)
    now = utcnow()
    row.state = "approved" if approve else "denied"
    row.decided_by = actor.ref
    row.decided_at = now
    row.reason = reason or None
    if approve:
        row.expires_at = now + ttl
    details = {**_details(row), "reason": reason, "expires_at": row.expires_at.isoformat() if row.expires_at else None}
    uow.record(
        AuditEvent(actor.ref, f"approval.{'approve' if approve else 'deny'}", f"approval:{row.id}", details=details)
    )
    out = _read(row)
    uow.commit()
    return out
