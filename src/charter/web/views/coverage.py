"""Controls coverage: per framework, which controls the policy set maps to and which it leaves open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from charter.auth.authorize import authorize
from charter.auth.model import Permission, Resource
from charter.core.errors import InvalidInput
from charter.policies.catalogs import builtin_catalog
from charter.policies.coverage import coverage
from charter.policies.document import PolicyDocument
from charter.policies.loader import builtin_baselines
from charter.web import domains
from charter.web.handler import Ctx
from charter.web.rendering import Page

POLICIES = Resource(kind="policies")


def policy_set(ctx: Ctx) -> tuple[Sequence[PolicyDocument], str]:
    """The active policies from the policies service, or the shipped baselines while it is not in this build."""
    fn = domains.function("policies", "active_policies", "Stored policies")
    if isinstance(fn, domains.Missing):
        return builtin_baselines(), "the built-in baselines (ethical, security, regulatory)"
    with ctx.uow() as uow:
        docs: Sequence[PolicyDocument] = fn(uow, ctx.actor)
    return docs, "the active policy set"


def _tier(ctx: Ctx) -> str | None:
    tier = ctx.q("tier") or None
    tiers = builtin_catalog().risk_tiers
    if tier is not None and tier not in tiers:
        raise InvalidInput(f"risk tier must be one of {', '.join(tiers)}, got '{tier[:40]}'", field="tier")
    return tier


def summary(ctx: Ctx) -> Page:
    """GET /coverage — one row per framework with covered / total."""
    authorize(ctx.actor, Permission.POLICY_READ, POLICIES)
    tier = _tier(ctx)
    policies, source = policy_set(ctx)
    catalog = builtin_catalog()
    rows: list[dict[str, Any]] = []
    for fw in catalog.frameworks:
        report = coverage(policies, fw.id, catalog=catalog, risk_tier=tier)
        rows.append(
            {
                "id": fw.id,
                "title": fw.title,
                "version": fw.version,
                "covered": len(report.covered),
                "total": report.total,
                "pct": round(100 * report.ratio),
            }
        )
    data = {
        "title": "Controls coverage",
        "frameworks": rows,
        "tier": tier or "",
        "tiers": catalog.risk_tiers,
        "source": source,
        "policy_count": len(policies),
        "rule_count": sum(len(p.rules) for p in policies),
    }
    return Page("coverage.html", data)


def framework(ctx: Ctx) -> Page:
    """GET /coverage/{framework} — every control, the rules that cover it, or that none does."""
    authorize(ctx.actor, Permission.POLICY_READ, POLICIES)
    tier = _tier(ctx)
    policies, source = policy_set(ctx)
    catalog = builtin_catalog()
    report = coverage(policies, ctx.param("framework"), catalog=catalog, risk_tier=tier)
    rules = {c.control.id: c.rules for c in report.covered}
    controls = [
        {
            "id": c.id,
            "ref": c.ref,
            "title": c.title,
            "summary": c.summary,
            "tiers": c.applies_to_risk_tiers,
            "rules": rules.get(c.id, ()),
            "effective_from": c.effective_from,
        }
        for c in report.framework.controls
        if tier is None or tier in c.applies_to_risk_tiers
    ]
    data = {
        "title": report.framework.title,
        "fw": report.framework,
        "controls": controls,
        "covered": len(report.covered),
        "total": report.total,
        "pct": round(100 * report.ratio),
        "tier": tier or "",
        "tiers": catalog.risk_tiers,
        "source": source,
        "show": ctx.q("show") or "all",
    }
    return Page("coverage_framework.html", data)
