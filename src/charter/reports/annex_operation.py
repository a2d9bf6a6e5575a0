"""Annex IV points 3 to 9: functioning and control, metrics, risk management, lifecycle changes, standards,
declaration of conformity, post-market monitoring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from charter.licenses import conditions as license_conditions
from charter.reports.annex_ctx import CARD, PERFORMANCE_KEYS, Ctx, card, card_hint
from charter.reports.items import Item, fact, not_applicable, number, when

# ---- point 3 ---------------------------------------------------------------------------------------------------


def group_accuracy(evidence: Mapping[str, Any]) -> list[str]:
    """'attribute=group: accuracy (n rows)' for every group in the fairness evidence."""
    fairness = evidence.get("fairness")
    out: list[str] = []
    if not isinstance(fairness, Mapping):
        return out
    for attribute, doc in sorted(fairness.items()):
        groups = doc.get("groups") if isinstance(doc, Mapping) else None
        if not isinstance(groups, Mapping):
            continue
        for group, g in sorted(groups.items()):
            if isinstance(g, Mapping):
                flag = " (too few rows for a verdict)" if g.get("insufficient_data") else ""
                out.append(f"{attribute}={group}: accuracy {number(g.get('accuracy'))} on {g.get('n')} rows{flag}")
    return out


def functioning(ctx: Ctx) -> list[Item]:
    perf = ctx.section("performance")
    overall = None
    if perf.get("accuracy") is not None:
        overall = f"Accuracy {number(perf.get('accuracy'))}" + (
            f", ROC AUC {number(perf.get('roc_auc'))}" if perf.get("roc_auc") is not None else ""
        )
    return [
        fact("Capabilities and limitations in performance", card(ctx, "limitations"), CARD, card_hint("limitations")),
        fact(
            "Expected level of accuracy, overall",
            overall,
            "evaluation: performance evidence",
            "charter evaluate … --label COL --prediction COL",
        ),
        fact(
            "Degrees of accuracy for specific persons or groups",
            group_accuracy(ctx.evidence),
            "evaluation: fairness evidence",
            "charter evaluate … --sensitive COL,…",
        ),
        fact(
            "Foreseeable unintended outcomes and out-of-scope uses",
            card(ctx, "out_of_scope_uses"),
            CARD,
            card_hint("out_of_scope_uses"),
        ),
        fact(
            "Sources of risk to health, safety, fundamental rights and of discrimination",
            card(ctx, "risk_management"),
            CARD,
            card_hint("risk_management"),
        ),
        fact(
            "Human oversight measures, including technical measures to interpret outputs",
            ctx.system.human_oversight,
            "catalog: system human_oversight",
            f"charter system update {ctx.system.name} --human-oversight TEXT",
        ),
        fact("Specifications of the input data", card(ctx, "input_data"), CARD, card_hint("input_data")),
    ]


# ---- point 4 ---------------------------------------------------------------------------------------------------


def metrics(ctx: Ctx) -> list[Item]:
    perf = ctx.section("performance")
    measured = [f"{k}: {number(perf.get(k))}" for k in PERFORMANCE_KEYS if perf.get(k) is not None]
    summary = ctx.section("fairness_summary")
    if summary.get("evaluated"):
        measured += [
            f"demographic parity difference (max): {number(summary.get('dp_diff_max'))}",
            f"equalized odds difference (max): {number(summary.get('eo_diff_max'))}",
            f"disparate impact (min): {number(summary.get('disparate_impact_min'))}",
        ]
    return [
        fact("Performance metrics measured", measured, "evaluation: latest assessment evidence", "charter evaluate …"),
        fact(
            "Why these metrics are appropriate for this system",
            card(ctx, "metrics_rationale") or card(ctx, "metrics"),
            CARD,
            card_hint("metrics_rationale"),
        ),
    ]


# ---- point 5 ---------------------------------------------------------------------------------------------------


def risk(ctx: Ctx) -> list[Item]:
    d = ctx.detail
    policies = [f"{p.get('name')} ({p.get('digest')})" for p in d.policies] if d is not None else []
    blockers = None
    if d is not None:
        blockers = ", ".join(d.blockers) if d.blockers else "None: no blocker rule failed."
    tasks = [f"{t.kind} re-audit due {when(t.due_at)}: {t.reason}" for t in ctx.facts.reaudits]
    return [
        fact(
            "Risk management system (Art. 9): process, risk register, measures",
            card(ctx, "risk_management"),
            CARD,
            card_hint("risk_management"),
        ),
        fact(
            "Obligations from the risk classification",
            [f"{o.id} — {o.title}" for o in ctx.system.obligations_explained] or ctx.system.obligations,
            "catalog: classification",
            f"charter system classify {ctx.system.name}",
        ),
        fact("Policies the current version was assessed against", policies, "evaluation: latest assessment"),
        fact("Failed blocker rules", blockers, "evaluation: latest assessment", "charter evaluate …"),
        fact(
            "Scheduled re-audits",
            tasks or ("None open." if not ctx.live else None),
            "licenses: re-audit tasks",
            "a live license schedules its periodic re-audit on activation",
        ),
    ]


# ---- point 6 ---------------------------------------------------------------------------------------------------


def changes(ctx: Ctx) -> list[Item]:
    versions = [
        f"{v.model.version} ({v.model.digest}) registered {when(v.model.created_at)} by {v.model.created_by}"
        + ("; locked (licensed)" if v.model.locked else "")
        for v in ctx.facts.versions
    ]
    changes = [
        f"{e.ts} seq {e.seq}: {e.action} by {e.actor}"
        + (f" — tier {e.details['risk_tier']}" if isinstance(e.details.get("risk_tier"), list) else "")
        for e in reversed(ctx.facts.audit.entries)
        if e.action in ("system.classify", "system.update", "model.update")
    ]
    lic = [
        f"{lf.license.id}: {lf.license.model} in {lf.license.env}, {lf.license.state} "
        f"(requested {when(lf.license.created_at)})"
        for lf in ctx.facts.licenses
    ]
    return [
        fact("Model versions", versions, "catalog: model versions", "register a model version"),
        fact(
            "Changes to the system record and classification",
            changes or "No change since registration.",
            "audit log",
        ),
        fact("License history", lic or "No license requested yet.", "licenses"),
        fact("Change log kept by the provider", card(ctx, "changelog"), CARD, card_hint("changelog")),
    ]


# ---- points 7-9 ------------------------------------------------------------------------------------------------


def standards(ctx: Ctx) -> list[Item]:
    d = ctx.detail
    controls = sorted({c for r in d.results for c in r.controls}) if d is not None else []
    return [
        fact(
            "Harmonised standards applied (with Official Journal references)",
            card(ctx, "standards"),
            CARD,
            card_hint("harmonised_standards"),
        ),
        fact(
            "Controls checked automatically by the applied policies",
            ", ".join(controls) if controls else None,
            "evaluation: rule control ids",
            "charter evaluate …",
        ),
    ]


def declaration(ctx: Ctx) -> list[Item]:
    label = "EU declaration of conformity (copy or reference)"
    if ctx.system.risk_tier != "high":
        return [
            not_applicable(
                label,
                f"Required for high-risk systems; this system is classified {ctx.system.risk_tier}.",
                "catalog: classification",
            )
        ]
    return [fact(label, card(ctx, "declaration_of_conformity"), CARD, card_hint("declaration_of_conformity"))]


def post_market(ctx: Ctx) -> list[Item]:
    conds = [f"{lf.license.id}: {license_conditions.render(c)}" for lf in ctx.live for c in lf.license.conditions]
    m = ctx.facts.monitoring
    windows = None
    profiles = None
    if m is not None:
        windows = [
            f"{w.model} {when(w.start)} – {when(w.end)}: {w.rows if w.rows is not None else '?'} rows"
            + (f", {w.metrics['gateway.calls']:.0f} gateway calls" if w.metrics.get("gateway.calls") else "")
            + (f"; breached: {', '.join(w.breaches)}" if w.breaches else "")
            for w in m.windows
        ]
        profiles = list(m.profiles)
    tasks = [f"{t.kind} re-audit due {when(t.due_at)}" for t in ctx.facts.reaudits]
    return [
        fact(
            "Post-market monitoring plan",
            card(ctx, "post_market_monitoring"),
            CARD,
            card_hint("post_market_monitoring"),
        ),
        fact(
            "Conditions enforced on live licenses",
            conds,
            "licenses: conditions",
            "charter license request … --condition 'METRIC OP VALUE => suspend'",
        ),
        fact(
            "Reference profiles for drift monitoring",
            profiles,
            "monitoring",
            "charter monitor reference SYSTEM@VERSION FILE",
        ),
        fact(
            "Monitoring windows of production data",
            windows,
            "monitoring",
            "charter monitor ingest SYSTEM@VERSION FILE --window START/END",
        ),
        fact("Periodic re-audit", tasks, "licenses: re-audit tasks", "activate a license to schedule re-audits"),
    ]
