"""Retiring a model version: every open license is revoked in the same transaction as the catalog change, the
gateway's state version moves, and the version can never be licensed again; a caller short of one permission
changes nothing."""

from __future__ import annotations

from starlette.testclient import TestClient

from charter.licenses import service
from tests.conftest import MakeUser, bearer
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import World
from tests.integration.policies_eval.conftest import audit_actions


def _active(client: TestClient, world: World, model: str, env: str) -> str:
    lic = world.request(model, env=env)
    world.approve_all(lic.id)
    r = client.post(f"/api/v1/licenses/{lic.id}/activate", headers=bearer(world.keys["rita"]))
    assert r.status_code == 200, r.text
    return lic.id


def test_retire_revokes_every_open_license_at_once(client: TestClient, world: World) -> None:
    model = world.system("limited") + "@1.0"
    assess(world, model, blockers=[])
    prod = _active(client, world, model, "production")
    staging = _active(client, world, model, "staging")
    client.post(f"/api/v1/licenses/{staging}/suspend", json={"reason": "drift"}, headers=bearer(world.keys["sam"]))
    pending = world.request(model, env="development").id
    other = world.system("limited") + "@1.0"  # another system's license is untouched
    assess(world, other, blockers=[])
    untouched = _active(client, world, other, "production")
    with world.c.uow(write=False) as uow:
        version_before = service.state_version(uow)

    path = "/api/v1/systems/" + model.replace("@", "/versions/") + "/retire"
    r = client.post(path, json={"reason": "superseded by 2.0"}, headers=bearer(world.keys["sam"]))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["revoked"]) == sorted([prod, staging, pending])
    assert r.json()["model"]["retired_by"] == "user:sam" and r.json()["model"]["retire_reason"] == "superseded by 2.0"
    states = {lid: world.get(lid).state for lid in (prod, staging, pending, untouched)}
    assert states == {prod: "revoked", staging: "revoked", pending: "revoked", untouched: "active"}
    assert "superseded by 2.0" in (world.get(prod).reason or "")
    with world.c.uow(write=False) as uow:
        assert service.state_version(uow) > version_before  # gateways reload and refuse
    check = client.get("/api/v1/licenses/check", params={"model": model, "env": "production"}).json()
    assert check["allowed"] is False
    system = client.get(f"/api/v1/systems/{model.split('@')[0]}").json()
    assert system["production_licensed"] is False

    actions = [(a, res) for a, res, _ in audit_actions(world.c)]
    assert ("model.retire", f"model:{model}") in actions
    assert sum(1 for a, res in actions if a == "license.revoke" and res.split(":")[1] in (prod, staging, pending)) == 3

    r = client.post("/api/v1/licenses", json={"model": model, "env": "production", "purposes": ["credit-decisioning"],
                    "callers": ["app:loan-portal"], "days": 30}, headers=bearer(world.keys["rita"]))  # fmt: skip
    assert r.status_code == 409 and r.json()["code"] == "model_retired" and "register a new version" in r.text
    r = client.post(path, json={"reason": "again"}, headers=bearer(world.keys["sam"]))
    assert r.status_code == 409 and r.json()["code"] == "model_retired"
    listed = client.get(f"/api/v1/systems/{model.split('@')[0]}/versions").json()["items"]
    assert listed[0]["retired_at"]
    deploy = {"name": "retired-dep", "model": model, "env": "production", "upstream": "http://127.0.0.1:9"}
    r = client.post("/api/v1/deployments", json=deploy, headers=bearer(world.keys["sam"]))
    assert r.status_code == 409 and r.json()["code"] == "model_retired", r.text


def test_retire_is_all_or_nothing(client: TestClient, world: World, make_user: MakeUser) -> None:
    model = world.system("limited") + "@1.0"
    assess(world, model, blockers=[])
    lic = _active(client, world, model, "staging")
    path = "/api/v1/systems/" + model.replace("@", "/versions/") + "/retire"
    # an ml-engineer may write this (non-production) system's catalog entry, but not manage its licenses: the
    # version is marked retired first, then the revocation is refused, and the whole transaction rolls back
    r = client.post(path, json={"reason": "x"}, headers=bearer(world.keys["rita"]))
    assert r.status_code == 403 and "license.manage" in r.json()["detail"], r.text
    assert world.get(lic).state == "active"
    assert client.get(f"/api/v1/systems/{model.split('@')[0]}/versions/1.0").json()["retired_at"] is None
    assert client.post(path, json={}, headers=bearer(world.keys["sam"])).status_code == 422
    r = client.post("/api/v1/systems/nope/versions/1.0/retire", json={"reason": "x"}, headers=bearer(world.keys["sam"]))
    assert r.status_code == 404
