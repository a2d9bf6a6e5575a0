"""Per-system thresholds: a system may tighten the baselines' parameters (the mitigated credit model then fails
parity for that system), never loosen them; the evaluated party cannot send its own thresholds."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.integration.policies_eval.conftest import API, audit_actions, evaluation_body
from tests.integration.policies_eval.test_evaluation_api import submit


def test_tightened_thresholds_apply_to_the_systems_assessments(
    client: TestClient, container: Any, credit: dict[str, Any]
) -> None:
    mitigated = submit(client, "mitigated")["assessment"]
    assert mitigated["verdict"] == "pass"
    dp = mitigated["evidence"]["fairness_summary"]["dp_diff_max"]
    assert mitigated["evidence"]["thresholds"]["dp_diff_max"] == 0.1 and 0 < dp < 0.1

    tighter = round(dp / 2, 4)
    r = client.patch(f"{API}/systems/credit-scoring", json={"thresholds": {"dp_diff_max": tighter}})
    assert r.status_code == 200 and r.json()["thresholds"] == {"dp_diff_max": tighter}, r.text
    again = submit(client, "mitigated")["assessment"]
    assert again["verdict"] == "fail" and "ETH-DP-DIFF" in again["blockers"]
    assert again["evidence"]["thresholds"]["dp_diff_max"] == tighter
    changes = [d["changes"] for a, _, d in audit_actions(container) if a == "system.update"]
    assert changes[-1]["thresholds"] == [None, {"dp_diff_max": tighter}]

    # the evaluated party's own "thresholds" section is not accepted
    body = evaluation_body("mitigated")
    body["evidence"]["thresholds"] = {"dp_diff_max": 1.0}
    r = client.post(f"{API}/systems/credit-scoring/versions/1.0.0/evaluations", json=body)
    assert r.status_code == 422 and "thresholds" in r.text

    r = client.patch(f"{API}/systems/credit-scoring", json={"thresholds": {"dp_diff_max": None}})
    assert r.status_code == 200 and r.json()["thresholds"] == {}
    assert submit(client, "mitigated")["assessment"]["verdict"] == "pass"


def test_thresholds_may_only_tighten(client: TestClient, credit: dict[str, Any]) -> None:
    cases = [
        ({"dp_diff_max": 0.2}, "thresholds.dp_diff_max", "only tighten"),
        ({"accuracy_min": 0.5}, "thresholds.accuracy_min", "below the baseline's 0.7"),
        ({"dp_diff": 0.05}, "thresholds.dp_diff", "unknown threshold"),
        ({"accuracy_min": 1.5}, "thresholds.accuracy_min", "from 0 to 1"),
    ]
    for body, field, says in cases:
        r = client.patch(f"{API}/systems/credit-scoring", json={"thresholds": body})
        assert r.status_code == 422 and r.json()["field"] == field and says in r.json()["detail"], r.text
    assert client.get(f"{API}/systems/credit-scoring").json()["thresholds"] == {}
    r = client.patch(f"{API}/systems/credit-scoring", json={"thresholds": {"accuracy_min": 0.9}})
    assert r.status_code == 200 and r.json()["thresholds"] == {"accuracy_min": 0.9}
