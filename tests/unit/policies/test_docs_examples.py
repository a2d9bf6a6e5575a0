"""docs/policy-language.md stays true: every yaml block loads, its policy tests pass, shown outputs are real."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from charter.policies.errors import PolicyError
from charter.policies.evidence import type_problems
from charter.policies.fixtures import run_policy_tests
from charter.policies.licensing import builtin_licensing, load_licensing
from charter.policies.loader import builtin_baselines, load_policy

DOC = Path(__file__).parents[3] / "docs" / "policy-language.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text())]


def _yaml_blocks(kind: str) -> list[str]:
    return [text for info, text in _blocks() if info == "yaml" and yaml.safe_load(text).get("kind") == kind]


def _write_examples(directory: Path) -> None:
    for i, text in enumerate(_yaml_blocks("Policy")):
        (directory / f"policy{i}.yaml").write_text(text)
    for i, text in enumerate(_yaml_blocks("PolicyTest")):
        (directory / ("credit_test.yaml" if i == 0 else f"more{i}_test.yaml")).write_text(text)


def test_the_doc_has_examples() -> None:
    infos = [info for info, _ in _blocks()]
    assert infos.count("yaml") >= 3
    assert _yaml_blocks("Policy") and _yaml_blocks("PolicyTest") and _yaml_blocks("Licensing")


def test_every_yaml_block_loads() -> None:
    for info, text in _blocks():
        if info != "yaml":
            continue
        kind = yaml.safe_load(text).get("kind")
        if kind == "Policy":
            load_policy(text, source="doc")
        elif kind == "Licensing":
            load_licensing(text, source="doc")
        else:
            assert kind == "PolicyTest", f"yaml block of unknown kind {kind!r}"


def test_policy_tests_in_the_doc_pass(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    report = run_policy_tests(tmp_path)
    assert report.passed, report.format_text()
    assert len(report.cases) >= 5


def test_shown_fixture_failure_is_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks()
    index = next(i for i, (info, text) in enumerate(blocks) if info == "yaml" and "kind: PolicyTest" in text)
    shown = blocks[index + 1]
    assert shown[0] == "console"
    _write_examples(tmp_path)
    fixture = tmp_path / "credit_test.yaml"
    text = fixture.read_text()
    flipped = "expect: {CREDIT-ACCURACY: not_applicable}"
    assert flipped in text
    fixture.write_text(text.replace(flipped, "expect: {CREDIT-ACCURACY: fail}"))
    monkeypatch.chdir(tmp_path)
    report = run_policy_tests(Path("."))
    assert report.format_text() == shown[1].rstrip("\n")


def test_shown_policy_errors_are_real() -> None:
    blocks = _blocks()
    pairs = [(blocks[i][1], blocks[i + 1][1]) for i in range(len(blocks) - 1) if blocks[i][0] == "text"]
    assert pairs
    for bad, output in pairs:
        assert blocks[[b[1] for b in blocks].index(output)][0] == "console"
        with pytest.raises(PolicyError) as err:
            load_policy(bad, source="policy.yaml")
        assert str(err.value) == output.rstrip("\n")


def test_json_evidence_example_uses_only_declared_fields() -> None:
    examples = [json.loads(text) for info, text in _blocks() if info == "json"]
    assert examples
    for example in examples:
        assert type_problems(example) == []


def test_licensing_example_is_the_builtin_one() -> None:
    (text,) = _yaml_blocks("Licensing")
    shown = load_licensing(text)
    builtin = builtin_licensing()
    assert replace(shown, digest="") == replace(builtin, digest="")


_ROW = re.compile(r"^\| `([A-Z0-9.-]+)` (.*?) \| (\w+) \| (.*?) \| (.*?) \|$")


def test_baseline_tables_match_the_shipped_baselines() -> None:
    text = DOC.read_text()
    for policy in builtin_baselines():
        section = text.split(f"**{policy.name}**", 1)[1].split("\n\n", 2)[1]
        rows = [m.groups() for m in map(_ROW.match, section.splitlines()) if m]
        assert [r[0] for r in rows] == [r.id for r in policy.rules]
        for (rule_id, title, severity, when, controls), rule in zip(rows, policy.rules, strict=True):
            assert title == rule.title, rule_id
            assert severity == rule.severity.value, rule_id
            expected_when = " ".join(rule.when.source.split()) if rule.when else None
            shown_when = when.strip("`").replace("\\|", "|") if when != "always" else None
            assert shown_when == expected_when, rule_id
            assert controls.split(", ") == list(rule.controls), rule_id
