"""Licenses: the list, and one license with its true standing, scope, conditions, sign-offs, monitoring charts,
token, readable history and (for license managers) suspend / reinstate / revoke."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from charter.audit import store as audit_store
from charter.audit.service import entry_read
from charter.auth.authorize import allowed, authorize
from charter.auth.model import Permission, Resource
from charter.catalog import service as catalog
from charter.core.errors import CharterError, Forbidden, InvalidInput
from charter.licenses import service as licenses
from charter.licenses.conditions import render as render_condition
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import LicenseRead, LicenseStatus
from charter.storage.uow import UnitOfWork
from charter.web import history
from charter.web.handler import Ctx
from charter.web.labels import effective_state, label, standing
from charter.web.rendering import Page
from charter.web.views import monitoring as monitoring_views
from charter.web.views.audit import AUDIT

STATES = ("requested", "approved", "active", "suspended", "rejected", "revoked", "expired")
HISTORY_LIMIT = 200
DONE = {
    "requested": "License requested; the reviewers below have been asked to sign.",
    "suspend": "License suspended: every gateway refuses it now.",
    "reinstate": "License reinstated: gateways admit it again.",
    "revoke": "License revoked for good.",
}


def state_counts(rows: list[LicenseRead]) -> dict[str, Any]:
    """Licenses per (effective) state, in lifecycle order, for the overview and the list header."""
    counts = Counter(effective_state(lic) for lic in rows)
    return {"counts": [(s, counts[s]) for s in STATES if counts[s]], "total": len(rows)}


def list_page(ctx: Ctx) -> Page:
    """GET /licenses — newest first, filterable by state and system."""
    state = ctx.q("state") or None
    system = ctx.q("system") or None
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}, got '{state[:40]}'", field="state")
    expiring = ctx.q("expiring") == "30d"
    with ctx.uow() as uow:
        everything = licenses.list_licenses(uow, ctx.actor)
        within = timedelta(days=30) if expiring else None
        shown = licenses.list_licenses(uow, ctx.actor, system=system, expiring_within=within)
    if state is not None:
        shown = [lic for lic in shown if effective_state(lic) == state]
    elif expiring:
        shown = [lic for lic in shown if effective_state(lic) != "expired"]
    data = {
        "title": "Licenses",
        "licenses": shown,
        "summary": state_counts(everything),
        "state": state or "",
        "system": system or "",
        "expiring": expiring,
        "states": STATES,
        "systems": sorted({lic.system for lic in everything}),
        "can_request": ctx.can(Permission.LICENSE_REQUEST),
    }
    return Page("licenses.html", data)


def _claims(token: str) -> dict[str, Any] | None:
    """The (unverified, display-only) header and payload of a compact JWS."""
    try:
        header, payload = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
    except ValueError:
        return None
    return {"header": header, "payload": payload}


def _token(ctx: Ctx, license_id: str, state: str) -> dict[str, Any] | None:
    if state not in ("active", "suspended"):
        return None
    with ctx.uow() as uow:
        out = licenses.token(uow, ctx.actor, license_id, issuer_for(ctx.container))
    claims = _claims(out.token)
    return {"token": out.token, "claims": json.dumps(claims, indent=2, sort_keys=True) if claims else None}


def events(ctx: Ctx, license_id: str, *, newest_first: bool = False) -> list[history.Event] | None:
    """The license's audit entries as a timeline; None when the actor may not read the audit log."""
    try:
        authorize(ctx.actor, Permission.AUDIT_READ, AUDIT)
    except Forbidden:
        return None
    found = audit_store.EntryFilter(resource=f"license:{license_id}")
    with ctx.uow() as uow:
        rows = audit_store.list_entries(uow.session, found, limit=HISTORY_LIMIT, newest_first=newest_first)
    out = []
    for seq, body, leaf in rows:
        e = entry_read(seq, body, leaf)
        out.append(history.event(e.seq, e.ts, e.actor, e.action, e.outcome, dict(e.details)))
    return out


def conditions_text(conditions: list[dict[str, Any]]) -> list[str]:
    """Stored conditions in the grammar people write them in."""
    out = []
    for c in conditions:
        try:
            out.append(render_condition(c))
        except CharterError:
            out.append(history.text(c))
    return out


def timeline(status: LicenseStatus) -> list[dict[str, Any]]:
    """Each required function of the current stage: who approved or rejected it, or that it is still awaited."""
    by_fn = {s.function: s for s in status.signoffs if s.stage == status.stage}
    out: list[dict[str, Any]] = []
    for fn in status.required_signoffs:
        s = by_fn.get(fn)
        if s is None:
            out.append({"function": fn, "decision": "awaiting", "principal": None, "comment": "", "at": None})
        else:
            out.append(
                {
                    "function": fn,
                    "decision": str(s.decision),
                    "principal": s.principal,
                    "comment": s.comment,
                    "at": s.created_at,
                }
            )
    return out


def actions(ctx: Ctx, lic: LicenseRead) -> list[str]:
    """The state changes this actor may make to this license now (the service decides again on submit)."""
    with ctx.uow() as uow:
        if not allowed(ctx.actor, Permission.LICENSE_MANAGE, _resource(uow, lic)):
            return []
    state = effective_state(lic)
    if state == "active":
        return ["suspend", "revoke"]
    if state == "suspended":
        return ["reinstate", "revoke"]
    if state in ("requested", "approved"):
        return ["revoke"]
    return []


def _resource(uow: UnitOfWork, lic: LicenseRead) -> Resource:
    """The license as an authorization resource, scoped like its system (as the licenses service builds it)."""
    scope = catalog.system_resource(uow, lic.system)
    return Resource(kind="license", name=lic.id, team=scope.team, system=scope.system, production=scope.production)


def detail_data(ctx: Ctx, license_id: str) -> dict[str, Any]:
    """Everything the license page shows (also used to re-render it with form errors)."""
    with ctx.uow() as uow:
        lic = licenses.get(uow, ctx.actor, license_id)
        status = licenses.status(uow, ctx.actor, license_id)
    earlier = [s for s in status.signoffs if s.stage != status.stage]
    found = events(ctx, lic.id)
    now = standing(lic)
    suspended = [e for e in found or [] if e.action == "license.suspend" and e.outcome == "success"]
    if now.state == "suspended" and suspended:  # sign-offs since then touched updated_at; the entry did not
        now = dataclasses.replace(now, since=datetime.fromisoformat(suspended[-1].ts.replace("Z", "+00:00")))
    watched = {str(c.get("metric")) for c in lic.conditions}
    panels = monitoring_views.panels_for(ctx, lic.model, names={lic.id: label(lic)})
    if panels:  # the charts of what its conditions watch (all of them are one link away)
        panels = [p for p in panels if any(s.get("metric") in watched for s in p["series"])] or panels[:1]
    return {
        "title": f"License {label(lic)}",
        "lic": lic,
        "name": label(lic),
        "standing": now,
        "status": status,
        "timeline": timeline(status),
        "earlier": earlier,
        "conditions": conditions_text(lic.conditions),
        "token": _token(ctx, lic.id, str(lic.state)),
        "history": found,
        "can_sign": ctx.can(Permission.LICENSE_SIGNOFF),
        "actions": actions(ctx, lic),
        "panels": panels,
        "errors": {},
        "values": {},
        "done": DONE.get(ctx.q("done"), ""),
        "failed": "",
    }


def detail_page(ctx: Ctx) -> Page:
    """GET /licenses/{id} — standing, scope, conditions, sign-offs, monitoring, token, history, actions."""
    return Page("license.html", detail_data(ctx, ctx.param("id")))
