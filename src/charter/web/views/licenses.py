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
from charter.licenses import service as licenses
from charter.licenses.conditions import render as render_condition
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import LicenseRead, LicenseStatus
from charter.web.handler import Ctx
from charter.web.rendering import Page

STATES = ("requested", "approved", "active", "suspended", "rejected", "revoked", "expired")
HISTORY_LIMIT = 200


def state_counts(rows: list[LicenseRead]) -> dict[str, Any]:
    """Licenses per state, in lifecycle order, for the overview and the list header."""
    counts = Counter(str(lic.state) for lic in rows)
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
        shown = licenses.list_licenses(uow, ctx.actor, state=state, system=system, expiring_within=within)
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
    with ctx.uow() as uow:
        out = licenses.token(uow, ctx.actor, license_id, issuer_for(ctx.container))
    claims = _claims(out.token)
    return {"token": out.token, "claims": json.dumps(claims, indent=2, sort_keys=True) if claims else None}


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
    out = []
    for c in conditions:
        try:
            out.append(render_condition(c))
        except CharterError:
            out.append(json.dumps(c))
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


def detail_page(ctx: Ctx) -> Page:
    """GET /licenses/{id} — scope, conditions, sign-offs, token, history."""
    license_id = ctx.param("id")
    with ctx.uow() as uow:
        lic = licenses.get(uow, ctx.actor, license_id)
        status = licenses.status(uow, ctx.actor, license_id)
    earlier = [s for s in status.signoffs if s.stage != status.stage]
    data = {
        "title": f"License {lic.id}",
        "lic": lic,
        "status": status,
        "timeline": timeline(status),
        "earlier": earlier,
        "conditions": _conditions(lic.conditions),
        "token": _token(ctx, lic.id, str(lic.state)),
        "history": _history(ctx, lic.id),
        "can_sign": ctx.can(Permission.LICENSE_SIGNOFF),
    }
    return Page("license.html", data)
