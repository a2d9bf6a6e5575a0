"""Licenses: the list, and one license with scope, conditions, sign-off timeline, token and history."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.auth.model import Permission
from charter.core.errors import CharterError, InvalidInput
from charter.web import domains
from charter.web.handler import Ctx
from charter.web.rendering import Page

STATES = ("requested", "approved", "active", "suspended", "rejected", "revoked", "expired")
HISTORY_LIMIT = 200


def service(name: str, what: str) -> Any:
    """A function of `charter.licenses.service`, or a `Missing` when this build has none."""
    return domains.function("licenses", name, what)


def unavailable(title: str, missing: domains.Missing) -> Page:
    return Page("pending.html", {"title": title, "missing": missing})


def state_counts(licenses: list[Any]) -> dict[str, Any]:
    counts = Counter(str(lic.state) for lic in licenses)
    return {"counts": [(s, counts[s]) for s in STATES if counts[s]], "total": len(licenses)}


def list_page(ctx: Ctx) -> Page:
    """GET /licenses — newest first, filterable by state and system."""
    fn = service("list_licenses", "Licenses")
    if isinstance(fn, domains.Missing):
        return unavailable("Licenses", fn)
    state = ctx.q("state") or None
    system = ctx.q("system") or None
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}, got '{state[:40]}'", field="state")
    expiring = ctx.q("expiring") == "30d"
    with ctx.uow() as uow:
        everything = fn(uow, ctx.actor)
        shown = fn(uow, ctx.actor, state=state, system=system, expiring_within=timedelta(days=30) if expiring else None)
    data = {
        "title": "Licenses",
        "licenses": shown,
        "summary": state_counts(everything),
        "state": state or "",
        "system": system or "",
        "expiring": expiring,
        "states": STATES,
        "systems": sorted({lic.system for lic in everything}),
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
    fn = service("token", "License token")
    issuer_for = domains.function("licenses", "issuer_for", "License token", module_name="runtime")
    if isinstance(fn, domains.Missing) or isinstance(issuer_for, domains.Missing):
        return None
    with ctx.uow() as uow:
        out = fn(uow, ctx.actor, license_id, issuer_for(ctx.container))
    token = str(out.token)
    claims = _claims(token)
    return {"token": token, "claims": json.dumps(claims, indent=2, sort_keys=True) if claims else None}


def _history(ctx: Ctx, license_id: str) -> list[dict[str, Any]] | None:
    """Audit entries about this license (for principals who may read the audit log)."""
    if not ctx.can(Permission.AUDIT_READ):
        return None
    cols = (AuditEntryRow.seq, AuditEntryRow.ts, AuditEntryRow.actor, AuditEntryRow.action, AuditEntryRow.outcome)
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(*cols, AuditEntryRow.body)
            .where(AuditEntryRow.resource == f"license:{license_id}")
            .order_by(AuditEntryRow.seq)
            .limit(HISTORY_LIMIT)
        ).all()
    out = []
    for seq, ts, actor, action, outcome, body in rows:
        try:
            details = json.loads(bytes(body)).get("details", {})
        except ValueError:
            details = {}
        out.append({"seq": seq, "ts": ts, "actor": actor, "action": action, "outcome": outcome, "details": details})
    return out


def _conditions(conditions: list[dict[str, Any]]) -> list[str]:
    render = domains.function("licenses", "render", "Conditions", module_name="conditions")
    out = []
    for c in conditions:
        try:
            out.append(render(c) if callable(render) else json.dumps(c))
        except CharterError:
            out.append(json.dumps(c))
    return out


def timeline(status: Any) -> list[dict[str, Any]]:
    """Each required function of the current stage: who approved or rejected it, or that it is still awaited."""
    by_fn = {s.function: s for s in status.signoffs if s.stage == status.stage}
    out = []
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


def detail_page(ctx: Ctx) -> Page:
    """GET /licenses/{id} — scope, conditions, sign-offs, token, history."""
    get = service("get", "Licenses")
    status_fn = service("status", "License status")
    if isinstance(get, domains.Missing):
        return unavailable("License", get)
    license_id = ctx.param("id")
    with ctx.uow() as uow:
        lic = get(uow, ctx.actor, license_id)
        status = None if isinstance(status_fn, domains.Missing) else status_fn(uow, ctx.actor, license_id)
    earlier = [s for s in status.signoffs if s.stage != status.stage] if status else []
    data = {
        "title": f"License {lic.id}",
        "lic": lic,
        "status": status,
        "timeline": timeline(status) if status else [],
        "earlier": earlier,
        "conditions": _conditions(lic.conditions),
        "token": _token(ctx, lic.id, str(lic.state)),
        "history": _history(ctx, lic.id),
        "can_sign": ctx.can(Permission.LICENSE_SIGNOFF),
    }
    return Page("license.html", data)
