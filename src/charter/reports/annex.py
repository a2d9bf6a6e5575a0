"""EU AI Act Annex IV technical documentation, points 1–9, from the facts Charter holds about a system.

Each point lists the elements Annex IV asks for; an element is filled from the catalog (system, model version and
card, datasets, lineage), the latest assessment, the licenses, monitoring and the audit log, or marked MISSING.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from charter.licenses import conditions as license_conditions
from charter.reports.card import card_value
from charter.reports.facts import LicenseFacts, SystemFacts, VersionFacts, flatten
from charter.reports.items import Item, Section, fact, joined, not_applicable, number, when

CARD = "model card"
PERFORMANCE_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "calibration_error")
CARD_HINT = "add `{field}` to the model card (charter model register … --card README.md)"


def _card_hint(field: str) -> str:
    return CARD_HINT.format(field=field)


class _Ctx:
    """Shortcuts over the facts for the version the dossier describes."""

    def __init__(self, facts: SystemFacts) -> None:
        self.facts = facts
        self.system = facts.system
        self.version: VersionFacts | None = facts.current
        self.card: Mapping[str, Any] = self.version.model.card if self.version is not None else {}
        detail = self.version.latest if self.version is not None else None
        self.detail = detail
        self.evidence: Mapping[str, Any] = detail.evidence if detail is not None else {}
        self.live: list[LicenseFacts] = [lf for lf in facts.licenses if lf.live]

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.evidence.get(name)
        return value if isinstance(value, Mapping) else {}


def _c(ctx: _Ctx, field: str) -> str | None:
    return card_value(ctx.card, field)


def annex_iv(facts: SystemFacts) -> list[Section]:
    """The nine Annex IV points for the system's current version."""
    ctx = _Ctx(facts)
    builders = (
        ("General description of the AI system", _general),
        ("Detailed description of the elements and of the development process", _development),
        ("Monitoring, functioning and control", _functioning),
        ("Appropriateness of the performance metrics", _metrics),
        ("Risk management system (Art. 9)", _risk),
        ("Relevant changes made through the lifecycle", _changes),
        ("Harmonised standards and other specifications applied", _standards),
        ("EU declaration of conformity (Art. 47)", _declaration),
        ("Post-market monitoring system and plan (Art. 72)", _post_market),
    )
    return [
        Section(f"annex-iv-{n}", str(n), title, f"Annex IV point {n} · EUAIA-ANNEXIV-{n}", build(ctx))
        for n, (title, build) in enumerate(builders, start=1)
    ]


# ---- point 1 ---------------------------------------------------------------------------------------------------


def _general(ctx: _Ctx) -> list[Item]:
    s, v = ctx.system, ctx.version
    described = f"{v.model.ref} — {v.model.digest}" if v is not None else None
    others = [o for o in ctx.facts.versions if v is None or o.model.id != v.model.id]
    if v is None:
        history: list[str] | str | None = None
    elif others:
        history = [f"{o.model.version} ({o.model.digest}), registered {when(o.model.created_at)}" for o in others]
    else:
        history = "The first registered version of this system."
    release = [
        f"Served through the Charter gateway under license {lf.license.id} ({lf.license.state}): "
        f"environment {lf.license.env}; purposes {', '.join(lf.license.purposes)}; "
        f"calling apps {', '.join(lf.license.callers)}"
        + (f"; tools {', '.join(lf.license.tools)}" if lf.license.tools else "")
        + (f"; regions {', '.join(lf.license.regions)}" if lf.license.regions else "")
        for lf in ctx.live
    ]
    software = joined(
        [
            f"framework {v.model.framework}" if v is not None and v.model.framework else None,
            f"artifact format {v.model.format}" if v is not None and v.model.format else None,
            _c(ctx, "software_versions"),
        ],
        "; ",
    )
    annex_i = s.answers.get("annex_i") if isinstance(s.answers.get("annex_i"), dict) else {}
    component = bool(annex_i and annex_i.get("safety_component"))
    items = [
        fact("Intended purpose", s.purpose, "catalog: system purpose"),
        fact("Provider (contact)", _c(ctx, "contact"), CARD, _card_hint("contact / developed_by")),
        fact("Owner team", s.team, "catalog: system team", f"charter system update {s.name} --team TEAM"),
        fact("Deployer", s.deployer, "catalog: system deployer", f"charter system update {s.name} --deployer ORG"),
        fact("Version described (artifact digest)", described, "catalog: model version", "register a model version"),
        fact("Relation to previous versions", history, "catalog: model versions"),
        fact(
            "Interaction with other hardware, software or AI systems",
            _c(ctx, "interactions"),
            CARD,
            _card_hint("interactions"),
        ),
        fact("Software and framework versions", software, "catalog: model version; model card"),
        fact("Update requirements", _c(ctx, "update_requirements"), CARD, _card_hint("update_requirements")),
        fact(
            "Forms in which the system is placed on the market or put into service",
            release,
            "licenses: live licenses",
            f"no active license: charter license request {v.model.ref if v else 'SYSTEM@VERSION'} …",
        ),
        fact("Hardware the system is intended to run on", _c(ctx, "hardware"), CARD, _card_hint("hardware")),
    ]
    if component:
        items.append(
            fact(
                "Photographs or illustrations of the product (AI as a product component)",
                None,
                "not held by Charter",
                "attach them to the technical file outside Charter",
            )
        )
    else:
        items.append(
            not_applicable(
                "Photographs or illustrations of the product",
                "Not a product or safety component of a product (questionnaire: Annex I route not answered yes).",
                "catalog: questionnaire",
            )
        )
    items += [
        fact("User interface provided to the deployer", _c(ctx, "user_interface"), CARD, _card_hint("user_interface")),
        fact(
            "Instructions for use for the deployer",
            _c(ctx, "instructions_for_use"),
            CARD,
            _card_hint("instructions_for_use"),
        ),
    ]
    return items


# ---- point 2 ---------------------------------------------------------------------------------------------------


def _datasheets(v: VersionFacts | None) -> list[str]:
    if v is None:
        return []
    out = []
    for node in flatten(v.lineage.datasets):
        ds = v.datasets.get(node.ref)
        extra = []
        if ds is not None and ds.row_count is not None:
            extra.append(f"{ds.row_count} rows")
        if ds is not None and ds.source:
            extra.append(f"source: {ds.source}")
        extra.append(f"license: {node.license or 'MISSING'}")
        if node.personal_data:
            extra.append(f"lawful basis: {node.lawful_basis or 'MISSING'}")
        out.append(f"{node.ref} ({node.role}) — {', '.join(extra)}")
    return out


def _validation(ctx: _Ctx) -> list[str]:
    d = ctx.detail
    if d is None:
        return []
    counts = d.counts
    lines = [
        f"Assessment {d.id} of {d.model}, {when(d.created_at)}, recorded by {d.created_by}: {d.verdict} "
        f"({counts.get('pass', 0)} rules passed, {counts.get('fail', 0)} failed, "
        f"{counts.get('not_applicable', 0)} not applicable); evidence {d.evidence_digest}"
    ]
    for kind, f in sorted(d.inputs.items()):
        if isinstance(f, Mapping):
            rows = f" ({f.get('rows')} rows)" if f.get("rows") is not None else ""
            digest = str(f.get("sha256") or "")
            digest = digest if digest.startswith("sha256:") else f"sha256:{digest}"
            lines.append(f"Input {kind}: {f.get('name')} {digest}{rows}")
    perf = ctx.section("performance")
    shown = [f"{k} {number(perf.get(k))}" for k in PERFORMANCE_KEYS if perf.get(k) is not None]
    if shown:
        lines.append("Metrics: " + ", ".join(shown) + (f" on {perf.get('n')} rows" if perf.get("n") else ""))
    return lines


def _security(ctx: _Ctx) -> list[str]:
    scan = ctx.section("scan")
    out = []
    if scan.get("performed"):
        findings = scan.get("findings") or []
        formats = ", ".join(scan.get("formats") or []) or "—"
        verdict = "clean" if scan.get("safe") else "UNSAFE"
        out.append(f"Artifact scan: {verdict}; formats {formats}; {len(findings)} finding(s)")
    if ctx.system.access_restricted:
        out.append("Access to the artifact and endpoint restricted to named principals.")
    if ctx.version is not None:
        out.append(f"Artifact pinned by digest {ctx.version.model.digest}.")
    text = _c(ctx, "cybersecurity")
    if text:
        out.append(text)
    return out if (scan.get("performed") or text) else []


def _development(ctx: _Ctx) -> list[Item]:
    v = ctx.version
    prov = v.lineage.provenance if v is not None else None
    provenance = None
    if prov is not None:
        provenance = "Complete." if prov.complete else ["Incomplete:", *prov.issues]
    return [
        fact(
            "Development methods and steps; third-party pre-trained models or tools",
            joined([_c(ctx, "development_process"), _c(ctx, "base_model")], "\n"),
            CARD,
            _card_hint("development_process / base_model"),
        ),
        fact(
            "Design specifications: general logic, key design choices, optimisation target, trade-offs",
            _c(ctx, "design_choices"),
            CARD,
            _card_hint("design_choices"),
        ),
        fact(
            "System architecture and computational resources",
            joined([_c(ctx, "architecture"), _c(ctx, "hardware")], "\n"),
            CARD,
            _card_hint("architecture"),
        ),
        fact(
            "Data requirements and datasheets (training, validation and test data)",
            [*_datasheets(v), *([_c(ctx, "training_data") or ""])],
            "catalog: lineage and datasets; model card",
            "link datasets: charter lineage link DATASET SYSTEM@VERSION --role training",
        ),
        fact("Data provenance", provenance, "catalog: lineage provenance check", "register a model version"),
        fact(
            "Assessment of the human oversight measures (Art. 14)",
            joined([ctx.system.human_oversight, _c(ctx, "human_oversight")], "\n"),
            "catalog: system human_oversight; model card",
            f"charter system update {ctx.system.name} --human-oversight TEXT",
        ),
        fact(
            "Pre-determined changes to the system and its performance",
            _c(ctx, "predetermined_changes"),
            CARD,
            _card_hint("predetermined_changes"),
        ),
        fact(
            "Validation and testing procedures, data, metrics and dated, signed test logs",
            _validation(ctx),
            "evaluation: latest assessment",
            "charter evaluate SYSTEM@VERSION --predictions FILE …",
        ),
        fact("Cybersecurity measures", _security(ctx), "evaluation: artifact scan; catalog; model card"),
    ]


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


def _functioning(ctx: _Ctx) -> list[Item]:
    perf = ctx.section("performance")
    overall = None
    if perf.get("accuracy") is not None:
        overall = f"Accuracy {number(perf.get('accuracy'))}" + (
            f", ROC AUC {number(perf.get('roc_auc'))}" if perf.get("roc_auc") is not None else ""
        )
    return [
        fact("Capabilities and limitations in performance", _c(ctx, "limitations"), CARD, _card_hint("limitations")),
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
            _c(ctx, "out_of_scope_uses"),
            CARD,
            _card_hint("out_of_scope_uses"),
        ),
        fact(
            "Sources of risk to health, safety, fundamental rights and of discrimination",
            _c(ctx, "risk_management"),
            CARD,
            _card_hint("risk_management"),
        ),
        fact(
            "Human oversight measures, including technical measures to interpret outputs",
            ctx.system.human_oversight,
            "catalog: system human_oversight",
            f"charter system update {ctx.system.name} --human-oversight TEXT",
        ),
        fact("Specifications of the input data", _c(ctx, "input_data"), CARD, _card_hint("input_data")),
    ]


# ---- point 4 ---------------------------------------------------------------------------------------------------


def _metrics(ctx: _Ctx) -> list[Item]:
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
            _c(ctx, "metrics_rationale") or _c(ctx, "metrics"),
            CARD,
            _card_hint("metrics_rationale"),
        ),
    ]


# ---- point 5 ---------------------------------------------------------------------------------------------------


def _risk(ctx: _Ctx) -> list[Item]:
    d = ctx.detail
    policies = [f"{p.get('name')} ({p.get('digest')})" for p in d.policies] if d is not None else []
    blockers = None
    if d is not None:
        blockers = ", ".join(d.blockers) if d.blockers else "None: no blocker rule failed."
    tasks = [f"{t.kind} re-audit due {when(t.due_at)}: {t.reason}" for t in ctx.facts.reaudits]
    return [
        fact(
            "Risk management system (Art. 9): process, risk register, measures",
            _c(ctx, "risk_management"),
            CARD,
            _card_hint("risk_management"),
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


def _changes(ctx: _Ctx) -> list[Item]:
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
        fact("Change log kept by the provider", _c(ctx, "changelog"), CARD, _card_hint("changelog")),
    ]


# ---- points 7-9 ------------------------------------------------------------------------------------------------


def _standards(ctx: _Ctx) -> list[Item]:
    d = ctx.detail
    controls = sorted({c for r in d.results for c in r.controls}) if d is not None else []
    return [
        fact(
            "Harmonised standards applied (with Official Journal references)",
            _c(ctx, "standards"),
            CARD,
            _card_hint("harmonised_standards"),
        ),
        fact(
            "Controls checked automatically by the applied policies",
            ", ".join(controls) if controls else None,
            "evaluation: rule control ids",
            "charter evaluate …",
        ),
    ]


def _declaration(ctx: _Ctx) -> list[Item]:
    label = "EU declaration of conformity (copy or reference)"
    if ctx.system.risk_tier != "high":
        return [
            not_applicable(
                label,
                f"Required for high-risk systems; this system is classified {ctx.system.risk_tier}.",
                "catalog: classification",
            )
        ]
    return [fact(label, _c(ctx, "declaration_of_conformity"), CARD, _card_hint("declaration_of_conformity"))]


def _post_market(ctx: _Ctx) -> list[Item]:
    conds = [f"{lf.license.id}: {license_conditions.render(c)}" for lf in ctx.live for c in lf.license.conditions]
    m = ctx.facts.monitoring
    windows = None
    profiles = None
    if m is not None:
        windows = [
            f"{w.model} {when(w.start)} – {when(w.end)}: {w.rows if w.rows is not None else '?'} rows"
            + (f"; breached: {', '.join(w.breaches)}" if w.breaches else "")
            for w in m.windows
        ]
        profiles = list(m.profiles)
    tasks = [f"{t.kind} re-audit due {when(t.due_at)}" for t in ctx.facts.reaudits]
    return [
        fact(
            "Post-market monitoring plan",
            _c(ctx, "post_market_monitoring"),
            CARD,
            _card_hint("post_market_monitoring"),
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
