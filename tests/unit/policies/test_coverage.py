"""Control coverage per framework for a policy set."""

from __future__ import annotations

import pytest

from charter.core.errors import NotFound
from charter.policies.coverage import coverage
from charter.policies.engine import evaluate
from charter.policies.loader import builtin_baselines, load_policy


def test_baselines_cover_and_leave_open_eu_ai_act_controls() -> None:
    report = coverage(builtin_baselines(), "eu-ai-act")
    covered = {c.control.id: c for c in report.covered}
    uncovered = {c.id for c in report.uncovered}
    assert {"EUAIA-ART10", "EUAIA-ART11", "EUAIA-ART12", "EUAIA-ART14", "EUAIA-ART15", "EUAIA-ART5-1A"} <= set(covered)
    assert {"EUAIA-ART4", "EUAIA-ART9", "EUAIA-ART73"} <= uncovered
    assert not set(covered) & uncovered
    assert report.total == 78 == len(covered) + len(uncovered)
    assert "charter-ethical-baseline/ETH-HUMAN-OVERSIGHT" in covered["EUAIA-ART14"].rules
    assert 0 < report.ratio < 1


def test_subcategory_refs_count_for_their_control_and_aliases_work() -> None:
    report = coverage(builtin_baselines(), "nist-ai-rmf")
    assert report.framework.id == "nist-ai-rmf-1.0"
    covered = {c.control.id for c in report.covered}
    assert "NIST-RMF-MEASURE-2" in covered  # via NIST-RMF-MEASURE-2.11
    assert "NIST-RMF-GOVERN-5" not in covered


def test_risk_tier_restricts_to_applicable_controls() -> None:
    report = coverage(builtin_baselines(), "eu-ai-act", risk_tier="minimal")
    ids = {c.control.id for c in report.covered} | {c.id for c in report.uncovered}
    assert "EUAIA-ART14" not in ids
    assert "EUAIA-ART4" in ids


def test_status_from_an_assessment() -> None:
    policy = load_policy(
        """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: cov}
rules:
  - {id: A, title: a, severity: major, check: system.gpai, controls: [GDPR-ART6], remediation: x}
  - {id: B, title: b, severity: major, check: 'true', controls: [GDPR-ART6, GDPR-ART9], remediation: x}
  - {id: C, title: c, severity: major, when: 'false', check: 'true', controls: [GDPR-ART35], remediation: x}
"""
    )
    assessment = evaluate([policy], {})
    report = coverage([policy], "gdpr", assessment=assessment)
    status = {c.control.id: c.status for c in report.covered}
    assert status == {"GDPR-ART6": "fail", "GDPR-ART9": "pass", "GDPR-ART35": "not_applicable"}
    assert report.to_dict()["covered_count"] == 3


def test_unknown_framework() -> None:
    with pytest.raises(NotFound):
        coverage(builtin_baselines(), "sox")
