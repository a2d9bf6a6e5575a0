"""Control coverage: which controls of a framework the active policies map to, and which they leave open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from charter.policies.catalogs import Control, ControlCatalog, Framework, builtin_catalog
from charter.policies.document import PolicyDocument
from charter.policies.engine import Assessment, Verdict


@dataclass(frozen=True, slots=True)
class ControlStatus:
    """A covered control, the rules mapped to it and (given an assessment) how they fared."""

    control: Control
    rules: tuple[str, ...]  # "policy-name/RULE-ID"
    status: str | None = None  # pass | fail | not_applicable | not_assessed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        out: dict[str, Any] = {
            "id": self.control.id,
            "title": self.control.title,
            "rules": list(self.rules),
            **self.control.legal.to_dict(),
        }
        if self.status is not None:
            out["status"] = self.status
        return out


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Coverage of one framework by a policy set (optionally restricted to one risk tier)."""

    framework: Framework
    risk_tier: str | None
    covered: tuple[ControlStatus, ...]
    uncovered: tuple[Control, ...]

    @property
    def total(self) -> int:
        """Number of controls considered."""
        return len(self.covered) + len(self.uncovered)

    @property
    def ratio(self) -> float:
        """Covered / total (0 when no control applies)."""
        return len(self.covered) / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "framework": self.framework.id,
            "title": self.framework.title,
            "risk_tier": self.risk_tier,
            "total": self.total,
            "covered_count": len(self.covered),
            "ratio": round(self.ratio, 4),
            "covered": [c.to_dict() for c in self.covered],
            "uncovered": [{"id": c.id, "title": c.title, **c.legal.to_dict()} for c in self.uncovered],
        }


def coverage(
    policies: Sequence[PolicyDocument],
    framework: str,
    *,
    catalog: ControlCatalog | None = None,
    risk_tier: str | None = None,
    assessment: Assessment | None = None,
) -> CoverageReport:
    """Controls of `framework` covered by at least one rule (subcategory refs count for their control)."""
    cat = catalog or builtin_catalog()
    fw = cat.framework(framework)
    mapped: dict[str, list[tuple[str, str]]] = {}
    for policy in sorted(policies, key=lambda p: p.name):
        for rule in policy.rules:
            for ref in rule.controls:
                control = cat.find(ref)
                if control is not None and control.framework == fw.id:
                    pair = (policy.name, rule.id)
                    if pair not in mapped.setdefault(control.id, []):
                        mapped[control.id].append(pair)
    verdicts: dict[tuple[str, str], Verdict] = {}
    if assessment is not None:
        verdicts = {(r.policy, r.rule_id): r.verdict for r in assessment.results}
    covered: list[ControlStatus] = []
    uncovered: list[Control] = []
    for control in fw.controls:
        if risk_tier is not None and risk_tier not in control.applies_to_risk_tiers:
            continue
        pairs = mapped.get(control.id)
        if not pairs:
            uncovered.append(control)
            continue
        status = _status([verdicts.get(p) for p in pairs]) if assessment is not None else None
        covered.append(ControlStatus(control, tuple(f"{p}/{r}" for p, r in pairs), status))
    return CoverageReport(fw, risk_tier, tuple(covered), tuple(uncovered))


def _status(verdicts: list[Verdict | None]) -> str:
    if Verdict.FAIL in verdicts:
        return "fail"
    if Verdict.PASS in verdicts:
        return "pass"
    if Verdict.NOT_APPLICABLE in verdicts:
        return "not_applicable"
    return "not_assessed"
