"""Overview: the state of governance at a glance. Each card asks its domain service with the signed-in actor; a card
the actor's grants do not cover (e.g. a team-scoped role and a service that needs global scope) shows "no access"
instead of failing the whole page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from charter.auth import service as auth_service
from charter.auth.authorize import authorize
from charter.auth.model import Permission
from charter.catalog import service as catalog
from charter.core.clock import as_utc, utcnow
from charter.core.errors import Forbidden
from charter.licenses import reaudit
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseRead, LicenseStatus
from charter.monitoring import service as monitoring
from charter.notifications import service as notifications
from charter.web.handler import Ctx
from charter.web.labels import effective_state
from charter.web.rendering import Page
from charter.web.views import audit, inbox
from charter.web.views import catalog as catalog_views
from charter.web.views import licenses as license_views
from charter.web.views._lookup import licenses_by_id

LIST_LIMIT = 8
T = TypeVar("T")


def _guarded(card: Callable[[Ctx], T], ctx: Ctx, denied: T) -> T:
    """A card's data, or `denied` when the service refuses this actor."""
    try:
        return card(ctx)
    except Forbidden:
        return denied


def _audit(ctx: Ctx) -> dict[str, Any] | None:
    """The tree head and latest checkpoint, for actors who may read the whole log."""
    if not ctx.can(Permission.AUDIT_READ):
        return None
    authorize(ctx.actor, Permission.AUDIT_READ, audit.AUDIT)
    return {"head": audit.head_info(ctx), "checkpoint": audit.verification(ctx)}


def _principals(ctx: Ctx) -> dict[str, int] | None:
    if not ctx.can(Permission.PRINCIPAL_READ):
        return None
    with ctx.uow() as uow:
        rows = auth_service.list_principals(uow, ctx.actor)
    return {"users": sum(1 for p in rows if p.kind == "user"), "apps": sum(1 for p in rows if p.kind == "app")}


def _systems(ctx: Ctx) -> Any:
    if not ctx.can(Permission.CATALOG_READ):
        return None
    with ctx.uow() as uow:
        return catalog_views.tier_counts(catalog.list_systems(uow, ctx.actor))


def _licenses(ctx: Ctx) -> tuple[Any, Any]:
    """(licenses by state, live licenses expiring within 30 days)."""
    if not ctx.can(Permission.LICENSE_READ):
        return None, None
    with ctx.uow() as uow:
        everything = licenses.list_licenses(uow, ctx.actor)
        expiring = licenses.list_licenses(uow, ctx.actor, expiring_within=timedelta(days=30))
    expiring = [lic for lic in expiring if effective_state(lic) in ("active", "suspended")]
    return license_views.state_counts(everything), {"items": expiring[:LIST_LIMIT]}


def _pending(ctx: Ctx) -> Any:
    """Licenses waiting for sign-offs: for a reviewer, those waiting for them; for others, all requested."""
    if ctx.can(Permission.LICENSE_SIGNOFF):
        mine = inbox.pending_for(ctx, limit=LIST_LIMIT, details=False)
        return {"items": [_waiting(i["lic"], i["status"]) for i in mine], "mine": True}
    if not ctx.can(Permission.LICENSE_READ):
        return None
    with ctx.uow() as uow:
        rows = licenses.list_licenses(uow, ctx.actor, state="requested")[:LIST_LIMIT]
        return {"items": [_waiting(r, licenses.status(uow, ctx.actor, r.id)) for r in rows], "mine": False}


def _waiting(lic: LicenseRead, status: LicenseStatus) -> dict[str, Any]:
    return {
        "id": lic.id,
        "lic": lic,
        "system": f"{lic.system}@{lic.model_version}",
        "waiting": list(status.missing_signoffs),
        "requested_at": lic.created_at,
    }


def _reaudits(ctx: Ctx) -> Any:
    if not ctx.can(Permission.LICENSE_READ):
        return None
    with ctx.uow() as uow:
        tasks = reaudit.list_tasks(uow, ctx.actor, status="open")
    now = utcnow()
    items = [
        {"system": t.system, "reason": t.reason, "due": t.due_at, "status": t.status, "overdue": as_utc(t.due_at) < now}
        for t in tasks[:LIST_LIMIT]
    ]
    return {"items": items, "total": len(tasks)}


def _breaches(ctx: Ctx) -> Any:
    if not ctx.can(Permission.MONITOR_READ):
        return None
    with ctx.uow() as uow:
        return {"items": monitoring.recent_breaches(uow, ctx.actor, limit=LIST_LIMIT)}


def _notifications(ctx: Ctx) -> Any:
    """Email/chat delivery health, for admins (who configure the channels): counts and the latest failures."""
    if not ctx.can(Permission.PRINCIPAL_MANAGE):
        return None
    with ctx.uow(write=False) as uow:
        return notifications.health(uow, limit=5)


def overview(ctx: Ctx) -> Page:
    """GET / — counts and lists per domain."""
    by_state, expiring = _guarded(_licenses, ctx, (None, None))
    log = _guarded(_audit, ctx, None)
    data: dict[str, Any] = {
        "title": "Overview",
        "principals": _guarded(_principals, ctx, None),
        "can_audit": log is not None,
        "audit_head": log["head"] if log else None,
        "checkpoint": log["checkpoint"] if log else None,
        "systems_by_tier": _guarded(_systems, ctx, None),
        "licenses_by_state": by_state,
        "expiring": expiring,
        "pending_signoffs": _guarded(_pending, ctx, None),
        "reaudits": _guarded(_reaudits, ctx, None),
        "breaches": _guarded(_breaches, ctx, None),
        "notifications": _guarded(_notifications, ctx, None),
        "names": licenses_by_id(ctx),
    }
    return Page("overview.html", data)
