"""Annex IV points 1 (general description) and 2 (elements and development process)."""

from __future__ import annotations

from collections.abc import Mapping

from charter.reports.annex_ctx import CARD, PERFORMANCE_KEYS, Ctx, card, card_hint
from charter.reports.facts import VersionFacts, flatten
from charter.reports.items import Item, fact, joined, not_applicable, number, when

# ---- point 1 ---------------------------------------------------------------------------------------------------


def general(ctx: Ctx) -> list[Item]:
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
            card(ctx, "software_versions"),
        ],
        "; ",
    )
    annex_i = s.answers.get("annex_i") if isinstance(s.answers.get("annex_i"), dict) else {}
    component = bool(annex_i and annex_i.get("safety_component"))
    items = [
        fact("Intended purpose", s.purpose, "catalog: system purpose"),
        fact("Provider (contact)", card(ctx, "contact"), CARD, card_hint("contact / developed_by")),
        fact("Owner team", s.team, "catalog: system team", f"charter system update {s.name} --team TEAM"),
        fact("Deployer", s.deployer, "catalog: system deployer", f"charter system update {s.name} --deployer ORG"),
        fact("Version described (artifact digest)", described, "catalog: model version", "register a model version"),
        fact("Relation to previous versions", history, "catalog: model versions"),
        fact(
            "Interaction with other hardware, software or AI systems",
            card(ctx, "interactions"),
            CARD,
            card_hint("interactions"),
        ),
        fact("Software and framework versions", software, "catalog: model version; model card"),
        fact("Update requirements", card(ctx, "update_requirements"), CARD, card_hint("update_requirements")),
        fact(
            "Forms in which the system is placed on the market or put into service",
            release,
            "licenses: live licenses",
            f"no active license: charter license request {v.model.ref if v else 'SYSTEM@VERSION'} …",
        ),
        fact("Hardware the system is intended to run on", card(ctx, "hardware"), CARD, card_hint("hardware")),
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
        fact("User interface provided to the deployer", card(ctx, "user_interface"), CARD, card_hint("user_interface")),
        fact(
            "Instructions for use for the deployer",
            card(ctx, "instructions_for_use"),
            CARD,
            card_hint("instructions_for_use"),
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


def _validation(ctx: Ctx) -> list[str]:
    d = ctx.detail
    if d is None:
        return []
    counts = d.counts
    lines = [
        f"Assessment {d.id} of {d.model}, {when(d.created_at)}, recorded by {d.created_by}: {d.verdict} "
        f"({counts.get('pass', 0)} rules passed, {counts.get('fail', 0)} failed, "
        f"{counts.get('not_applicable', 0)} not applicable); evidence {d.evidence_digest}"
    ]
    if d.computed_by is not None:
        who = (
            "self-reported (computed on the client, not checked by the server)"
            if d.self_reported
            else "the server, from the uploaded predictions"
        )
        lines.append(f"Figures computed by: {who}")
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
    lines.extend(_genai(ctx))
    return lines


GENAI_RATES = (
    ("attack_success_rate", "attack success"),
    ("toxicity_rate", "toxicity"),
    ("leakage_rate", "leakage"),
    ("refusal_rate", "refusal of harmful requests"),
)


def _genai(ctx: Ctx) -> list[str]:
    """GenAI red-teaming and behavioural evaluation: pooled rates, task accuracy and each tool's report."""
    genai = ctx.section("genai")
    if not genai.get("evaluated"):
        return []
    rates = [f"{label} {number(genai.get(key))}" for key, label in GENAI_RATES if genai.get(key) is not None]
    lines = ["GenAI evaluation: " + (", ".join(rates) if rates else "no red-teaming rates measured")]
    accuracy = genai.get("task_accuracy")
    if isinstance(accuracy, Mapping) and accuracy:
        lines.append("Task accuracy: " + ", ".join(f"{t} {number(v)}" for t, v in sorted(accuracy.items())))
    for s in genai.get("sources") or []:
        if isinstance(s, Mapping):
            lines.append(
                f"GenAI report: {s.get('tool')} {s.get('version') or ''} on {s.get('model') or 'an unnamed target'}"
                f" — {s.get('file')} {s.get('sha256')}"
            )
    return lines


def _security(ctx: Ctx) -> list[str]:
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
    text = card(ctx, "cybersecurity")
    if text:
        out.append(text)
    return out if (scan.get("performed") or text) else []


def development(ctx: Ctx) -> list[Item]:
    v = ctx.version
    prov = v.lineage.provenance if v is not None else None
    provenance = None
    if prov is not None:
        provenance = "Complete." if prov.complete else ["Incomplete:", *prov.issues]
    return [
        fact(
            "Development methods and steps; third-party pre-trained models or tools",
            joined([card(ctx, "development_process"), card(ctx, "base_model")], "\n"),
            CARD,
            card_hint("development_process / base_model"),
        ),
        fact(
            "Design specifications: general logic, key design choices, optimisation target, trade-offs",
            card(ctx, "design_choices"),
            CARD,
            card_hint("design_choices"),
        ),
        fact(
            "System architecture and computational resources",
            joined([card(ctx, "architecture"), card(ctx, "hardware")], "\n"),
            CARD,
            card_hint("architecture"),
        ),
        fact(
            "Data requirements and datasheets (training, validation and test data)",
            [*_datasheets(v), *([card(ctx, "training_data") or ""])],
            "catalog: lineage and datasets; model card",
            "link datasets: charter lineage link DATASET SYSTEM@VERSION --role training",
        ),
        fact("Data provenance", provenance, "catalog: lineage provenance check", "register a model version"),
        fact(
            "Assessment of the human oversight measures (Art. 14)",
            joined([ctx.system.human_oversight, card(ctx, "human_oversight")], "\n"),
            "catalog: system human_oversight; model card",
            f"charter system update {ctx.system.name} --human-oversight TEXT",
        ),
        fact(
            "Pre-determined changes to the system and its performance",
            card(ctx, "predetermined_changes"),
            CARD,
            card_hint("predetermined_changes"),
        ),
        fact(
            "Validation and testing procedures, data, metrics and dated, signed test logs",
            _validation(ctx),
            "evaluation: latest assessment",
            "charter evaluate SYSTEM@VERSION --predictions FILE …",
        ),
        fact("Cybersecurity measures", _security(ctx), "evaluation: artifact scan; catalog; model card"),
    ]
