"""Policy documents: validation with file:line:column, digests, policy sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.policies.document import Severity, document_digest, policy_set_digest
from charter.policies.errors import PolicyError
from charter.policies.loader import check_policy_set, load_policy, load_policy_dir, load_policy_file


def _errors(text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy(text, source="p.yaml")
    assert err.value.code == "policy_invalid"
    assert err.value.details["problems"]
    return [str(p) for p in err.value.problems]


def test_valid_policy_loads(valid_text: str) -> None:
    doc = load_policy(valid_text, source="p.yaml")
    assert doc.name == "credit-rules"
    assert [r.id for r in doc.rules] == ["CR-ACCURACY", "CR-OWNER"]
    rule = doc.rules[0]
    assert rule.severity is Severity.BLOCKER
    assert rule.when is not None and rule.when.source == "system.risk_tier == 'high'"
    assert rule.check.paths == {"performance", "performance.accuracy"}
    assert rule.evidence == ("performance.accuracy",)
    assert rule.controls == ("EUAIA-ART15",)
    assert rule.location is not None and (rule.location.line, rule.location.column) == (7, 5)
    assert doc.rules[1].when is None
    assert doc.rules[1].to_dict()["check"] == "system.owner_team != null"


def test_digest_is_over_the_parsed_document(valid_text: str) -> None:
    doc = load_policy(valid_text, source="p.yaml")
    assert doc.digest == document_digest(doc.to_dict())
    assert len(doc.digest) == 64
    reformatted = "# comment\n" + valid_text.replace("[EUAIA-ART15]", "\n      - EUAIA-ART15")
    assert load_policy(reformatted).digest == doc.digest
    changed = valid_text.replace(">= 0.8", ">= 0.85")
    assert load_policy(changed).digest != doc.digest


def test_policy_set_digest_ignores_order(valid_text: str) -> None:
    a = load_policy(valid_text)
    b = load_policy(valid_text.replace("credit-rules", "other-rules").replace("CR-", "OT-"))
    assert policy_set_digest([a, b]) == policy_set_digest([b, a])
    assert policy_set_digest([a]) != policy_set_digest([a, b])


def test_unknown_fields_have_did_you_mean(valid_text: str) -> None:
    text = valid_text.replace("  description:", "  descripton:").replace(
        "    remediation: Improve", "    remedation: Improve"
    )
    errors = _errors(text)
    assert "p.yaml:5:3: unknown field 'descripton' in metadata (did you mean 'description'?)" in errors
    assert "p.yaml:14:5: unknown field 'remedation' in rule 'CR-ACCURACY' (did you mean 'remediation'?)" in errors
    assert any("missing required field 'remediation'" in e for e in errors)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "severity: blocker",
            "severity: critical",
            "p.yaml:9:15: rule 'CR-ACCURACY'.severity 'critical' is not one of",
        ),
        (
            "severity: blocker",
            "severity: [blocker]",
            "p.yaml:9:15: rule 'CR-ACCURACY'.severity must be a string, got a list",
        ),
        ("check: performance.accuracy >= 0.8", "check: 0.8", "p.yaml:11:12: rule 'CR-ACCURACY'.check must be a string"),
        (
            "check: performance.accuracy >= 0.8",
            "check: performance.acuracy >= 0.8",
            "p.yaml:11:24: rule 'CR-ACCURACY'.check: unknown evidence field 'performance.acuracy' "
            "(did you mean 'accuracy'?)",
        ),
        (
            "check: performance.accuracy >= 0.8",
            "check: performance.accuracy >=",
            "p.yaml:11:35: rule 'CR-ACCURACY'.check: CEL syntax error",
        ),
        (
            "when: system.risk_tier == 'high'",
            "when: system.tier == 'high'",
            "p.yaml:10:18: rule 'CR-ACCURACY'.when: unknown evidence field 'system.tier'",
        ),
        (
            "controls: [EUAIA-ART15]",
            "controls: [eu-ai-act:art-15]",
            "p.yaml:13:16: rule 'CR-ACCURACY': unknown control id 'eu-ai-act:art-15' (did you mean 'EUAIA-ART15'?)",
        ),
        (
            "controls: [EUAIA-ART15]",
            "controls: []",
            "p.yaml:13:15: rule 'CR-ACCURACY'.controls must list at least one control id",
        ),
        (
            "evidence: [performance.accuracy]",
            "evidence: [performance.acc]",
            "p.yaml:12:16: rule 'CR-ACCURACY': unknown evidence field 'performance.acc'",
        ),
        (
            "apiVersion: charter.dev/v1",
            "apiVersion: charter.dev/v2",
            "p.yaml:1:13: apiVersion must be 'charter.dev/v1', got 'charter.dev/v2'",
        ),
        ("kind: Policy", "kind: Licensing", "p.yaml:2:7: kind must be 'Policy', got 'Licensing'"),
        ("name: credit-rules", "name: Credit Rules", "p.yaml:4:9: metadata.name 'Credit Rules' must match"),
        ("id: CR-OWNER", "id: CR-ACCURACY", "p.yaml:15:5: duplicate rule id 'CR-ACCURACY' (first at line 7)"),
        ("id: CR-OWNER", "id: 'bad id'", "p.yaml:15:9: rules[1].id 'bad id' must match"),
    ],
)
def test_invalid_documents_are_located(valid_text: str, old: str, new: str, expected: str) -> None:
    assert old in valid_text
    errors = _errors(valid_text.replace(old, new, 1))
    assert any(e.startswith(expected) for e in errors), errors


def test_every_problem_is_reported_at_once(valid_text: str) -> None:
    text = valid_text.replace("severity: blocker", "severity: high").replace("ISO42001-A.3.2", "ISO-A.3.2")
    text = text.replace("system.owner_team != null", "system.ownerteam != null")
    assert len(_errors(text)) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n", "p.yaml:1:1: the policy document must be a mapping, got a list"),
        ("apiVersion: charter.dev/v1\n", "p.yaml:1:1: the policy document is missing required field 'kind'"),
        (
            "apiVersion: charter.dev/v1\nkind: Policy\nmetadata: {name: x}\nrules: []\n",
            "p.yaml:4:8: rules must contain at least one rule",
        ),
        (
            "apiVersion: charter.dev/v1\nkind: Policy\nmetadata: {name: x}\nrules: {}\n",
            "p.yaml:4:8: rules must be a list",
        ),
        (
            "apiVersion: charter.dev/v1\nkind: Policy\nmetadata: {name: x}\nrules: [1]\n",
            "p.yaml:4:9: rules[0] must be a mapping",
        ),
    ],
)
def test_structural_errors(text: str, expected: str) -> None:
    assert any(e.startswith(expected) for e in _errors(text))


def test_load_policy_file_and_dir(tmp_path: Path, valid_text: str) -> None:
    (tmp_path / "a.yaml").write_text(valid_text)
    (tmp_path / "b.yaml").write_text(valid_text.replace("credit-rules", "b-rules").replace("CR-", "B-"))
    (tmp_path / "a_test.yaml").write_text("cases: []\n")
    doc = load_policy_file(tmp_path / "a.yaml")
    assert doc.source == str(tmp_path / "a.yaml")
    assert [d.name for d in load_policy_dir(tmp_path)] == ["credit-rules", "b-rules"]


def test_policy_set_rejects_shared_rule_ids_and_names(tmp_path: Path, valid_text: str) -> None:
    (tmp_path / "a.yaml").write_text(valid_text)
    (tmp_path / "b.yaml").write_text(valid_text.replace("credit-rules", "b-rules"))
    with pytest.raises(PolicyError) as err:
        load_policy_dir(tmp_path)
    assert "rule id 'CR-ACCURACY' is already used by policy 'credit-rules'" in str(err.value)
    a = load_policy(valid_text, source="a.yaml")
    b = load_policy(valid_text.replace("Improve the model.", "Retrain."), source="b.yaml")
    with pytest.raises(PolicyError, match="policy name 'credit-rules' is also used by a.yaml"):
        check_policy_set([a, b])
    check_policy_set([a, a])  # the same document twice is harmless


def test_bytes_input_and_errors_in_the_directory_are_collected(tmp_path: Path, valid_text: str) -> None:
    assert load_policy(valid_text.encode()).name == "credit-rules"
    (tmp_path / "a.yaml").write_text("kind: [\n")
    (tmp_path / "b.yaml").write_text(valid_text.replace("severity: minor", "severity: low"))
    with pytest.raises(PolicyError) as err:
        load_policy_dir(tmp_path)
    files = {p.location.file for p in err.value.problems}
    assert files == {str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")}
