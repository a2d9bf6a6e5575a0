"""Assessment reports: the evidence values each rule read, the engine's formats, and a self-contained HTML page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2

from charter import __version__
from charter.evaluation.genai.normalize import families
from charter.evaluation.schemas import AssessmentDetail, AssessmentRead
from charter.policies.document import Rule, Severity
from charter.policies.engine import Assessment, RuleResult, Verdict
from charter.policies.errors import Location
from charter.policies.evidence import fill_defaults, split_path
from charter.policies.render import render

MAX_VALUES_PER_RULE = 12
MAX_TEXT = 200
_VERDICT_ORDER = {"fail": 0, "pass": 1, "not_applicable": 2}
_SEVERITY_ORDER = {"blocker": 0, "major": 1, "minor": 2}


def rule_paths(rule: Rule) -> list[str]:
    """The most specific evidence paths a rule reads (in `when`, `check` and `evidence`)."""
    paths = set(rule.check.paths) | set(rule.evidence)
    if rule.when is not None:
        paths |= rule.when.paths
    leaves = [p for p in paths if not any(q != p and (q.startswith(p + ".") or q.startswith(p + "[")) for q in paths)]
    return sorted(leaves)


def evidence_values(filled: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """Concrete values of `paths` in a filled evidence document (`*` and `[]` expanded), shortened for reports."""
    out: dict[str, Any] = {}
    for path in paths:
        parts = split_path(path)
        if parts is None:
            continue
        _collect(filled, parts, "", out)
        if len(out) >= MAX_VALUES_PER_RULE:
            break
    return dict(list(out.items())[:MAX_VALUES_PER_RULE])


def _collect(value: Any, parts: list[str], here: str, out: dict[str, Any]) -> None:
    if len(out) >= MAX_VALUES_PER_RULE:
        return
    if not parts:
        out[here] = _short(value)
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(value, list):
            for i, item in enumerate(value):
                _collect(item, rest, f"{here}[{i}]", out)
        return
    if not isinstance(value, Mapping):
        return
    keys = sorted(value, key=str) if head == "*" else ([head] if head in value else [])
    for key in keys:
        _collect(value[key], rest, f"{here}.{key}" if here else str(key), out)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return f"{{{len(value)} fields}}"
    if isinstance(value, list) and (len(value) > 10 or any(isinstance(v, Mapping | list) for v in value)):
        return f"[{len(value)} items]"
    return value


def to_assessment(detail: AssessmentDetail) -> Assessment:
    """The engine's Assessment rebuilt from a stored one, so every output format renders it."""
    results = []
    for r in detail.results:
        loc = r.location
        results.append(
            RuleResult(
                rule_id=r.rule_id,
                title=r.title,
                policy=r.policy,
                policy_digest=r.policy_digest,
                severity=Severity(r.severity),
                verdict=Verdict(r.verdict),
                reason=r.reason,
                controls=tuple(r.controls),
                remediation=r.remediation,
                location=Location(str(loc["file"]), int(loc["line"]), int(loc["column"])) if loc else None,
            )
        )
    return Assessment(
        results=tuple(results),
        verdict=Verdict(detail.verdict),
        policy_set_digest=detail.policy_set_digest,
        evidence_digest=detail.evidence_digest,
        policies=tuple((p["name"], p["digest"]) for p in detail.policies),
    )


def render_assessment(detail: AssessmentDetail, fmt: str) -> str:
    """The assessment as json, junit, sarif, markdown (the policy engine's renderers) or html."""
    if fmt == "html":
        return render_html(detail)
    text = render(to_assessment(detail), fmt)
    if detail.computed_by is None:
        return text
    if fmt == "json":
        doc = json.loads(text)
        doc.update(computed_by=detail.computed_by, self_reported=detail.self_reported, code_version=detail.code_version)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        line = f"- Evidence: `{detail.evidence_digest}`"
        return text.replace(line, f"{line}\n- Computed by: {computed_by_text(detail)}", 1)
    return text


def computed_by_text(detail: AssessmentRead) -> str:
    """Who computed the evaluation figures, as shown to people."""
    if detail.computed_by is None:
        return "no evaluation"
    if detail.self_reported:
        return "self-reported (computed on the client, not checked by the server)"
    return "the server, from the uploaded predictions"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("charter.evaluation", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = _display
    return env


def _display(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_display(v) for v in value) + "]"
    return str(value)


def render_html(detail: AssessmentDetail) -> str:
    """A self-contained HTML report (no scripts, no external resources): failures first, then every rule."""
    ordered = sorted(
        detail.results,
        key=lambda r: (_VERDICT_ORDER[r.verdict], _SEVERITY_ORDER[r.severity], r.policy, r.rule_id),
    )
    failed = [r for r in ordered if r.verdict == "fail"]
    evidence = fill_defaults(detail.evidence)  # every declared field present, whatever was stored
    context = {
        "a": detail,
        "failed": failed,
        "results": ordered,
        "system": evidence.get("system") or {},
        "model": evidence.get("model") or {},
        "performance": evidence.get("performance") or {},
        "fairness": evidence.get("fairness") or {},
        "scan": evidence.get("scan") or {},
        "documentation": evidence.get("documentation") or {},
        "genai": evidence.get("genai") or {},
        "genai_families": families(evidence.get("genai")),
        "version": __version__,
    }
    return _environment().get_template("assessment.html").render(**context)
