"""AI systems: the list, and one system with tier, obligations, versions, lineage, licenses, evaluations."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ValidationError

from charter.attestations import service as attestations
from charter.auth.model import Permission
from charter.catalog import service as catalog
from charter.catalog.questionnaire import questions
from charter.catalog.schemas import ModelVersionRead, SystemRead
from charter.core.errors import Forbidden, InvalidInput, NotFound
from charter.evaluation import service as evaluation
from charter.evaluation.genai import families
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseRead
from charter.policies.catalogs import builtin_catalog
from charter.web import labels, lineage
from charter.web.handler import Ctx
from charter.web.rendering import Page
from charter.web.views import monitoring as monitoring_views

TIERS = ("prohibited", "high", "limited", "minimal")
MONITORED_SHOWN = 2  # newest monitored versions whose charts the system page embeds


def tier_counts(systems: list[SystemRead]) -> dict[str, Any]:
    """Systems per risk tier in severity order, for the overview."""
    counts = Counter(s.risk_tier for s in systems)
    ordered = [(t, counts[t]) for t in TIERS if counts[t]] + [(t, n) for t, n in counts.items() if t not in TIERS]
    return {"counts": ordered, "total": len(systems)}


def list_page(ctx: Ctx) -> Page:
    """GET /systems — every system the actor may read, filterable by tier and team."""
    tier = ctx.q("tier") or None
    team = ctx.q("team") or None
    if tier is not None and tier not in TIERS:
        raise InvalidInput(f"risk tier must be one of {', '.join(TIERS)}, got '{tier[:40]}'", field="tier")
    with ctx.uow() as uow:
        everything = catalog.list_systems(uow, ctx.actor)
        versions = catalog.list_model_versions(uow, ctx.actor)
    shown = [s for s in everything if (tier is None or s.risk_tier == tier) and (team is None or s.team == team)]
    by_system: dict[str, list[LicenseRead]] = {}
    for lic in _licenses(ctx, None) or []:  # the production column reads the licenses' true state, not a flag
        if lic.env == "production":
            by_system.setdefault(lic.system, []).append(lic)
    production = {name: labels.version_standing(rows)[0]["state"] for name, rows in by_system.items()}
    per_system = Counter(v.system for v in versions)
    data = {
        "title": "AI systems",
        "systems": shown,
        "version_counts": per_system,
        "tier": tier or "",
        "team": team or "",
        "tiers": TIERS,
        "teams": sorted({s.team for s in everything if s.team}),
        "total": len(everything),
        "can_register": ctx.can(Permission.CATALOG_WRITE),
        "production": production,
    }
    return Page("systems.html", data)


SECTIONS = {
    "prohibited": "Prohibited practices (Art. 5)",
    "annex_i": "Annex I — product safety",
    "annex_iii": "Annex III — use cases",
    "transparency": "Transparency (Art. 50)",
    "gpai": "General-purpose AI",
    "context": "Deployment context",
    "data": "Data use (GDPR)",
}


def _answers(system: SystemRead) -> list[dict[str, Any]]:
    """The questionnaire as sections of (question, answer), flagging answers that differ from the default."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, name, question, default in questions():
        required = default is ...
        value = system.answers.get(section, {}).get(name, None if required else default)
        shown = "yes" if value is True else "no" if value is False else ("—" if value in (None, []) else value)
        if isinstance(shown, list):
            shown = ", ".join(str(v) for v in shown)
        options = ""
        if " | " in question and "?" not in question:
            options, question = question, name.replace("_", " ").capitalize()
        notable = value is True if required else value != default
        item = {"field": name, "question": question, "options": options, "answer": shown, "notable": notable}
        sections.setdefault(section, []).append(item)
    return [
        {"section": SECTIONS.get(k, k), "items": v, "notable": sum(i["notable"] for i in v)}
        for k, v in sections.items()
    ]


def _obligations(system: SystemRead) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = {}
    for o in system.obligations_explained:
        groups.setdefault(o.framework, []).append(o)
    return [{"framework": _framework_title(k), "items": v} for k, v in groups.items()]


def _framework_title(framework_id: str) -> str:
    try:
        return builtin_catalog().framework(framework_id).title.split(" — ")[0]
    except NotFound:
        return framework_id


def _lineage(ctx: Ctx, versions: list[ModelVersionRead], chosen: str | None) -> dict[str, Any] | None:
    if not versions:
        return None
    pick = next((v for v in versions if v.version == chosen), versions[-1])
    with ctx.uow() as uow:
        graph = catalog.lineage_of(uow, ctx.actor, pick.ref)
    return {
        "version": pick.version,
        "svg": lineage.render(graph.model, graph.digest, graph.datasets),
        "datasets": len(graph.datasets),
        "complete": graph.provenance.complete,
        "issues": graph.provenance.issues,
    }


def _licenses(ctx: Ctx, system: str | None) -> list[LicenseRead] | None:
    if not ctx.can(Permission.LICENSE_READ):
        return None
    with ctx.uow() as uow:
        return licenses.list_licenses(uow, ctx.actor, system=system)


def _evaluations(ctx: Ctx, versions: list[ModelVersionRead]) -> list[dict[str, Any]] | None:
    """The assessments of each model version, newest first (None when the actor may not read evaluations)."""
    out = []
    with ctx.uow() as uow:
        for v in reversed(versions):
            try:
                assessments = evaluation.list_assessments(uow, ctx.actor, v.ref)
            except Forbidden:
                return None
            out.append(
                {"version": v.version, "latest": assessments[0] if assessments else None, "count": len(assessments)}
            )
    return out


def assessment_page(ctx: Ctx) -> Page:
    """GET /assessments/{id} — every rule's verdict with reasons, controls and remediation."""
    with ctx.uow() as uow:
        detail = evaluation.get_assessment(uow, ctx.actor, ctx.param("id"))
    order = {"fail": 0, "pass": 1, "not_applicable": 2}
    results = sorted(detail.results, key=lambda r: (order[r.verdict], r.severity != "blocker", r.policy, r.rule_id))
    raw = detail.evidence.get("genai")
    genai: dict[str, Any] = raw if isinstance(raw, dict) else {}
    shown = genai if genai.get("evaluated") else None
    data = {"title": f"Assessment {detail.id}", "a": detail, "results": results, "genai": shown}
    data["genai_families"] = families(shown) if shown else []
    return Page("assessment.html", data)


def _monitoring(
    ctx: Ctx, versions: list[ModelVersionRead], lics: list[LicenseRead] | None
) -> list[dict[str, Any]] | None:
    """Chart panels of the newest monitored versions (None when the actor may not read monitoring)."""
    names = {lic.id: labels.label(lic) for lic in lics or []}
    out = []
    for v in reversed(versions):
        panels = monitoring_views.panels_for(ctx, v.ref, names)
        if panels is None:
            return None
        if panels:  # drift only; accuracy and fairness are one link away
            drift = [p for p in panels if p["panel"] == "drift"] or panels[:1]
            out.append({"version": v.version, "ref": v.ref, "panels": drift})
        if len(out) >= MONITORED_SHOWN:
            break
    return out


def _controls(uow: Any, ctx: Ctx, name: str) -> list[dict[str, Any]] | None:
    """The EU AI Act controls that are red (missing, expired) or attested, for the system page; None if unknown."""
    try:
        status = attestations.status(uow, ctx.actor, name)
    except (InvalidInput, ValidationError):
        return None
    return [c.model_dump(mode="json") for c in status.controls if c.status in ("missing", "expired", "attested")]


def detail_page(ctx: Ctx) -> Page:
    """GET /systems/{name} — everything known about one AI system."""
    name = ctx.param("name")
    with ctx.uow() as uow:
        system = catalog.show_system(uow, ctx.actor, name)
        versions = catalog.list_model_versions(uow, ctx.actor, name)
        controls = _controls(uow, ctx, name)
    lics = _licenses(ctx, system.name)
    data = {
        "title": system.name,
        "done": "System registered." if ctx.q("done") == "registered" else "",
        "system": system,
        "answers": _answers(system),
        "obligations": _obligations(system),
        "controls": controls,
        "versions": list(reversed(versions)),
        "lineage": _lineage(ctx, versions, ctx.q("version") or None),
        "licenses": lics,
        "version_states": {
            v.version: labels.version_standing(lic for lic in lics or [] if lic.model_version == v.version)
            for v in versions
        },
        "evaluations": _evaluations(ctx, versions),
        "monitoring": _monitoring(ctx, versions, lics),
        "can_request": ctx.can(Permission.LICENSE_REQUEST),
    }
    return Page("system.html", data)
