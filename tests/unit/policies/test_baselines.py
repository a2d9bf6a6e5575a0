"""Built-in baselines: they load, map to real controls, and their shipped fixtures pass and cover every rule."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from charter.policies.catalogs import builtin_catalog
from charter.policies.engine import Verdict, evaluate
from charter.policies.fixtures import fixture_files, load_cases, run_policy_tests
from charter.policies.loader import builtin_baselines

BASELINES = Path(str(resources.files("charter.policies") / "builtin" / "baselines"))


def test_four_baselines_load() -> None:
    names = [p.name for p in builtin_baselines()]
    assert names == [
        "charter-ethical-baseline",
        "charter-security-baseline",
        "charter-regulatory-baseline",
        "charter-evidence-baseline",
        "charter-genai-baseline",
    ]
    assert all(p.rules for p in builtin_baselines())


def test_every_rule_maps_to_catalog_controls() -> None:
    catalog = builtin_catalog()
    for policy in builtin_baselines():
        for rule in policy.rules:
            assert rule.controls
            for control in rule.controls:
                assert catalog.find(control) is not None, (rule.id, control)


def test_required_topics_are_present() -> None:
    rules = {r.id: r for p in builtin_baselines() for r in p.rules}
    for rule_id in (
        "ETH-BIAS-EVALUATED",
        "ETH-DP-DIFF",
        "ETH-EO-DIFF",
        "ETH-DISPARATE-IMPACT",
        "ETH-HUMAN-OVERSIGHT",
        "SEC-SCAN-PERFORMED",
        "SEC-SCAN-CLEAN",
        "SEC-DIGEST-PINNED",
        "SEC-ACCESS-RESTRICTED",
        "REG-ANNEX-IV-DOCS",
        "REG-LAWFUL-BASIS",
        "REG-SPECIAL-CATEGORY",
        "REG-LOG-RETENTION",
        "REG-DPIA",
        "REG-PROVENANCE",
        "REG-ACCURACY",
        "EVD-SERVER-COMPUTED",
        "GENAI-REDTEAM-HIGH-RISK",
        "GENAI-REDTEAM-GPAI-SYSTEMIC",
        "GENAI-ATTACK-SUCCESS",
        "GENAI-TOXICITY",
        "GENAI-LEAKAGE",
        "GENAI-REFUSAL",
    ):
        assert rules[rule_id].severity.value == "blocker", rule_id
    assert "183" in rules["REG-LOG-RETENTION"].check.source


def test_shipped_fixtures_pass() -> None:
    report = run_policy_tests(BASELINES)
    assert report.passed, report.format_text()
    assert len(report.cases) >= 40


def test_fixtures_expect_pass_and_fail_for_every_rule() -> None:
    rule_ids = [r.id for p in builtin_baselines() for r in p.rules]
    seen: dict[str, set[Verdict]] = {r: set() for r in rule_ids}
    for path in fixture_files(BASELINES):
        for case in load_cases(path.read_bytes(), source=str(path), rule_ids=rule_ids):
            for exp in case.expect:
                seen[exp.rule_id].add(exp.verdict)
    lacking = {r: v for r, v in seen.items() if not {Verdict.PASS, Verdict.FAIL} <= v}
    assert lacking == {}


def test_empty_evidence_fails_closed() -> None:
    assessment = evaluate(builtin_baselines(), {})
    assert assessment.verdict is Verdict.FAIL
    failed = {r.rule_id for r in assessment.blockers}
    assert {"REG-RISK-TIER", "SEC-SCAN-PERFORMED", "SEC-DIGEST-PINNED", "SEC-ACCESS-RESTRICTED"} <= failed
