"""The licenses API and the public verification endpoints, through HTTP with real keys."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from charter.licenses.jose import KeySet
from charter.licenses.verify import verify_license
from tests.conftest import bearer
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import World


def test_license_flow_over_http(client: TestClient, world: World) -> None:
    model = world.system("limited") + "@1.0"
    body = {
        "model": model,
        "env": "production",
        "purposes": ["credit-decisioning"],
        "callers": ["app:loan-portal"],
        "days": 30,
        "conditions": ["drift.psi_max < 0.25 => suspend"],
    }
    r = client.post("/api/v1/licenses", json=body, headers=bearer(world.keys["rita"]))
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    r = client.post(
        f"/api/v1/licenses/{lid}/signoffs", json={"function": "ml-lead"}, headers=bearer(world.keys["rita"])
    )
    assert r.status_code == 403 and r.json()["code"] == "signoff_by_requester"
    for fn in ("ml-lead", "security"):
        r = client.post(
            f"/api/v1/licenses/{lid}/signoffs", json={"function": fn, "comment": "fine"}, headers=bearer(world.keys[fn])
        )
        assert r.status_code == 201, r.text
    status = r.json()
    assert status["state"] == "approved" and status["missing"][0].startswith("assessment: none")
    r = client.post(f"/api/v1/licenses/{lid}/activate", headers=bearer(world.keys["rita"]))
    assert r.status_code == 409 and r.json()["code"] == "license_requirements_unmet"
    assess(world, model, blockers=[])
    r = client.post(f"/api/v1/licenses/{lid}/activate", headers=bearer(world.keys["rita"]))
    assert r.status_code == 200 and r.json()["state"] == "active"

    token = client.get(f"/api/v1/licenses/{lid}/token").json()["token"]
    anon = TestClient(client.app)
    jwks = anon.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    sl = anon.get("/.well-known/charter/status-list")
    assert sl.status_code == 200 and sl.headers["content-type"].startswith("application/statuslist+jwt")
    keys = KeySet.from_jwks(jwks.json())
    assert verify_license(token, keys, now=int(time.time()), status_list=sl.text).status == "valid"

    r = client.get("/api/v1/licenses/check", params={"model": model, "env": "production"})
    assert r.json()["allowed"] is True and r.json()["license"] == lid
    r = client.post(f"/api/v1/licenses/{lid}/suspend", json={"reason": "drift"}, headers=bearer(world.keys["sam"]))
    assert r.status_code == 200 and r.json()["state"] == "suspended"
    r = client.post(f"/api/v1/licenses/{lid}/suspend", json={"reason": "again"}, headers=bearer(world.keys["sam"]))
    assert r.status_code == 409 and r.json()["code"] == "license_invalid_transition"
    r = client.post(f"/api/v1/licenses/{lid}/suspend", json={"reason": "x"}, headers=bearer(world.keys["rita"]))
    assert r.status_code == 403
    sl2 = anon.get("/.well-known/charter/status-list").text
    try:
        verify_license(token, keys, now=int(time.time()), status_list=sl2)
        raise AssertionError("suspended license verified")
    except Exception as exc:
        assert getattr(exc, "code", "") == "suspended"
    r = client.get("/api/v1/licenses/check", params={"model": model, "env": "production"})
    assert r.json()["allowed"] is False and "suspended" in r.json()["reasons"][0]
    r = client.get("/api/v1/licenses", params={"state": "suspended"})
    assert [i["id"] for i in r.json()["items"]] == [lid]
    r = client.get("/api/v1/licenses", params={"expiring_within_days": 31})
    assert [i["id"] for i in r.json()["items"]] == [lid]
    assert client.get("/api/v1/licenses", params={"expiring_within_days": 10}).json()["items"] == []
    r = client.post(f"/api/v1/licenses/{lid}/revoke", json={"reason": "done"}, headers=bearer(world.keys["sam"]))
    assert r.json()["state"] == "revoked"
    r = client.get("/api/v1/reaudits", params={"status": "open"})
    assert [t["system"] for t in r.json()["items"]] == [model.split("@")[0]]


def test_errors_are_problems(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/licenses/lic_nope")
    assert r.status_code == 404 and r.json()["code"] == "license_not_found"
    r = client.post(
        "/api/v1/licenses",
        json={"model": "x@1", "env": "Prod!", "purposes": [], "callers": [], "days": 0},
        headers=bearer(world.keys["rita"]),
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = client.get("/api/v1/licenses", params={"state": "dancing"})
    assert r.status_code == 422 and r.json()["field"] == "state"
    r = client.post(
        "/api/v1/licenses",
        json={
            "model": world.system("prohibited") + "@1.0",
            "env": "production",
            "purposes": ["p"],
            "callers": ["app:loan-portal"],
            "days": 10,
        },
        headers=bearer(world.keys["rita"]),
    )
    assert r.status_code == 422 and r.json()["code"] == "system_prohibited"
