"""Controls coverage: per framework, which controls the active policy set maps to and which it leaves open."""

from __future__ import annotations

from typing import Any

from charter.policies import service as policies
from charter.policies.catalogs import builtin_catalog
from charter.web.handler import Ctx
from charter.web.rendering import Page


def summary(ctx: Ctx) -> Page:
    """GET /coverage — one row per framework with covered / total (the policies service authorizes)."""
    tier = ctx.q("tier") or None
    with ctx.uow() as uow:
        report = policies.coverage_report(uow, ctx.actor, risk_tier=tier)
    rows = [
        {
            "id": item["framework"],
            "title": item["title"],
            "version": builtin_catalog().framework(item["framework"]).version,
            "covered": item["covered_count"],
            "total": item["total"],
            "pct": round(100 * item["ratio"]),
        }
        for item in report["items"]
    ]
    data = {
        "title": "Controls coverage",
        "frameworks": rows,
        "tier": tier or "",
        "tiers": builtin_catalog().risk_tiers,
        "policies": report["policies"],
    }
    return Page("coverage.html", data)


def framework(ctx: Ctx) -> Page:
    """GET /coverage/{framework} — every control, the rules that cover it, or that none does."""
    tier = ctx.q("tier") or None
    with ctx.uow() as uow:
        report = policies.coverage_report(uow, ctx.actor, framework=ctx.param("framework"), risk_tier=tier)
    catalog = builtin_catalog()
    fw = catalog.framework(report["framework"])
    rules = {c["id"]: c["rules"] for c in report["covered"]}
    controls: list[dict[str, Any]] = [
        {
            "id": c.id,
            "title": c.title,
            "summary": c.summary,
            "tiers": c.applies_to_risk_tiers,
            "rules": rules.get(c.id, ()),
            "effective_from": c.effective_from,
            **c.legal.to_dict(),
        }
        for c in fw.controls
        if tier is None or tier in c.applies_to_risk_tiers
    ]
    show = ctx.q("show")
    if show == "uncovered":
        controls = [c for c in controls if not c["rules"]]
    data = {
        "title": fw.title,
        "fw": fw,
        "controls": controls,
        "covered": report["covered_count"],
        "total": report["total"],
        "pct": round(100 * report["ratio"]),
        "tier": tier or "",
        "show": show,
        "policies": report["policies"],
    }
    return Page("coverage_framework.html", data)
