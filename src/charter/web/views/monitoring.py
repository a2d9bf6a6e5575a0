"""Monitoring: monitored model versions and recent breaches; one version's conditions, charts and windows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from charter.auth.model import Permission
from charter.core.errors import Forbidden, NotFound
from charter.monitoring import service as monitoring
from charter.monitoring.schemas import ProfileRead
from charter.web import charts, labels
from charter.web.handler import Ctx
from charter.web.rendering import Page
from charter.web.views._lookup import licenses_by_id

WINDOW_LIMIT = 200
TABLE_LIMIT = 20


def panels_for(ctx: Ctx, ref: str, names: Mapping[str, str] | None = None) -> list[dict[str, Any]] | None:
    """The chart panels of one model version for embedding in other pages (system, license); None when the actor
    may not read monitoring, [] when there is no window yet."""
    if not ctx.can(Permission.MONITOR_READ):
        return None
    try:
        with ctx.uow() as uow:
            st = monitoring.status(uow, ctx.actor, ref)
            watched = list(dict.fromkeys(c.metric for c in st.conditions))
            spec = monitoring.series(uow, ctx.actor, ref, [*watched, *charts.HEADLINE], limit=WINDOW_LIMIT)
    except Forbidden:
        return None
    except NotFound:
        return []
    return charts.split(spec, names)


def overview(ctx: Ctx) -> Page:
    """GET /monitoring — every monitored model version with where it stands, and the newest breaches."""
    with ctx.uow() as uow:
        profiles: list[ProfileRead] = monitoring.list_profiles(uow, ctx.actor)
        models = []
        for p in profiles:
            st = monitoring.status(uow, ctx.actor, p.model)
            models.append({"profile": p, "status": st})
        breaches = monitoring.recent_breaches(uow, ctx.actor, limit=TABLE_LIMIT)
    data = {"title": "Monitoring", "models": models, "breaches": breaches, "names": licenses_by_id(ctx)}
    return Page("monitoring.html", data)


def model_page(ctx: Ctx) -> Page:
    """GET /monitoring/{system}/{version} — live conditions, drift/accuracy/fairness over time, windows, breaches."""
    ref = f"{ctx.param('system')}@{ctx.param('version')}"
    with ctx.uow() as uow:
        st = monitoring.status(uow, ctx.actor, ref)
        watched = list(dict.fromkeys(c.metric for c in st.conditions))
        spec: dict[str, Any] = monitoring.series(uow, ctx.actor, ref, [*watched, *charts.HEADLINE], limit=WINDOW_LIMIT)
        windows = monitoring.list_windows(uow, ctx.actor, ref, limit=TABLE_LIMIT)
        breaches = monitoring.breaches_of(uow, ctx.actor, ref, limit=TABLE_LIMIT)
    names = licenses_by_id(ctx)
    data = {
        "title": f"Monitoring {ref}",
        "ref": ref,
        "status": st,
        "names": names,
        "panels": charts.split(spec, {k: labels.label(v) for k, v in names.items()}),
        "windows": windows,
        "breaches": breaches,
    }
    return Page("monitoring_model.html", data)
