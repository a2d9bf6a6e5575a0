"""Assessment output formats: JSON, JUnit XML, SARIF 2.1.0 and Markdown."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from charter.core.errors import ErrorCode, InvalidInput
from charter.policies.document import Severity
from charter.policies.engine import Assessment, RuleResult, Verdict

FORMATS = ("json", "junit", "sarif", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://github.com/charter-dev/charter"
SARIF_LEVEL = {Severity.BLOCKER: "error", Severity.MAJOR: "warning", Severity.MINOR: "note"}
SARIF_KIND = {Verdict.PASS: "pass", Verdict.FAIL: "fail", Verdict.NOT_APPLICABLE: "notApplicable"}
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(assessment: Assessment, fmt: str) -> str:
    """The assessment in one of FORMATS."""
    if fmt == "json":
        return render_json(assessment)
    if fmt == "junit":
        return render_junit(assessment)
    if fmt == "sarif":
        return render_sarif(assessment)
    if fmt == "markdown":
        return render_markdown(assessment)
    raise InvalidInput(
        f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}", code=ErrorCode.UNKNOWN_FORMAT, field="format"
    )


def render_json(assessment: Assessment) -> str:
    """Deterministic JSON (the assessment's `to_dict`)."""
    return json.dumps(assessment.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _xml(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


def render_junit(assessment: Assessment) -> str:
    """JUnit XML: one testsuite per policy, one testcase per rule; fail → <failure>, not applicable → <skipped>."""
    counts = assessment.counts()
    root = ET.Element(
        "testsuites",
        name="charter",
        tests=str(len(assessment.results)),
        failures=str(counts["fail"]),
        skipped=str(counts["not_applicable"]),
        errors="0",
    )
    for name, digest in assessment.policies:
        results = [r for r in assessment.results if r.policy == name and r.policy_digest == digest]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_xml(name),
            tests=str(len(results)),
            failures=str(sum(r.verdict == Verdict.FAIL for r in results)),
            skipped=str(sum(r.verdict == Verdict.NOT_APPLICABLE for r in results)),
            errors="0",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="policy_digest", value=digest)
        ET.SubElement(props, "property", name="evidence_digest", value=assessment.evidence_digest)
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=_xml(name), name=_xml(f"{r.rule_id}: {r.title}"))
            if r.verdict == Verdict.FAIL:
                failure = ET.SubElement(case, "failure", message=_xml(r.reason), type=r.severity.value)
                failure.text = _xml(
                    f"{r.reason}\nseverity: {r.severity.value}\ncontrols: {', '.join(r.controls)}\n"
                    f"remediation: {r.remediation}"
                )
            elif r.verdict == Verdict.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=_xml(r.reason))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def sarif(assessment: Assessment, *, tool_version: str = "0.1.0") -> dict[str, Any]:
    """SARIF 2.1.0 log: rules carry severity, policy and control refs; results carry kind/level per verdict."""
    rules: list[dict[str, Any]] = []
    index: dict[tuple[str, str], int] = {}
    for r in assessment.results:
        key = (r.policy, r.rule_id)
        if key in index:
            continue
        index[key] = len(rules)
        rules.append(
            {
                "id": r.rule_id,
                "name": r.title,
                "shortDescription": {"text": r.title},
                "help": {"text": r.remediation},
                "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                "properties": {
                    "severity": r.severity.value,
                    "policy": r.policy,
                    "policyDigest": r.policy_digest,
                    "controls": list(r.controls),
                    "tags": list(r.controls),
                },
            }
        )
    results = [_sarif_result(r, index[(r.policy, r.rule_id)]) for r in assessment.results]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "charter", "informationUri": TOOL_URI, "version": tool_version, "rules": rules}
                },
                "results": results,
                "properties": {
                    "verdict": assessment.verdict.value,
                    "policySetDigest": assessment.policy_set_digest,
                    "evidenceDigest": assessment.evidence_digest,
                },
            }
        ],
    }


def _sarif_result(r: RuleResult, rule_index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": r.rule_id,
        "ruleIndex": rule_index,
        "kind": SARIF_KIND[r.verdict],
        "level": SARIF_LEVEL[r.severity] if r.verdict == Verdict.FAIL else "none",
        "message": {"text": f"{r.title}: {r.reason}"},
        "properties": {"verdict": r.verdict.value, "controls": list(r.controls), "policy": r.policy},
    }
    if r.location is not None:
        out["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": r.location.file},
                    "region": {"startLine": r.location.line, "startColumn": r.location.column},
                }
            }
        ]
    return out


def render_sarif(assessment: Assessment) -> str:
    """SARIF 2.1.0 as JSON text."""
    return json.dumps(sarif(assessment), indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(assessment: Assessment) -> str:
    """A Markdown report: verdict, counts, failures with remediation, then every rule."""
    counts = assessment.counts()
    icon = "PASS" if assessment.verdict == Verdict.PASS else "FAIL"
    lines = [
        f"# Policy assessment: {icon}",
        "",
        f"- Policy set: `{assessment.policy_set_digest}`",
        f"- Evidence: `{assessment.evidence_digest}`",
        f"- Rules: {len(assessment.results)} — {counts['pass']} passed, {counts['fail']} failed "
        f"({counts['fail_blocker']} blocker, {counts['fail_major']} major, {counts['fail_minor']} minor), "
        f"{counts['not_applicable']} not applicable",
        "",
    ]
    if assessment.failed:
        lines += ["## Failures", "", "| Severity | Rule | Reason | Controls | Remediation |", "|---|---|---|---|---|"]
        for r in assessment.failed:
            lines.append(
                f"| {r.severity.value} | `{r.rule_id}` {_cell(r.title)} | {_cell(r.reason)} | "
                f"{_cell(', '.join(r.controls))} | {_cell(r.remediation)} |"
            )
        lines.append("")
    lines += ["## All rules", "", "| Policy | Rule | Severity | Verdict | Reason |", "|---|---|---|---|---|"]
    for r in assessment.results:
        lines.append(
            f"| {_cell(r.policy)} | `{r.rule_id}` | {r.severity.value} | {r.verdict.value} | {_cell(r.reason)} |"
        )
    return "\n".join(lines) + "\n"
