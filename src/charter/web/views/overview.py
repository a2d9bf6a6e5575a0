"""Overview: the state of governance at a glance, from whichever domain services this build provides."""

from __future__ import annotations

from typing import Any

from charter.auth import service as auth_service
from charter.auth.model import Permission
from charter.web import domains
from charter.web.handler import Ctx
from charter.web.rendering import Page
from charter.web.views import audit


def _principals(ctx: Ctx) -> dict[str, int] | None:
    if not ctx.can(Permission.PRINCIPAL_READ):
        return None
    with ctx.uow() as uow:
        rows = auth_service.list_principals(uow, ctx.actor)
    return {"users": sum(1 for p in rows if p.kind == "user"), "apps": sum(1 for p in rows if p.kind == "app")}


def overview(ctx: Ctx) -> Page:
    """GET / — counts and lists per domain; a domain not in this build says so."""
    data: dict[str, Any] = {
        "title": "Overview",
        "principals": _principals(ctx),
        "audit_head": audit.head_info(ctx) if ctx.can(Permission.AUDIT_READ) else None,
        "can_audit": ctx.can(Permission.AUDIT_READ),
        "checkpoint": audit.verification(ctx) if ctx.can(Permission.AUDIT_READ) else None,
        "systems_by_tier": domains.Missing(
            "catalog", "Systems by risk tier", "the catalog service is not part of this build yet"
        ),
        "licenses_by_state": domains.Missing(
            "licenses", "Licenses by state", "the licenses service is not part of this build yet"
        ),
        "expiring": domains.Missing("licenses", "Expiring soon", "the licenses service is not part of this build yet"),
        "pending_signoffs": domains.Missing(
            "licenses", "Pending sign-offs", "the licenses service is not part of this build yet"
        ),
        "reaudits": domains.Missing(
            "licenses", "Open re-audits", "the re-audit scheduler is not part of this build yet"
        ),
        "breaches": domains.Missing(
            "monitoring", "Breached conditions", "the monitoring service is not part of this build yet"
        ),
    }
    return Page("overview.html", data)
