"""Monitoring: monitored model versions and recent breaches; one version's conditions, charts and windows."""

from __future__ import annotations

from typing import Any

from charter.monitoring import service as monitoring
from charter.monitoring.schemas import ProfileRead
from charter.web import charts
from charter.web.handler import Ctx
from charter.web.rendering import Page

WINDOW_LIMIT = 200
TABLE_LIMIT = 20


def overview(ctx: Ctx) -> Page:
    """GET /monitoring — every monitored model version with where it stands, and the newest breaches."""
    with ctx.uow() as uow:
        profiles: list[ProfileRead] = monitoring.list_profiles(uow, ctx.actor)
        models = []
        for p in profiles:
            st = monitoring.status(uow, ctx.actor, p.model)
            models.append({"profile": p, "status": st})
        breaches = monitoring.recent_breaches(uow, ctx.actor, limit=TABLE_LIMIT)
    return Page("monitoring.html", {"title": "Monitoring", "models": models, "breaches": breaches})


def model_page(ctx: Ctx) -> Page:
    """GET /monitoring/{system}/{version} — live conditions, drift/accuracy/fairness over time, windows, breaches."""
    ref = f"{ctx.param('system')}@{ctx.param('version')}"
    with ctx.uow() as uow:
        st = monitoring.status(uow, ctx.actor, ref)
        watched = list(dict.fromkeys(c.metric for c in st.conditions))
        spec: dict[str, Any] = monitoring.series(uow, ctx.actor, ref, [*watched, *charts.HEADLINE], limit=WINDOW_LIMIT)
        windows = monitoring.list_windows(uow, ctx.actor, ref, limit=TABLE_LIMIT)
        breaches = monitoring.breaches_of(uow, ctx.actor, ref, limit=TABLE_LIMIT)
    data = {
        "title": f"Monitoring {ref}",
        "ref": ref,
        "status": st,
        "panels": charts.split(spec),
        "windows": windows,
        "breaches": breaches,
    }
    return Page("monitoring_model.html", data)
