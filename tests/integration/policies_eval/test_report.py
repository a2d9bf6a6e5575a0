"""Report helpers without a database: the evidence values a rule read, the round trip to the engine's formats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from charter.cli.commands import evaluation as cli_evaluation
from charter.evaluation.report import MAX_TEXT, evidence_values, render_html, rule_paths, to_assessment
from charter.evaluation.resampling import DEFAULT_RESAMPLES
from charter.evaluation.schemas import AssessmentDetail
from charter.policies import builtin_baselines, evaluate, fill_defaults, load_policy, render

EVIDENCE: dict[str, Any] = {
    "system": {"risk_tier": "high", "personal_data": True, "human_oversight": "x" * 500},
    "datasets": [
        {"name": "a", "personal_data": True, "lawful_basis": "contract"},
        {"name": "b", "personal_data": True},
    ],
    "fairness": {"sex": {"dp_diff": 0.2}, "age": {"dp_diff": 0.05}},
    "fairness_summary": {"evaluated": True, "attributes": ["sex", "age"], "dp_diff_max": 0.2},
}
POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata: {name: wild}
rules:
  - id: W-1
    title: every attribute within 0.1
    severity: blocker
    check: fairness.all(a, fairness[a].dp_diff <= 0.1)
    evidence: [fairness.*.dp_diff]
    controls: [EUAIA-ART10]
    remediation: fix it
"""


def test_paths_and_values_expand_wildcards_and_lists() -> None:
    lawful = next(r for p in builtin_baselines() for r in p.rules if r.id == "REG-LAWFUL-BASIS")
    paths = rule_paths(lawful)
    assert "datasets" not in paths and "datasets[].lawful_basis" in paths and "system.personal_data" in paths
    values = evidence_values(fill_defaults(EVIDENCE), paths)
    assert values["datasets[0].lawful_basis"] == "contract" and values["datasets[1].lawful_basis"] is None
    assert values["system.personal_data"] is True
    wild = load_policy(POLICY).rules[0]
    assert evidence_values(fill_defaults(EVIDENCE), rule_paths(wild)) == {
        "fairness.age.dp_diff": 0.05,
        "fairness.sex.dp_diff": 0.2,
    }
    oversight = evidence_values(fill_defaults(EVIDENCE), ["system.human_oversight"])["system.human_oversight"]
    assert len(oversight) == MAX_TEXT + 1 and oversight.endswith("…")


def _detail(evidence: dict[str, Any]) -> AssessmentDetail:
    policies = [*builtin_baselines(), load_policy(POLICY, source="wild.yaml")]
    a = evaluate(policies, evidence)
    results = []
    for r in a.results:
        doc = r.to_dict()
        loc = r.location
        doc["location"] = {"file": loc.file, "line": loc.line, "column": loc.column} if loc else None
        results.append(doc)
    return AssessmentDetail(
        id="asm_x",
        digest="sha256:" + "a" * 64,
        verdict=a.verdict.value,
        blockers=[r.rule_id for r in a.blockers],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        policy_digests=[d for _, d in a.policies],
        system="s",
        model="s@1",
        policy_set_digest=a.policy_set_digest,
        evidence_digest=a.evidence_digest,
        policies=[{"name": n, "digest": d} for n, d in a.policies],
        results=results,
        evidence=evidence,
    )


def test_stored_form_renders_like_the_engine() -> None:
    detail = _detail(EVIDENCE)
    original = evaluate([*builtin_baselines(), load_policy(POLICY, source="wild.yaml")], EVIDENCE)
    rebuilt = to_assessment(detail)
    for fmt in ("json", "junit", "sarif", "markdown"):
        assert render(rebuilt, fmt) == render(original, fmt), fmt
    html = render_html(detail)
    assert 'id="fail-W-1"' in html and 'id="rule-W-1"' in html
    assert html.count('class="verdict v-fail"') == len(original.failed) + 1  # and the header badge


def test_cli_default_resamples_matches_the_engine() -> None:
    assert cli_evaluation.DEFAULT_RESAMPLES == DEFAULT_RESAMPLES
