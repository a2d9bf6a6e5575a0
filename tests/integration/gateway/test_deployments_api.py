"""Deployments over the API (add/list/show/remove, scoped permissions) and SDK decisions (`charter.guard`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.bootstrap import Container
from charter.deployments import service
from charter.guard import Guard, LicenseDenied
from charter.guard.local import LocalDecider
from charter.licenses import service as licenses
from tests.conftest import MakeUser, bearer
from tests.support.gateway_fake.world import Licensed, licensed

BODY = {"name": "credit-prod", "model": "credit@1.0", "env": "production", "upstream": "http://127.0.0.1:9/"}


@pytest.fixture
def world(container: Container) -> Licensed:
    return licensed(container)


def _decision_entries(container: Container) -> list[dict[str, Any]]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action.like("inference.%")))
        return [json.loads(bytes(b)) for b in rows]


def test_deployment_crud_and_permissions(client: TestClient, world: Licensed, make_user: MakeUser) -> None:
    r = client.post("/api/v1/deployments", json=BODY)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["digest"] == world.digest and doc["upstream"] == "http://127.0.0.1:9" and doc["kind"] == "openai"
    assert client.post("/api/v1/deployments", json=BODY).json()["code"] == "deployment_exists"
    bad = client.post("/api/v1/deployments", json={**BODY, "name": "x", "model": "credit@9.9"})
    assert bad.status_code == 404
    assert client.post("/api/v1/deployments", json={**BODY, "upstream": "ftp://x"}).status_code == 422
    assert [d["name"] for d in client.get("/api/v1/deployments").json()["items"]] == ["credit-prod"]
    assert client.get("/api/v1/deployments/credit-prod").json()["model"] == "credit@1.0"
    assert client.get("/api/v1/deployments/nope").json()["code"] == "deployment_not_found"
    _, ml = make_user("ml-engineer")
    assert client.post("/api/v1/deployments", json={**BODY, "name": "b"}, headers=bearer(ml)).status_code == 403
    assert client.get("/api/v1/deployments", headers=bearer(ml)).status_code == 200
    _, senior = make_user("senior-engineer", scope="system:other")
    r = client.post("/api/v1/deployments", json={**BODY, "name": "c"}, headers=bearer(senior))
    assert r.status_code == 403  # scoped to another system
    assert client.delete("/api/v1/deployments/credit-prod").status_code == 200
    assert client.get("/api/v1/deployments").json()["items"] == []
    with client.app.container.uow(write=False) as uow:  # type: ignore[attr-defined]
        rows = uow.session.execute(select(AuditEntryRow.action).order_by(AuditEntryRow.seq))
        actions = [a for (a,) in rows if a.startswith("deployment.")]
    assert actions == ["deployment.create", "deployment.delete"]


def test_sdk_decisions_over_the_api(client: TestClient, world: Licensed, container: Container) -> None:
    assert client.post("/api/v1/deployments", json=BODY).status_code == 201
    app = bearer(world.app_key)
    ok = client.post("/api/v1/deployments/credit-prod/decisions", json={"purpose": "credit-scoring"}, headers=app)
    assert ok.status_code == 201 and ok.json()["allowed"] and ok.json()["license_id"] == world.license_id
    body = {"purpose": "credit-scoring", "tools": ["send_email"], "request_digest": "sha256:" + "a" * 64}
    no = client.post("/api/v1/deployments/credit-prod/decisions", json=body, headers=app).json()
    assert not no["allowed"] and no["reason"] == "tool_not_in_scope"
    assert client.post("/api/v1/deployments/credit-prod/decisions", json={}).status_code == 403  # admin: no app role
    entries = {e["details"]["decision_id"]: e for e in _decision_entries(container)}
    assert entries[ok.json()["decision_id"]]["action"] == "inference.allow"
    denied = entries[no["decision_id"]]
    assert denied["action"] == "inference.deny" and denied["details"]["via"] == "sdk"
    assert denied["digests"]["request"].startswith("hmac-sha256:")


def test_guard_local_decider_enforces_and_follows_suspension(world: Licensed, container: Container) -> None:
    from charter.auth.model import SYSTEM_ACTOR
    from charter.deployments.schemas import DeploymentCreate

    with container.uow() as uow:
        service.add(
            uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(BODY), allow=container.settings.upstream_allowlist
        )
    guard = Guard("credit-prod", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))

    @guard
    def predict(x: int) -> int:
        return x + 1

    assert predict(1) == 2 and guard.last is not None and guard.last.allowed
    with container.uow() as uow:
        licenses.suspend(uow, SYSTEM_ACTOR, world.license_id, "drift")
    with pytest.raises(LicenseDenied) as err:
        predict(2)
    assert err.value.code == "license_suspended"
    shadow = Guard("credit-prod", purpose="credit-scoring", mode="shadow", decider=guard.decider)
    with shadow as decision:
        assert not decision.allowed
    assert len(_decision_entries(container)) == 3
