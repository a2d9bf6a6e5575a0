"""Serious incidents (Art. 73): open ones by reporting deadline, then closed ones."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from charter.auth.authorize import authorize_any
from charter.auth.model import Permission
from charter.catalog import service as catalog
from charter.core.clock import utcnow
from charter.incidents import service
from charter.reports.incident import incident_html
from charter.reports.render import CSP
from charter.web.handler import Ctx
from charter.web.rendering import Page


def list_page(ctx: Ctx) -> Page:
    """GET /incidents — open incidents, soonest deadline first (the service authorizes per system)."""
    with ctx.uow() as uow:
        items = service.list_all(uow, ctx.actor)
    now = utcnow()
    open_ = [
        {**i.model_dump(mode="json"), "hours_left": round((i.due_at - now).total_seconds() / 3600)}
        for i in items
        if i.status == service.OPEN
    ]
    closed = [i.model_dump(mode="json") for i in items if i.status != service.OPEN]
    return Page("incidents.html", {"title": "Serious incidents", "open": open_, "closed": closed})


def report_page(ctx: Ctx) -> HTMLResponse:
    """GET /incidents/{id}/report — the printable Art. 73 report (as GET /api/v1/incidents/{id}/report.html)."""
    authorize_any(ctx.actor, Permission.REPORT_READ)
    with ctx.uow() as uow:
        incident = service.get(uow, ctx.actor, ctx.param("id"))
        system = catalog.show_system(uow, ctx.actor, incident.system)
        versions = [
            {"ref": v.ref, "digest": v.digest} for v in catalog.list_model_versions(uow, ctx.actor, system.name)
        ]
    html = incident_html(incident.model_dump(mode="json"), system, versions)
    return HTMLResponse(html, headers={"content-security-policy": CSP, "cache-control": "no-store"})
