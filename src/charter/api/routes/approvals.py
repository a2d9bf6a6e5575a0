"""Runtime approvals of agents' tool calls: the inbox, and approve/deny as the approver the license names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from charter.api.deps import Authz, ContainerDep
from charter.api.pagination import DEFAULT, Cursor, Limit
from charter.auth.model import Actor
from charter.auth.model import Permission as P
from charter.core.pages import Page, paginate
from charter.core.schema import Strict
from charter.deployments import approvals as service
from charter.deployments.approvals import ApprovalRead

router = APIRouter(tags=["approvals"])

Approve = Annotated[Actor, Depends(Authz(P.TOOL_APPROVE))]


class Decision(Strict):
    reason: str = Field(default="", max_length=2000)


@router.get("/approvals")
def list_approvals(
    actor: Approve,
    c: ContainerDep,
    state: Annotated[str | None, Query(pattern=r"^(pending|approved|denied|used|expired)$")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT,
) -> Page[ApprovalRead]:
    """Tool calls waiting for (or decided by) a human, newest first: tool, exact arguments, agent."""
    with c.uow(write=False) as uow:
        return paginate(service.list_all(uow, actor, state), cursor, limit)


@router.get("/approvals/{approval_id}")
def show_approval(approval_id: str, actor: Approve, c: ContainerDep) -> ApprovalRead:
    """One approval."""
    with c.uow(write=False) as uow:
        return service.get(uow, actor, approval_id)


@router.post("/approvals/{approval_id}/approve")
def approve(approval_id: str, body: Decision, actor: Approve, c: ContainerDep) -> ApprovalRead:
    """Approve: a single-use grant for exactly this call (license, tool, arguments, agent), expiring in 15 min."""
    with c.uow() as uow:
        return service.decide(uow, actor, approval_id, approve=True, reason=body.reason)


@router.post("/approvals/{approval_id}/deny")
def deny(approval_id: str, body: Decision, actor: Approve, c: ContainerDep) -> ApprovalRead:
    """Deny: the agent's retry is refused."""
    with c.uow() as uow:
        return service.decide(uow, actor, approval_id, approve=False, reason=body.reason)
