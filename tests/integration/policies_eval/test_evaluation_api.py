"""Evaluations over the API on SQLite and PostgreSQL: the shipped credit-scoring example fails the ethical baseline
when biased and passes after mitigation; latest_assessment for licenses; re-assessment with new policies; the HTML
report; bad input → 4xx problem+json with nothing stored; scoped authorization; audit entries."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.evaluation import service as evaluation
from charter.evaluation.report import to_assessment
from charter.evaluation.schemas import AssessmentDetail
from charter.policies import render
from tests.conftest import MakeUser, bearer
from tests.integration.policies_eval.conftest import (
    API,
    REF,
    VERSIONS,
    audit_actions,
    counts,
    evaluation_body,
    upload_parts,
)
from tests.integration.policies_eval.test_policy_api import CREDIT, add

PARITY = {"ETH-DP-DIFF", "ETH-EO-DIFF", "ETH-DISPARATE-IMPACT"}


def submit(client: TestClient, name: str, **kw: Any) -> dict[str, Any]:
    """Upload predictions_{name}.csv: the server computes the figures (a high-risk system needs that)."""
    r = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts(name), **kw)
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_biased_fails_on_parity_and_mitigated_passes(
    client: TestClient, container: Container, credit: dict[str, Any]
) -> None:
    with container.uow(write=False) as uow:
        assert evaluation.latest_assessment(uow, credit["digest"]) is None
    biased = submit(client, "biased")
    a = biased["assessment"]
    assert a["verdict"] == "fail" and set(a["blockers"]) == PARITY, a["blockers"]
    assert a["digest"] == credit["digest"] and a["model"] == REF and a["evaluation_id"] == biased["evaluation"]["id"]
    results = {r["rule_id"]: r for r in a["results"]}
    dp = results["ETH-DP-DIFF"]
    assert dp["verdict"] == "fail" and dp["severity"] == "blocker" and "EUAIA-ART10" in dp["controls"]
    assert dp["evidence"]["fairness_summary.dp_diff_max"] > 0.1 and dp["evidence"]["thresholds.dp_diff_max"] == 0.1
    assert dp["location"]["file"] == "builtin:baselines/ethical.yaml" and dp["remediation"]
    assert results["REG-ANNEX-IV-DOCS"]["evidence"]["documentation.completeness"] == 1.0  # from the stored card
    assert results["SEC-SCAN-CLEAN"]["verdict"] == "pass" and results["REG-PROVENANCE"]["verdict"] == "pass"
    assert a["evidence"]["system"]["dpia_reference"] == "DPIA-2026-014"  # merged from the catalog
    assert a["inputs"]["predictions"]["name"] == "predictions_biased.csv" and a["inputs"]["predictions"]["rows"] == 5000
    assert len(a["policy_digests"]) == 5 and a["counts"]["fail_blocker"] == 3

    with container.uow(write=False) as uow:
        latest = evaluation.latest_assessment(uow, credit["digest"])
        assert latest is not None and latest.id == a["id"] and latest.verdict == "fail"
        assert set(latest.blockers) == PARITY and latest.policy_digests == a["policy_digests"]

    mitigated = submit(client, "mitigated")["assessment"]
    assert mitigated["verdict"] == "pass" and mitigated["blockers"] == [], [
        (r["rule_id"], r["reason"]) for r in mitigated["results"] if r["verdict"] == "fail"
    ]
    with container.uow(write=False) as uow:
        latest = evaluation.latest_assessment(uow, credit["digest"].removeprefix("sha256:"))
        assert latest is not None and latest.id == mitigated["id"] and latest.verdict == "pass"
        assert latest.blockers == []

    items = client.get(f"{VERSIONS}/assessments").json()["items"]
    assert [i["id"] for i in items] == [mitigated["id"], a["id"]]
    evals = client.get(f"{VERSIONS}/evaluations").json()["items"]
    assert [e["inputs"]["predictions"]["name"] for e in evals] == [
        "predictions_mitigated.csv",
        "predictions_biased.csv",
    ]
    shown = client.get(f"{API}/assessments/{a['id']}").json()
    assert shown == a
    actions = [(x, res) for x, res, _ in audit_actions(container) if x.startswith(("evaluation.", "assessment."))]
    assert actions == [
        ("evaluation.create", f"model:{REF}"),
        ("assessment.create", f"assessment:{a['id']}"),
        ("evaluation.create", f"model:{REF}"),
        ("assessment.create", f"assessment:{mitigated['id']}"),
    ]
    details = [d for x, _, d in audit_actions(container) if x == "assessment.create"][0]
    assert details["verdict"] == "fail" and set(details["blockers"]) == PARITY
    assert details["evidence_digest"] == a["evidence_digest"]


def test_stored_assessment_renders_in_every_format(client: TestClient, credit: dict[str, Any]) -> None:
    a = submit(client, "biased")["assessment"]
    assessment = to_assessment(AssessmentDetail.model_validate(a))
    assert assessment.verdict.value == "fail" and {r.rule_id for r in assessment.blockers} == PARITY
    sarif = render(assessment, "sarif")
    assert '"ruleId": "ETH-DP-DIFF"' in sarif and "builtin:baselines/ethical.yaml" in sarif
    assert "<failure" in render(assessment, "junit") and "ETH-DP-DIFF" in render(assessment, "markdown")
    r = client.get(f"{API}/assessments/{a['id']}/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert 'id="fail-ETH-DP-DIFF"' in html and "Reduce the gap in selection rates" in html
    assert "fairness_summary.dp_diff_max" in html and "EUAIA-ART10" in html and a["digest"] in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_reassess_with_a_new_policy_and_html_is_escaped(client: TestClient, credit: dict[str, Any]) -> None:
    submit(client, "mitigated")
    hostile = CREDIT.replace(
        "title: Accuracy of at least 0.8 for credit decisions", "title: <script>alert(1)</script> accuracy 0.8"
    )
    assert add(client, hostile).status_code == 201
    r = client.post(f"{VERSIONS}/assessments", json={})
    assert r.status_code == 201, r.text
    again = r.json()
    assert again["verdict"] == "fail" and again["blockers"] == ["CREDIT-ACCURACY"]  # accuracy 0.748 < 0.8
    assert len(again["policy_digests"]) == 6 and again["evaluation_id"] is not None
    html = client.get(f"{API}/assessments/{again['id']}/report.html").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    r = client.post(f"{VERSIONS}/assessments", json={"evaluation_id": "evl_nope"})
    assert r.status_code == 404 and r.json()["code"] == "evaluation_not_found"


def test_reassess_without_evaluation_uses_the_catalog_only(client: TestClient, credit: dict[str, Any]) -> None:
    r = client.post(f"{VERSIONS}/assessments")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["evaluation_id"] is None and doc["verdict"] == "fail"
    assert {"ETH-BIAS-EVALUATED", "SEC-SCAN-PERFORMED", "REG-ACCURACY"} <= set(doc["blockers"])
    reasons = {x["rule_id"]: x["reason"] for x in doc["results"]}
    assert reasons["REG-ACCURACY"] == "missing evidence performance.accuracy"


def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return body


BAD = [
    ("evidence.system", {"risk_tier": "minimal"}, "evidence_invalid", "evidence.system"),
    ("evidence.thresholds", {"dp_diff_max": 1.0}, "evidence_invalid", "evidence.thresholds"),
    ("evidence.performance.accuracy", "high", "evidence_invalid", "evidence.performance.accuracy"),
    ("evidence.fairness_summary.dp_diffmax", 0.0, "evidence_invalid", "evidence.fairness_summary.dp_diffmax"),
    ("evidence.bogus", {}, "evidence_invalid", "evidence.bogus"),
    ("inputs.predictions", KeyError, "input_digest_required", "inputs.predictions"),
    ("inputs.artifact", KeyError, "input_digest_required", "inputs.artifact"),
    ("inputs.artifact.sha256", "ab" * 32, "artifact_digest_mismatch", "inputs.artifact.sha256"),
    ("inputs.predictions.sha256", "not-a-digest", "validation_failed", None),
]


@pytest.mark.parametrize(("path", "value", "code", "field"), BAD, ids=[b[0] + "/" + b[2] for b in BAD])
def test_bad_evidence_is_rejected_and_nothing_is_stored(
    client: TestClient,
    container: Container,
    credit: dict[str, Any],
    path: str,
    value: Any,
    code: str,
    field: str | None,
) -> None:
    before = counts(container)
    r = client.post(f"{VERSIONS}/evaluations", json=_mutate(evaluation_body("biased"), path, value))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field and field in body["detail"], body
    assert counts(container) == before


def test_nothing_evaluated_and_unknown_model_version(
    client: TestClient, container: Container, credit: dict[str, Any]
) -> None:
    before = counts(container)
    body = evaluation_body("biased")
    body["evidence"].update(performance=None, scan={"performed": False, "safe": False, "formats": [], "findings": []})
    r = client.post(f"{VERSIONS}/evaluations", json=body)
    assert r.status_code == 422 and r.json()["code"] == "evidence_empty"
    r = client.post(f"{API}/systems/credit-scoring/versions/9.9/evaluations", json=evaluation_body("biased"))
    assert r.status_code == 404 and r.json()["code"] == "model_version_not_found"
    r = client.post(f"{API}/systems/nope/versions/1/evaluations", json=evaluation_body("biased"))
    assert r.status_code == 404 and r.json()["code"] == "system_not_found"
    r = client.get(f"{API}/assessments/asm_nope")
    assert r.status_code == 404 and r.json()["code"] == "assessment_not_found"
    assert counts(container) == before


def test_scoped_roles(client: TestClient, container: Container, credit: dict[str, Any], make_user: MakeUser) -> None:
    assert client.post(f"{API}/teams", json={"name": "marketing"}).status_code == 201
    _, own = make_user("ml-engineer", scope="team:risk")
    _, other = make_user("ml-engineer", scope="team:marketing")
    _, viewer = make_user("viewer")
    before = counts(container)
    r = client.post(f"{VERSIONS}/evaluations", json=evaluation_body("biased"), headers=bearer(other))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = client.post(f"{VERSIONS}/assessments", json={}, headers=bearer(viewer))
    assert r.status_code == 403
    assert counts(container) == before
    a = submit(client, "biased", headers=bearer(own))["assessment"]
    assert a["created_by"] == "user:u1"
    assert client.get(f"{API}/assessments/{a['id']}", headers=bearer(viewer)).status_code == 200
    r = client.get(f"{API}/assessments/{a['id']}", headers=bearer(other))
    assert r.status_code == 403
