"""The system report: Annex IV points 1–9 plus the classification, data provenance, evaluation results, licenses
with their sign-off timeline, and the audit summary; as one document for HTML, PDF and JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from charter import __version__
from charter.catalog.questionnaire import questions
from charter.licenses import conditions as license_conditions
from charter.reports.annex import annex_iv
from charter.reports.facts import LicenseFacts, SystemFacts, VersionFacts, lineage_rows
from charter.reports.items import MISSING, Section

_VERDICT_ORDER = {"fail": 0, "pass": 1, "not_applicable": 2}
_SEVERITY_ORDER = {"blocker": 0, "major": 1, "minor": 2}


@dataclass
class SystemReport:
    """A generated system report: the facts and the Annex IV sections built from them."""

    facts: SystemFacts
    annex: list[Section]

    @property
    def missing(self) -> int:
        return sum(len(s.missing) for s in self.annex)

    @property
    def total(self) -> int:
        return sum(1 for s in self.annex for i in s.items if i.status != "not_applicable")

    @property
    def title(self) -> str:
        return f"EU AI Act Annex IV technical documentation — {self.facts.system.name}"


def build(facts: SystemFacts) -> SystemReport:
    """The report for collected facts."""
    return SystemReport(facts=facts, annex=annex_iv(facts))


# ---- views the template and the JSON form share ------------------------------------------------------------------


def answers(facts: SystemFacts) -> list[dict[str, Any]]:
    """Every questionnaire question with the stored answer (MISSING when the stored answers lack it)."""
    stored = facts.system.answers
    rows = []
    for section, field, question, _ in questions():
        block = stored.get(section)
        value: Any = block.get(field, MISSING) if isinstance(block, Mapping) else MISSING
        rows.append({"section": section, "field": field, "question": question, "answer": value})
    return rows


def datasets(version: VersionFacts) -> list[dict[str, Any]]:
    """The lineage of a version as rows, with what each dataset record says (None: MISSING)."""
    rows = []
    for depth, node in lineage_rows(version.lineage.datasets):
        ds = version.datasets.get(node.ref)
        rows.append(
            {
                "depth": depth,
                "ref": node.ref,
                "role": node.role,
                "digest": node.digest,
                "license": node.license,
                "personal_data": node.personal_data,
                "special_category": node.special_category,
                "lawful_basis": node.lawful_basis if node.personal_data else "not personal data",
                "source": ds.source if ds is not None else None,
                "consent_ref": ds.consent_ref if ds is not None else None,
                "retention_until": ds.retention_until.isoformat() if ds is not None and ds.retention_until else None,
                "rows": ds.row_count if ds is not None else None,
                "readable": ds is not None,
            }
        )
    return rows


def rules(version: VersionFacts) -> list[dict[str, Any]]:
    """Rule verdicts of the latest assessment, failures first."""
    if version.latest is None:
        return []
    ordered = sorted(
        version.latest.results,
        key=lambda r: (_VERDICT_ORDER[r.verdict], _SEVERITY_ORDER[r.severity], r.policy, r.rule_id),
    )
    return [r.model_dump(mode="json", exclude={"location", "policy_digest"}) for r in ordered]


def fairness(version: VersionFacts) -> list[dict[str, Any]]:
    """Per sensitive attribute: the attribute-level figures and one row per group."""
    evidence = version.latest.evidence if version.latest is not None else {}
    doc = evidence.get("fairness")
    out = []
    if isinstance(doc, Mapping):
        for attribute, figures in sorted(doc.items()):
            if not isinstance(figures, Mapping):
                continue
            raw = figures.get("groups")
            groups: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            out.append(
                {
                    "attribute": attribute,
                    "figures": {k: v for k, v in figures.items() if k != "groups"},
                    "groups": [{"group": g, **dict(v)} for g, v in sorted(groups.items()) if isinstance(v, Mapping)],
                }
            )
    return out


def evidence_section(version: VersionFacts, name: str) -> dict[str, Any] | None:
    """One section of the latest assessment's evidence (performance, scan, documentation…), or None."""
    if version.latest is None:
        return None
    value = version.latest.evidence.get(name)
    return dict(value) if isinstance(value, Mapping) else None


def signoff_rows(lf: LicenseFacts) -> list[dict[str, Any]]:
    """Required functions of the current stage and every recorded decision."""
    rows: list[dict[str, Any]] = [s.model_dump() for s in lf.status.signoffs]
    for fn in lf.status.missing_signoffs:
        rows.append(
            {
                "function": fn,
                "decision": None,
                "principal": None,
                "stage": lf.status.stage,
                "comment": None,
                "created_at": None,
            }
        )
    return rows


def conditions(lf: LicenseFacts) -> list[str]:
    return [license_conditions.render(c) for c in lf.license.conditions]


# ---- JSON --------------------------------------------------------------------------------------------------------


def to_json(report: SystemReport) -> dict[str, Any]:
    """The whole report as one JSON document (what the HTML and PDF show, with MISSING as null + status)."""
    f = report.facts
    current = f.current
    return {
        "format": "charter-system-report",
        "version": 1,
        "generator": f"charter {__version__}",
        "generated_at": f.generated_at.isoformat(),
        "generated_by": f.generated_by,
        "system": f.system.model_dump(mode="json"),
        "current_version": current.model.ref if current is not None else None,
        "annex_iv": [s.to_dict() for s in report.annex],
        "missing": report.missing,
        "documented": report.total - report.missing,
        "classification": {"answers": answers(f)},
        "versions": [
            {
                "model": v.model.model_dump(mode="json"),
                "provenance": v.lineage.provenance.model_dump(mode="json"),
                "datasets": datasets(v),
                "latest_assessment": (
                    v.latest.model_dump(mode="json", exclude={"results", "evidence"}) if v.latest else None
                ),
                "evidence": dict(v.latest.evidence) if v.latest else None,
                "rules": rules(v),
                "assessments": [a.model_dump(mode="json") for a in v.assessments],
                "evaluations": [e.model_dump(mode="json") for e in v.evaluations],
            }
            for v in f.versions
        ],
        "licenses": [
            {
                **lf.license.model_dump(mode="json"),
                "conditions_text": conditions(lf),
                "status": lf.status.model_dump(mode="json"),
                "timeline": [e.to_dict() for e in lf.timeline],
            }
            for lf in f.licenses
        ],
        "reaudits": [t.model_dump(mode="json") for t in f.reaudits],
        "monitoring": f.monitoring.to_dict() if f.monitoring is not None else None,
        "audit": {
            "entries": [e.to_dict() for e in f.audit.entries],
            "limit": f.audit.limit,
            "checkpoint": _checkpoint_json(f.audit.checkpoint),
        },
    }


def _checkpoint_json(cp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if cp is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in cp.items()}
