"""Assessment renderers: JSON, JUnit XML, SARIF 2.1.0, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from charter.core.errors import InvalidInput
from charter.policies.engine import Assessment, evaluate
from charter.policies.loader import builtin_baselines, load_policy
from charter.policies.render import render, sarif

EVIDENCE = {
    "system": {"name": "credit", "risk_tier": "high", "personal_data": True, "access_restricted": True},
    "scan": {"performed": True, "safe": True},
}


@pytest.fixture(scope="module")
def assessment() -> Assessment:
    return evaluate(builtin_baselines(), EVIDENCE)


def test_json_is_the_assessment_dict(assessment: Assessment) -> None:
    data = json.loads(render(assessment, "json"))
    assert data == assessment.to_dict()
    assert data["verdict"] == "fail"
    assert render(assessment, "json") == render(evaluate(builtin_baselines(), EVIDENCE), "json")


def test_junit(assessment: Assessment) -> None:
    root = ET.fromstring(render(assessment, "junit"))
    assert root.tag == "testsuites"
    counts = assessment.counts()
    assert int(root.get("tests", "")) == len(assessment.results)
    assert int(root.get("failures", "")) == counts["fail"]
    assert int(root.get("skipped", "")) == counts["not_applicable"]
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [name for name, _ in assessment.policies]
    failures = root.findall(".//testcase/failure")
    assert len(failures) == counts["fail"]
    dpia = next(c for c in root.iter("testcase") if str(c.get("name")).startswith("REG-DPIA:"))
    failure = dpia.find("failure")
    assert failure is not None and failure.get("type") == "blocker"
    assert failure.get("message") == "missing evidence system.dpia_reference"
    assert "GDPR-ART35" in (failure.text or "")
    assert len(root.findall(".//testcase/skipped")) == counts["not_applicable"]


def test_junit_strips_characters_xml_cannot_hold() -> None:
    policy = load_policy(
        "apiVersion: charter.dev/v1\nkind: Policy\nmetadata: {name: x}\nrules:\n"
        "  - {id: X, title: x, severity: minor, check: system.name == 'ok', controls: [GDPR-ART6], remediation: x}\n"
    )
    text = render(evaluate([policy], {"system": {"name": "bad\x01name"}}), "junit")
    ET.fromstring(text)


def test_sarif(assessment: Assessment) -> None:
    log = json.loads(render(assessment, "sarif"))
    assert log == sarif(assessment)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "charter"
    assert len({r["id"] for r in rules}) == len(rules) == len(assessment.results)
    by_id = {r["id"]: r for r in rules}
    assert by_id["REG-DPIA"]["defaultConfiguration"]["level"] == "error"
    assert by_id["REG-DOCUMENTATION"]["defaultConfiguration"]["level"] == "warning"
    assert by_id["SEC-MODEL-LICENSE"]["defaultConfiguration"]["level"] == "note"
    assert by_id["REG-DPIA"]["properties"]["controls"] == ["GDPR-ART35", "EUAIA-ART26-9", "ISO42001-A.5.2"]
    assert run["properties"]["verdict"] == "fail"
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["kind"] in {"pass", "fail", "notApplicable"}
        assert result["level"] in {"none", "note", "warning", "error"}
        assert (result["level"] == "none") == (result["kind"] != "fail")
        assert result["message"]["text"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    dpia = next(r for r in run["results"] if r["ruleId"] == "REG-DPIA")
    assert dpia["kind"] == "fail" and dpia["level"] == "error"
    assert dpia["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "builtin:baselines/regulatory.yaml"


def test_markdown(assessment: Assessment) -> None:
    text = render(assessment, "markdown")
    assert text.startswith("# Policy assessment: FAIL\n")
    assert "## Failures" in text
    assert (
        "| blocker | `REG-DPIA` DPIA for a high-risk system processing personal data | "
        "missing evidence system.dpia_reference |" in text
    )
    assert text.count("\n| ") >= len(assessment.results) + len(assessment.failed)
    lines = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert all(line.count(" | ") >= 4 for line in lines)


def test_markdown_escapes_table_cells() -> None:
    policy = load_policy(
        "apiVersion: charter.dev/v1\nkind: Policy\nmetadata: {name: x}\nrules:\n"
        "  - {id: X, title: 'a | b', severity: minor, check: system.gpai, controls: [GDPR-ART6],"
        ' remediation: "c\\nd"}\n'
    )
    text = render(evaluate([policy], {}), "markdown")
    assert "`X` a \\| b |" in text
    assert "c d" in text


def test_unknown_format(assessment: Assessment) -> None:
    with pytest.raises(InvalidInput) as err:
        render(assessment, "pdf")
    assert err.value.code == "unknown_format"
