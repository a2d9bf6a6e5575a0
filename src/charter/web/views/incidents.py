"""Serious incidents (Art. 73): open ones by reporting deadline, then closed ones."""

from __future__ import annotations

from charter.core.clock import utcnow
from charter.incidents import service
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
