"""The compliance summary across systems: per system the tier, license states, latest assessment verdict, open
re-audits, breached conditions, data provenance completeness and sign-off completion."""

from __future__ import annotations

from collections import Counter
from typing import Any

from charter import __version__
from charter.auth.authorize import allowed, authorize_any
from charter.auth.model import Actor, Permission
from charter.catalog import service as catalog
from charter.catalog.schemas import SystemRead
from charter.core.clock import as_utc, isoformat, utcnow
from charter.evaluation import service as evaluation
from charter.licenses import reaudit
from charter.licenses import repository as license_rows
from charter.licenses import service as licenses
from charter.licenses.model import LicenseState
from charter.reports.monitoring import MonitoringSource
from charter.storage.uow import UnitOfWork

AWAITING = (LicenseState.REQUESTED, LicenseState.APPROVED, LicenseState.SUSPENDED)
WITHDRAWN = (LicenseState.SUSPENDED, LicenseState.REVOKED)


def compliance_summary(uow: UnitOfWork, actor: Actor, *, monitoring: MonitoringSource | None = None) -> dict[str, Any]:
    """Every system the actor may report on, one row each, with totals."""
    authorize_any(actor, Permission.REPORT_READ)
    rows = []
    for system in catalog.list_systems(uow, actor):
        if allowed(actor, Permission.REPORT_READ, catalog.system_resource(uow, system.name)):
            rows.append(_row(uow, actor, system, monitoring))
    now = utcnow()
    return {
        "format": "charter-compliance-summary",
        "version": 1,
        "generator": f"charter {__version__}",
        "generated_at": isoformat(now),
        "generated_by": actor.ref,
        "totals": _totals(rows),
        "items": rows,
    }


def _row(uow: UnitOfWork, actor: Actor, system: SystemRead, monitoring: MonitoringSource | None) -> dict[str, Any]:
    versions = catalog.list_model_versions(uow, actor, system.name)
    latest = None
    for v in versions:
        found = evaluation.latest_assessment(uow, v.digest)
        if found is not None and (latest is None or found.created_at > latest.created_at):
            latest = found
    newest = max(versions, key=lambda v: (v.created_at, v.version)) if versions else None
    provenance: dict[str, Any] = {"model": None, "complete": None, "issues": []}
    if newest is not None:
        checked = catalog.evidence_context(uow, newest.ref)["provenance"]
        provenance = {"model": newest.ref, "complete": bool(checked["complete"]), "issues": list(checked["issues"])}
    lics = licenses.list_licenses(uow, actor, system=system.name)
    states = Counter(str(lic.state) for lic in lics)
    now = utcnow()
    tasks = reaudit.open_tasks(uow, system.name)
    return {
        "system": system.name,
        "team": system.team,
        "risk_tier": system.risk_tier,
        "versions": len(versions),
        "licenses": dict(sorted(states.items())),
        "live_licenses": states.get("active", 0) + states.get("suspended", 0),
        "latest_assessment": (
            {
                "id": latest.id,
                "model": latest.model,
                "verdict": latest.verdict,
                "blockers": list(latest.blockers),
                "created_at": isoformat(latest.created_at),
            }
            if latest is not None
            else None
        ),
        "open_reaudits": len(tasks),
        "overdue_reaudits": sum(1 for t in tasks if as_utc(t.due_at) < now),
        "breached_conditions": _breaches(uow, system.name, monitoring),
        "provenance": provenance,
        "signoffs": _signoffs(uow, actor, [lic.id for lic in lics if lic.state not in (LicenseState.REJECTED,)]),
    }


def _breaches(uow: UnitOfWork, system: str, monitoring: MonitoringSource | None) -> list[str]:
    """Conditions monitoring found breached, and licenses withdrawn on evidence (suspended or revoked)."""
    out: list[str] = []
    summary = monitoring(uow, system) if monitoring is not None else None
    if summary is not None:
        out += summary.breaches
    for row in license_rows.list_rows(uow, states=[s.value for s in WITHDRAWN], system=system):
        if row.evidence:
            condition = row.evidence.get("condition") if isinstance(row.evidence, dict) else None
            what = condition if isinstance(condition, str) else (row.reason or "evidence recorded")
            out.append(f"{row.id} {row.state}: {what}")
    return list(dict.fromkeys(out))


def _signoffs(uow: UnitOfWork, actor: Actor, license_ids: list[str]) -> dict[str, Any]:
    """How many licenses have every required sign-off of their current stage, and what the others miss."""
    complete, pending = 0, []
    for lid in license_ids:
        st = licenses.status(uow, actor, lid)
        if st.missing_signoffs or st.rejected:
            if st.state in AWAITING:
                pending.append({"license": lid, "state": str(st.state), "missing": list(st.missing_signoffs)})
        else:
            complete += 1
    total = len(license_ids)
    return {
        "licenses": total,
        "complete": complete,
        "pending": pending,
        "ratio": round(complete / total, 4) if total else None,
    }


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tiers = Counter(str(r["risk_tier"]) for r in rows)
    verdicts = Counter((r["latest_assessment"] or {}).get("verdict", "none") for r in rows)
    return {
        "systems": len(rows),
        "by_tier": dict(sorted(tiers.items())),
        "by_verdict": dict(sorted(verdicts.items())),
        "live_licenses": sum(r["live_licenses"] for r in rows),
        "open_reaudits": sum(r["open_reaudits"] for r in rows),
        "overdue_reaudits": sum(r["overdue_reaudits"] for r in rows),
        "breached_conditions": sum(len(r["breached_conditions"]) for r in rows),
        "provenance_incomplete": sum(1 for r in rows if r["provenance"]["complete"] is False),
        "signoffs_pending": sum(len(r["signoffs"]["pending"]) for r in rows),
    }
