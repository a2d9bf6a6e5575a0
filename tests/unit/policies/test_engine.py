"""Evaluation: per-rule verdicts with reasons, deny by default, deterministic order, overall verdict."""

from __future__ import annotations

import pytest

from charter.policies.engine import Verdict, evaluate
from charter.policies.loader import load_policy

POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: engine-test}
rules:
  - id: T-WHEN
    title: Applies to high risk only
    severity: blocker
    when: system.risk_tier == 'high'
    check: system.log_retention_days >= 183
    controls: [EUAIA-ART12]
    remediation: Keep logs.
  - id: T-EVIDENCE
    title: Declared evidence must be present
    severity: major
    check: system.dpia_reference != ''
    evidence: [system.dpia_reference]
    controls: [GDPR-ART35]
    remediation: Do a DPIA.
  - id: T-NOT-BOOL
    title: A non-boolean result fails
    severity: minor
    check: size(model.restricted_purposes)
    controls: [ISO42001-A.9.4]
    remediation: Write a boolean check.
  - id: T-ERROR
    title: An evaluation error fails
    severity: minor
    check: performance.accuracy > 0.5
    controls: [EUAIA-ART15]
    remediation: Evaluate performance.
  - id: T-WHEN-ERROR
    title: An error in when fails too
    severity: minor
    when: performance.accuracy > 0.5
    check: 'true'
    controls: [EUAIA-ART15]
    remediation: Evaluate performance.
  - id: T-LIST
    title: Every dataset has a lawful basis
    severity: major
    check: datasets.all(d, d.lawful_basis != null)
    evidence: ['datasets[].lawful_basis']
    controls: [GDPR-ART6]
    remediation: Record lawful bases.
"""


def _results(evidence: dict[str, object]) -> dict[str, tuple[Verdict, str]]:
    assessment = evaluate([load_policy(POLICY)], evidence)
    return {r.rule_id: (r.verdict, r.reason) for r in assessment.results}


def test_verdicts_and_reasons() -> None:
    results = _results(
        {"system": {"risk_tier": "high", "log_retention_days": 90}, "datasets": [{}, {"lawful_basis": "consent"}]}
    )
    assert results["T-WHEN"] == (Verdict.FAIL, "check is false (system.log_retention_days=90)")
    assert results["T-EVIDENCE"] == (Verdict.FAIL, "missing evidence system.dpia_reference")
    assert results["T-NOT-BOOL"] == (Verdict.FAIL, "check is 0 (not a boolean)")
    verdict, reason = results["T-ERROR"]
    assert verdict is Verdict.FAIL and reason.startswith("error evaluating check: ")
    verdict, reason = results["T-WHEN-ERROR"]
    assert verdict is Verdict.FAIL and reason.startswith("error evaluating when: ")
    assert results["T-LIST"] == (Verdict.FAIL, "missing evidence datasets[0].lawful_basis")


def test_not_applicable_and_pass() -> None:
    results = _results(
        {
            "system": {"risk_tier": "limited", "dpia_reference": "DPIA-1"},
            "model": {"restricted_purposes": []},
            "performance": {"accuracy": 0.9},
            "datasets": [],
        }
    )
    assert results["T-WHEN"] == (Verdict.NOT_APPLICABLE, "when is false: system.risk_tier == 'high'")
    assert results["T-EVIDENCE"] == (Verdict.PASS, "check is true")
    assert results["T-ERROR"][0] is Verdict.PASS
    assert results["T-WHEN-ERROR"][0] is Verdict.PASS
    assert results["T-LIST"][0] is Verdict.PASS


def test_null_when_is_not_applicable() -> None:
    results = _results({})
    assert results["T-WHEN"] == (Verdict.NOT_APPLICABLE, "when is false: system.risk_tier == 'high'")


def test_overall_verdict_fails_only_on_blockers() -> None:
    doc = load_policy(POLICY)
    failing_blocker = evaluate([doc], {"system": {"risk_tier": "high", "log_retention_days": 10}})
    assert failing_blocker.verdict is Verdict.FAIL
    assert [r.rule_id for r in failing_blocker.blockers] == ["T-WHEN"]
    only_others = evaluate([doc], {"system": {"risk_tier": "high", "log_retention_days": 365}})
    assert only_others.verdict is Verdict.PASS
    assert only_others.failed and all(r.severity.value != "blocker" for r in only_others.failed)
    counts = only_others.counts()
    assert counts["fail"] == counts["fail_major"] + counts["fail_minor"]
    assert counts["pass"] + counts["fail"] + counts["not_applicable"] == 6


def test_order_is_deterministic_and_results_carry_policy_identity() -> None:
    a = load_policy(POLICY)
    b = load_policy(POLICY.replace("engine-test", "another").replace("T-", "U-"))
    one = evaluate([a, b], {})
    two = evaluate([b, a], {})
    assert one.to_dict() == two.to_dict()
    assert [r.policy for r in one.results][:1] == ["another"]
    assert one.results[0].policy_digest == b.digest
    assert one.policies == (("another", b.digest), ("engine-test", a.digest))


def test_evidence_digest_covers_the_filled_document() -> None:
    doc = load_policy(POLICY)
    assert evaluate([doc], {}).evidence_digest == evaluate([doc], {"system": {"gpai": False}}).evidence_digest
    assert evaluate([doc], {}).evidence_digest != evaluate([doc], {"system": {"gpai": True}}).evidence_digest


def test_timing_is_recorded_but_not_serialised() -> None:
    assessment = evaluate([load_policy(POLICY)], {})
    assert all(r.duration_ns > 0 for r in assessment.results)
    assert "duration_ns" not in assessment.to_dict()["results"][0]


@pytest.mark.parametrize("value", [float("inf"), 2**60])
def test_non_json_evidence_is_invalid_input(value: float) -> None:
    with pytest.raises(Exception) as err:
        evaluate([load_policy(POLICY)], {"system": {"name": value}})
    assert getattr(err.value, "code", None) == "evidence_invalid"
