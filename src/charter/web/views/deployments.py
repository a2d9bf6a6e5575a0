"""One deployment: where it forwards, under which model version, and for MCP deployments the per-tool counts
(calls, refusals, approvals asked and spent) read from the audit log, with the approvals waiting on it."""

from __future__ import annotations

from charter.auth.authorize import allowed
from charter.auth.model import Permission
from charter.deployments import approvals
from charter.deployments import service as deployments
from charter.web.handler import Ctx
from charter.web.rendering import Page


def detail_page(ctx: Ctx) -> Page:
    """GET /deployments/{name}"""
    name = ctx.param("name")
    with ctx.uow() as uow:
        dep = deployments.get(uow, ctx.actor, name)
        tools = deployments.tool_counts(uow, ctx.actor, name) if dep.kind in ("mcp", "openai") else []
        waiting = []
        if allowed(ctx.actor, Permission.TOOL_APPROVE):
            waiting = [a for a in approvals.list_all(uow, ctx.actor, "pending") if a.deployment == name]
    return Page("deployment.html", {"deployment": dep, "tools": tools, "waiting": waiting})
