"""Stored policies over the API on SQLite and PostgreSQL: versions by digest, no-op re-adds, supersede, reactivate,
located errors with nothing stored, rule-level diffs, coverage, the active set, audit entries, authorization."""

from __future__ import annotations

import httpx2
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.policies import builtin_baselines, load_policy
from charter.policies import service as policies
from tests.conftest import MakeUser, bearer
from tests.integration.policies_eval.conftest import API, audit_actions, counts

YAML = {"Content-Type": "application/yaml"}
CREDIT = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: credit-scoring
  description: Extra rules for consumer credit scoring.
rules:
  - id: CREDIT-ACCURACY
    title: Accuracy of at least 0.8 for credit decisions
    severity: blocker
    when: system.risk_tier == 'high'
    check: performance.accuracy >= 0.8
    evidence: [performance.accuracy]
    controls: [EUAIA-ART15]
    remediation: Retrain until held-out accuracy reaches 0.8.
  - id: CREDIT-AGE-EVALUATED
    title: Age is among the evaluated sensitive attributes
    severity: major
    check: "'age_band' in fairness_summary.attributes"
    controls: [EUAIA-ART10]
    remediation: Evaluate with --sensitive age_band.
"""
CREDIT_V2 = (
    CREDIT.replace(">= 0.8", ">= 0.7")
    .replace("severity: major", "severity: minor")
    .replace(
        "  - id: CREDIT-AGE-EVALUATED",
        """  - id: CREDIT-GPAI
    title: Not a general-purpose model
    severity: minor
    check: "!system.gpai"
    controls: [EUAIA-ART53-1A, EUAIA-ANNEXIII-5]
    remediation: Use a dedicated scoring model.
  - id: CREDIT-AGE-EVALUATED""",
    )
)
BROKEN = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: broken
rules:
  - id: BROKEN-1
    title: Uses names that do not exist
    severity: critical
    check: system.risk_teir == 'high' && performance.accuracy.lowerAscii() > 0.8
    controls: [eu-ai-act:art-15]
    remediation: Fix the typos.
    evidences: [performance.accuracy]
"""


def add(
    client: TestClient, text: str, filename: str = "credit.yaml", key: str | None = None
) -> httpx2.Response:  # starlette's TestClient is an httpx2 client
    headers = {**YAML, **(bearer(key) if key else {})}
    return client.post(f"{API}/policies", content=text.encode(), headers=headers, params={"filename": filename})


def test_versions_by_digest_noop_supersede_reactivate(client: TestClient, container: Container) -> None:
    v1 = load_policy(CREDIT).digest
    r = add(client, CREDIT)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "created" and doc["digest"] == v1 and doc["active"] and doc["rules"] == 2
    assert doc["created_by"] == "user:admin" and doc["superseded"] is None

    before = counts(container)
    r = add(client, "# a comment changes nothing\n" + CREDIT, filename="other.yaml")
    assert r.status_code == 200 and r.json()["status"] == "unchanged"
    assert counts(container) == before  # no row, no audit entry

    r = add(client, CREDIT_V2)
    v2 = r.json()["digest"]
    assert r.status_code == 201 and r.json()["superseded"] == v1 and v2 != v1
    active = client.get(f"{API}/policies").json()["items"]
    assert [(p["name"], p["origin"]) for p in active] == [
        ("charter-ethical-baseline", "builtin"),
        ("charter-evidence-baseline", "builtin"),
        ("charter-genai-baseline", "builtin"),
        ("charter-regulatory-baseline", "builtin"),
        ("charter-security-baseline", "builtin"),
        ("credit-scoring", "stored"),
    ]
    assert active[-1]["digest"] == v2
    every = client.get(f"{API}/policies", params={"all": "true"}).json()["items"]
    assert [(p["digest"], p["active"]) for p in every if p["name"] == "credit-scoring"] == [(v1, False), (v2, True)]

    r = add(client, CREDIT)  # the old content again: it becomes the active version, no new row
    assert r.status_code == 201 and r.json()["status"] == "reactivated"
    assert r.json()["superseded"] == v2
    with container.uow(write=False) as uow:
        names = {d.name: d.digest for d in policies.active_policies(uow)}
    assert names["credit-scoring"] == v1 and len(names) == 6
    actions = [(a, res, d.get("digest")) for a, res, d in audit_actions(container) if a.startswith("policy.")]
    assert actions == [
        ("policy.add", "policy:credit-scoring", v1),
        ("policy.add", "policy:credit-scoring", v2),
        ("policy.activate", "policy:credit-scoring", v1),
    ]


def test_invalid_policy_is_located_and_nothing_is_stored(client: TestClient, container: Container) -> None:
    before = counts(container)
    r = add(client, BROKEN, filename="policies/broken.yaml")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "policy_invalid"
    problems = body["details"]["problems"]
    assert [(p["file"], p["line"], p["column"]) for p in problems] == [
        ("policies/broken.yaml", 8, 15),
        ("policies/broken.yaml", 9, 19),
        ("policies/broken.yaml", 9, 63),
        ("policies/broken.yaml", 10, 16),
        ("policies/broken.yaml", 12, 5),
    ]
    assert "did you mean 'risk_tier'" in body["detail"] and "policies/broken.yaml:10:16" in body["detail"]
    # a rule id already used by an active policy (here a baseline) is rejected with both positions
    dup = CREDIT.replace("CREDIT-ACCURACY", "ETH-DP-DIFF")
    r = add(client, dup)
    assert r.status_code == 422 and "rule id 'ETH-DP-DIFF' is already used" in r.json()["detail"]
    assert "credit.yaml:7:" in r.json()["detail"]
    for bad in ("", "\xff\xfe", "[1, 2"):
        r = client.post(f"{API}/policies", content=bad.encode("latin-1"), headers=YAML)
        assert r.status_code == 422, (bad, r.text)
    r = client.post(f"{API}/policies", json={"source": CREDIT, "filename": "x.yaml", "extra": 1})
    assert r.status_code == 422 and r.json()["field"] == "extra"
    assert counts(container) == before


def test_json_body_and_show_by_name_and_digest(client: TestClient) -> None:
    r = client.post(f"{API}/policies", json={"source": CREDIT, "filename": "credit.yaml"})
    assert r.status_code == 201, r.text
    digest = r.json()["digest"]
    by_name = client.get(f"{API}/policies/credit-scoring").json()
    by_digest = client.get(f"{API}/policies/{digest[:10]}").json()
    assert by_name == by_digest
    assert by_name["source"] == CREDIT and [x["id"] for x in by_name["rule_list"]] == [
        "CREDIT-ACCURACY",
        "CREDIT-AGE-EVALUATED",
    ]
    builtin = client.get(f"{API}/policies/charter-ethical-baseline").json()
    assert builtin["origin"] == "builtin" and "ETH-DP-DIFF" in builtin["source"]
    assert builtin["digest"] == builtin_baselines()[0].digest
    r = client.get(f"{API}/policies/no-such-policy")
    assert r.status_code == 404 and r.json()["code"] == "policy_not_found"


def test_rule_level_diff(client: TestClient) -> None:
    v1 = add(client, CREDIT).json()["digest"]
    v2 = add(client, CREDIT_V2).json()["digest"]
    for diff in (
        client.get(f"{API}/policies/credit-scoring/diff").json(),
        client.get(f"{API}/policies/{v1}/diff", params={"to": v2[:12]}).json(),
    ):
        assert diff["from"]["digest"] == v1 and diff["to"]["digest"] == v2
        assert [r["id"] for r in diff["added"]] == ["CREDIT-GPAI"] and diff["removed"] == []
        changed = {c["id"]: c["changes"] for c in diff["changed"]}
        assert changed["CREDIT-ACCURACY"]["check"] == {
            "before": "performance.accuracy >= 0.8",
            "after": "performance.accuracy >= 0.7",
        }
        assert changed["CREDIT-AGE-EVALUATED"] == {"severity": {"before": "major", "after": "minor"}}
    back = client.get(f"{API}/policies/{v2}/diff", params={"to": v1}).json()
    assert [r["id"] for r in back["removed"]] == ["CREDIT-GPAI"] and back["added"] == []
    r = client.get(f"{API}/policies/charter-ethical-baseline/diff")
    assert r.status_code == 404 and r.json()["code"] == "no_previous_version"


def test_overriding_a_baseline_by_name(client: TestClient, container: Container) -> None:
    ethical = builtin_baselines()[0]
    text = client.get(f"{API}/policies/{ethical.name}").json()["source"]
    stricter = text.replace("Demographic parity difference within the threshold", "DP difference at most 0.05")
    stricter = stricter.replace(
        "fairness_summary.dp_diff_max <= thresholds.dp_diff_max", "fairness_summary.dp_diff_max <= 0.05"
    )
    r = add(client, stricter, filename="ethical.yaml")
    assert r.status_code == 201 and r.json()["superseded"] == ethical.digest
    diff = client.get(f"{API}/policies/{ethical.name}/diff").json()
    assert diff["from"]["origin"] == "builtin" and diff["to"]["origin"] == "stored"
    assert [c["id"] for c in diff["changed"]] == ["ETH-DP-DIFF"]
    with container.uow(write=False) as uow:
        active = policies.active_policies(uow)
    assert [p.digest for p in active if p.name == ethical.name] == [r.json()["digest"]]
    items = client.get(f"{API}/policies", params={"all": "true"}).json()["items"]
    assert [(p["origin"], p["active"]) for p in items if p["name"] == ethical.name] == [
        ("builtin", False),
        ("stored", True),
    ]


def test_coverage_of_the_active_set(client: TestClient) -> None:
    summary = client.get(f"{API}/controls/coverage").json()
    fws = {i["framework"]: i for i in summary["items"]}
    assert set(fws) >= {"eu-ai-act", "gdpr", "iso-iec-42001-2023"} and len(summary["policies"]) == 5
    before = client.get(f"{API}/controls/coverage", params={"framework": "eu-ai-act"}).json()
    assert "EUAIA-ANNEXIII-5" not in {c["id"] for c in before["covered"]}
    add(client, CREDIT_V2)
    after = client.get(f"{API}/controls/coverage", params={"framework": "eu-ai-act"}).json()
    covered = {c["id"]: c["rules"] for c in after["covered"]}
    assert covered["EUAIA-ART53-1A"] == [
        "charter-regulatory-baseline/REG-GPAI-DOCUMENTATION",
        "credit-scoring/CREDIT-GPAI",
    ]
    assert covered["EUAIA-ANNEXIII-5"] == ["credit-scoring/CREDIT-GPAI"]
    # the legal status of every control reaches the API (and so `charter controls coverage`): it was dropped
    by_id = {c["id"]: c for c in after["covered"] + after["uncovered"]}
    assert all(c["legal_status"] and c["legal_source"] for c in by_id.values())
    assert (
        by_id["EUAIA-ART4A"]["legal_status"] == "adopted_amendment"
        and "2026/1744" in by_id["EUAIA-ART4A"]["legal_source"]
    )
    assert by_id["EUAIA-ART9"]["legal_status"] == "in_force"
    assert after["covered_count"] == before["covered_count"] + 1  # ART53-1A was covered by the baseline already
    high = client.get(f"{API}/controls/coverage", params={"framework": "gdpr", "risk_tier": "high"}).json()
    assert high["risk_tier"] == "high" and high["total"] <= fws["gdpr"]["total"]
    r = client.get(f"{API}/controls/coverage", params={"framework": "sox"})
    assert r.status_code == 404 and "sox" in r.json()["detail"]
    r = client.get(f"{API}/controls/coverage", params={"risk_tier": "extreme"})
    assert r.status_code == 422 and r.json()["field"] == "risk_tier"


def test_only_policy_writers_add_policies(client: TestClient, container: Container, make_user: MakeUser) -> None:
    _, ml = make_user("ml-engineer")
    _, senior = make_user("senior-engineer")
    _, viewer = make_user("viewer")
    r = add(client, CREDIT, key=ml)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert client.get(f"{API}/policies", headers=bearer(viewer)).status_code == 200
    assert client.get(f"{API}/controls/coverage", headers=bearer(viewer)).status_code == 200
    r = add(client, CREDIT, key=senior)
    assert r.status_code == 201 and r.json()["created_by"] == "user:u2"
    with container.uow() as uow:  # services authorize too, whatever the entrypoint
        assert policies.add_policy(uow, SYSTEM_ACTOR, source=CREDIT).status == "unchanged"


def test_deactivating_a_policy(client: TestClient, container: Container, make_user: MakeUser) -> None:
    """A stored policy leaves the active set (audited with the reason); an override gives way to its baseline;
    baselines themselves stay; re-adding the file activates it again."""
    credit = add(client, CREDIT, filename="credit.yaml").json()
    ethical = builtin_baselines()[0]
    stricter = client.get(f"{API}/policies/{ethical.name}").json()["source"].replace("Demographic parity", "DP")
    override = add(client, stricter, filename="ethical.yaml").json()

    r = client.post(f"{API}/policies/credit-scoring/deactivate", json={"reason": "moved into the bank's baseline"})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["superseded_at"], r.text
    r = client.post(f"{API}/policies/{ethical.name}/deactivate", json={"reason": "back to the default"})
    assert r.status_code == 200
    with container.uow(write=False) as uow:
        active = {p.name: p.digest for p in policies.active_policies(uow)}
    assert "credit-scoring" not in active and active[ethical.name] == ethical.digest  # the baseline is back
    deactivations = [(res, d) for a, res, d in audit_actions(container) if a == "policy.deactivate"]
    assert deactivations[0][0] == "policy:credit-scoring" and deactivations[0][1]["digest"] == credit["digest"]
    assert deactivations[0][1]["reason"] == "moved into the bank's baseline"
    assert deactivations[1][1]["baseline_restored"] == ethical.digest and deactivations[1][1]["id"] == override["id"]

    r = client.post(f"{API}/policies/{ethical.name}/deactivate", json={"reason": "x"})
    assert r.status_code == 409 and r.json()["code"] == "builtin_policy" and "charter policy add" in r.json()["detail"]
    r = client.post(f"{API}/policies/credit-scoring/deactivate", json={"reason": "again"})
    assert r.status_code == 404 and r.json()["code"] == "policy_not_found"
    assert client.post(f"{API}/policies/credit-scoring/deactivate", json={}).status_code == 422
    _, viewer = make_user("viewer")
    r = client.post(f"{API}/policies/credit-scoring/deactivate", json={"reason": "x"}, headers=bearer(viewer))
    assert r.status_code == 403

    again = add(client, CREDIT, filename="credit.yaml")
    assert again.json()["status"] == "reactivated" and again.json()["digest"] == credit["digest"]
