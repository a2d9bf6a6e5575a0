"""`charter policy test DIR`: fixtures with expected verdicts, failures reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.policies.errors import PolicyError
from charter.policies.fixtures import merge, run_policy_tests

TESTS = """\
apiVersion: charter.dev/v1
kind: PolicyTest
evidence:
  system: {risk_tier: high, owner_team: risk}
cases:
  - name: accurate high-risk model passes
    evidence: {performance: {accuracy: 0.9}}
    expect: {CR-ACCURACY: pass, CR-OWNER: pass}
  - name: minimal-risk model is not checked for accuracy
    evidence: {system: {risk_tier: minimal}}
    expect: {CR-ACCURACY: not_applicable}
  - name: missing performance is missing evidence
    evidence: {}
    expect:
      CR-ACCURACY: {verdict: fail, reason: missing evidence performance.accuracy}
"""


def _write(tmp_path: Path, policy: str, tests: str) -> Path:
    (tmp_path / "credit.yaml").write_text(policy)
    (tmp_path / "credit_test.yaml").write_text(tests)
    return tmp_path


def test_passing_fixtures(tmp_path: Path, valid_text: str) -> None:
    report = run_policy_tests(_write(tmp_path, valid_text, TESTS))
    assert report.passed, report.format_text()
    assert [c.name for c in report.cases] == [
        "accurate high-risk model passes",
        "minimal-risk model is not checked for accuracy",
        "missing performance is missing evidence",
    ]
    assert report.policies == ("credit-rules",)
    assert report.format_text() == "PASS: 3/3 cases passed"
    assert report.to_dict()["failed"] == 0


def test_failing_case_reports_file_and_line(tmp_path: Path, valid_text: str) -> None:
    tests = TESTS.replace("expect: {CR-ACCURACY: pass, CR-OWNER: pass}", "expect: {CR-ACCURACY: fail, CR-OWNER: pass}")
    report = run_policy_tests(_write(tmp_path, valid_text, tests))
    assert not report.passed
    (case,) = report.failures
    assert case.name == "accurate high-risk model passes"
    assert (case.location.line, case.mismatches[0].location.line) == (6, 8)
    text = report.format_text()
    path = tmp_path / "credit_test.yaml"
    assert f"FAIL {path}:6:5: accurate high-risk model passes" in text
    assert f"{path}:8:14: CR-ACCURACY: expected fail, got pass (check is true)" in text
    assert text.endswith("FAIL: 2/3 cases passed")
    assert report.to_dict()["cases"][0]["mismatches"][0]["actual"] == "pass"


def test_reason_substring_is_checked(tmp_path: Path, valid_text: str) -> None:
    tests = TESTS.replace("reason: missing evidence performance.accuracy", "reason: check is false")
    report = run_policy_tests(_write(tmp_path, valid_text, tests))
    (case,) = report.failures
    assert "with reason containing 'check is false'" in str(case.mismatches[0])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "CR-OWNER: pass}",
            "CR-OWNR: pass}",
            ":8:33: case 'accurate high-risk model passes': unknown rule id 'CR-OWNR' (did you mean 'CR-OWNER'?)",
        ),
        (
            "CR-OWNER: pass}",
            "CR-OWNER: passed}",
            ":8:43: case 'accurate high-risk model passes'.expect.CR-OWNER 'passed' is not one of",
        ),
        (
            "{performance: {accuracy: 0.9}}",
            "{performance: {acuracy: 0.9}}",
            ":7:30: case 'accurate high-risk model passes'.evidence: unknown evidence field 'performance.acuracy' "
            "(did you mean 'accuracy'?)",
        ),
        (
            "{risk_tier: high, owner_team: risk}",
            "{risk_tier: hihg, owner_team: risk}",
            ":4:12: the shared evidence: system.risk_tier 'hihg' is not one of",
        ),
        (
            "  - name: minimal-risk model is not checked for accuracy\n",
            "  - nme: minimal-risk model is not checked for accuracy\n",
            ":9:5: unknown field 'nme' in cases[1] (did you mean 'name'?)",
        ),
        (
            "evidence: {}",
            "evidence: []",
            ":13:15: case 'missing performance is missing evidence'.evidence must be a mapping",
        ),
        ("kind: PolicyTest", "kind: Test", ":2:7: kind must be 'PolicyTest'"),
    ],
)
def test_invalid_fixtures_are_located(tmp_path: Path, valid_text: str, old: str, new: str, expected: str) -> None:
    assert old in TESTS
    with pytest.raises(PolicyError) as err:
        run_policy_tests(_write(tmp_path, valid_text, TESTS.replace(old, new)))
    messages = [str(p) for p in err.value.problems]
    assert any(m.startswith(str(tmp_path / "credit_test.yaml") + expected) for m in messages), messages


def test_invalid_policy_in_the_directory_is_reported(tmp_path: Path, valid_text: str) -> None:
    with pytest.raises(PolicyError, match="credit.yaml:9:15"):
        run_policy_tests(_write(tmp_path, valid_text.replace("severity: blocker", "severity: high"), TESTS))


def test_merge_is_deep_for_mappings_only() -> None:
    base = {"system": {"a": 1, "b": 2}, "datasets": [{"x": 1}]}
    assert merge(base, {"system": {"b": 3}, "datasets": []}) == {"system": {"a": 1, "b": 3}, "datasets": []}
    assert base == {"system": {"a": 1, "b": 2}, "datasets": [{"x": 1}]}
