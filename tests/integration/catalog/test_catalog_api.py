"""Catalog over the API on SQLite and PostgreSQL: registration, lineage, provenance, locks, production authz,
bad input (4xx problem+json, nothing written), audit trail, evidence shape, CycloneDX 1.6 validity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from sqlalchemy import func, select
from starlette.testclient import TestClient

from charter.audit.tables import AuditEntryRow
from charter.bootstrap import Container
from charter.catalog import service
from charter.catalog.questionnaire import example
from charter.catalog.tables import DatasetRow, LineageEdgeRow, ModelVersionRow, SystemRow
from charter.policies.evidence import type_problems
from tests.conftest import MakeUser, bearer

API = "/api/v1"
HEX = "0123456789abcdef" * 4
SCHEMAS = Path(__file__).with_name("cyclonedx")


def high_risk_answers() -> dict[str, Any]:
    doc = example()
    doc["annex_iii"]["point"] = "5(b)"
    doc["context"]["decisions_about_persons"] = True
    doc["data"]["personal_data"] = True
    return doc


def register_all(client: TestClient) -> None:
    assert client.post(f"{API}/teams", json={"name": "risk"}).status_code == 201
    r = client.post(
        f"{API}/systems",
        json={
            "name": "credit",
            "purpose": "Consumer creditworthiness",
            "team": "risk",
            "answers": high_risk_answers(),
            "human_oversight": "loan officer reviews every refusal",
            "log_retention_days": 200,
        },
    )
    assert r.status_code == 201, r.text
    raw = {"name": "loans-raw", "digest": "a" * 64, "license": "CC-BY-4.0", "personal_data": True}
    r = client.post(f"{API}/datasets", json={**raw, "lawful_basis": "contract"})
    assert r.status_code == 201, r.text
    r = client.post(
        f"{API}/datasets",
        json={
            "name": "loans",
            "digest": "sha256:" + "b" * 64,
            "license": "cc-by-4.0",
            "lawful_basis": "contract",
            "personal_data": True,
            "derived_from": ["loans-raw"],
            "schema": [{"name": "amount", "type": "double"}],
            "row_count": 10,
            "retention_until": "2099-01-01",
        },
    )
    assert r.status_code == 201, r.text
    files = [{"path": "model.onnx", "size": 5, "sha256": HEX}]
    body = {"version": "1.0", "digest": HEX, "size_bytes": 5, "files": files, "card": {"license": "apache-2.0"}}
    r = client.post(f"{API}/systems/credit/versions", json=body)
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/lineage", json={"dataset": "loans", "model": "credit@1.0", "role": "training"})
    assert r.status_code == 201, r.text


def counts(container: Container) -> tuple[int, ...]:
    with container.uow(write=False) as uow:
        s = uow.session
        return tuple(
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (SystemRow, ModelVersionRow, DatasetRow, LineageEdgeRow, AuditEntryRow)
        )


def actions(container: Container) -> list[tuple[str, str]]:
    with container.uow(write=False) as uow:
        rows = uow.session.execute(select(AuditEntryRow.action, AuditEntryRow.resource).order_by(AuditEntryRow.seq))
        return [(a, r) for a, r in rows.tuples()]


def test_register_flow_lineage_provenance_and_audit(client: TestClient, container: Container) -> None:
    register_all(client)
    system = client.get(f"{API}/systems/credit").json()
    assert system["risk_tier"] == "high" and system["annex_iii_area"] == "5(b)" and not system["is_prohibited"]
    assert "EUAIA-ART27" in system["obligations"]
    why = {o["id"]: o["why"] for o in system["obligations_explained"]}
    assert "5(b)" in why["EUAIA-ART27"]
    version = client.get(f"{API}/systems/credit/versions/1.0").json()
    assert version["digest"] == f"sha256:{HEX}" and version["format"] == "onnx" and version["license"] == "Apache-2.0"
    assert not version["locked"]
    ds = client.get(f"{API}/datasets/loans").json()
    assert (
        ds["license"] == "CC-BY-4.0" and ds["derived_from"] == ["loans-raw@1"] and ds["schema"][0]["name"] == "amount"
    )
    tree = client.get(f"{API}/systems/credit/versions/1.0/lineage").json()
    assert tree == client.get(f"{API}/lineage/credit@1.0").json()
    assert tree["datasets"][0]["ref"] == "loans@1" and tree["datasets"][0]["upstream"][0]["ref"] == "loans-raw@1"
    assert tree["provenance"] == {"complete": True, "issues": []}
    assert [a for a, _ in actions(container) if not a.startswith(("user.", "team."))] == [
        "system.register",
        "dataset.register",
        "dataset.register",
        "model.register",
        "lineage.link",
    ]
    assert ("lineage.link", "model:credit@1.0") in actions(container)
    assert len(client.get(f"{API}/systems").json()["items"]) == 1
    assert [m["ref"] for m in client.get(f"{API}/models").json()["items"]] == ["credit@1.0"]


def test_provenance_flags_missing_basis_license_and_digest(client: TestClient, container: Container) -> None:
    register_all(client)
    r = client.post(f"{API}/datasets", json={"name": "holdout", "personal_data": True})
    assert r.status_code == 201 and r.json()["version"] == "1"
    assert (
        client.post(f"{API}/lineage", json={"dataset": "holdout", "model": "credit@1.0", "role": "test"}).status_code
        == 201
    )
    prov = client.get(f"{API}/lineage/credit@1.0").json()["provenance"]
    assert not prov["complete"]
    assert prov["issues"] == [
        "holdout@1 (test): no digest",
        "holdout@1 (test): no license",
        "holdout@1 (test): personal data without a GDPR Art. 6 lawful basis",
    ]
    with container.uow(write=False) as uow:
        evidence = service.evidence_context(uow, "credit@1.0")
    assert evidence["provenance"]["complete"] is False
    assert {d["name"]: d["role"] for d in evidence["datasets"]} == {
        "loans": "training",
        "loans-raw": "training",
        "holdout": "test",
    }


def test_evidence_context_has_the_agreed_shape(client: TestClient, container: Container) -> None:
    register_all(client)
    with container.uow(write=False) as uow:
        evidence = service.evidence_context(uow, "credit@1.0")
        mv = service.get_model_version(uow, "credit@1.0")
        system = service.get_system(uow, "credit")
        resource = service.system_resource(uow, "credit")
    assert type_problems(evidence) == []
    assert set(evidence) == {"system", "model", "datasets", "provenance", "thresholds"}
    assert set(evidence["system"]) == {
        "name", "risk_tier", "annex_iii_area", "gpai", "gpai_systemic", "generative", "personal_data",
        "special_category_data", "human_oversight", "dpia_reference", "log_retention_days", "owner_team",
        "access_restricted",
    }  # fmt: skip
    assert evidence["system"]["generative"] is False and evidence["system"]["gpai_systemic"] is False
    assert evidence["model"]["digest_pinned"] is True and evidence["model"]["digest"] == mv.digest
    assert evidence["system"]["owner_team"] == "risk" and evidence["system"]["log_retention_days"] == 200
    assert set(evidence["datasets"][0]) == {
        "name",
        "digest",
        "license",
        "lawful_basis",
        "personal_data",
        "special_category",
        "role",
    }
    assert system.risk_tier == "high" and system.obligations
    assert (resource.kind, resource.name, resource.team, resource.system, resource.production) == (
        "system", "credit", "risk", "credit", False,
    )  # fmt: skip


def problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    if code:
        assert body["code"] == code, body
    return body


def test_bad_input_is_4xx_problem_json_and_writes_nothing(client: TestClient, container: Container) -> None:
    register_all(client)
    before = counts(container)
    body = problem(client.post(f"{API}/datasets", json={"name": "x", "license": "Apache2"}), 422, "invalid_license")
    assert body["field"] == "license" and "did you mean 'Apache-2.0'" in body["detail"]
    body = problem(client.post(f"{API}/datasets", json={"name": "x", "lawful_basis": "because"}), 422)
    assert body["errors"][0]["field"] == "lawful_basis"
    body = problem(
        client.post(f"{API}/datasets", json={"name": "x", "derived_from": ["ghost"]}), 404, "dataset_not_found"
    )
    assert body["field"] == "derived_from"
    problem(client.post(f"{API}/lineage", json={"dataset": "ghost", "model": "credit@1.0", "role": "training"}), 404)
    problem(client.post(f"{API}/lineage", json={"dataset": "loans", "model": "credit@9", "role": "training"}), 404)
    problem(client.post(f"{API}/lineage", json={"dataset": "loans", "model": "credit@1.0"}), 422)
    problem(client.post(f"{API}/lineage", json={"dataset": "loans-raw", "derived": "loans"}), 409, "lineage_exists")
    problem(client.post(f"{API}/lineage", json={"dataset": "loans", "derived": "loans-raw"}), 422, "lineage_cycle")
    files = [{"path": "m.onnx", "size": 5, "sha256": HEX}]
    bad_digest = {"version": "2", "digest": "f" * 64, "size_bytes": 5, "files": files}
    problem(client.post(f"{API}/systems/credit/versions", json=bad_digest), 422, "digest_mismatch")
    bad_license = {"version": "2", "digest": HEX, "size_bytes": 5, "card": {"license": "apache"}}
    assert problem(client.post(f"{API}/systems/credit/versions", json=bad_license), 422)["field"] == "card.license"
    problem(client.post(f"{API}/systems/credit/versions", json={"version": "1.0", "digest": HEX, "size_bytes": 5}), 409)
    problem(client.post(f"{API}/systems/ghost/versions", json={"version": "1", "digest": HEX, "size_bytes": 1}), 404)
    answers = high_risk_answers()
    del answers["prohibited"]["csam"]
    body = problem(client.post(f"{API}/systems", json={"name": "s2", "purpose": "p", "answers": answers}), 422)
    assert body["errors"][0]["field"] == "answers.prohibited.csam"
    answers = example()
    answers["annex_iii"]["derogation"] = "preparatory_task"
    body = problem(client.post(f"{API}/systems", json={"name": "s2", "purpose": "p", "answers": answers}), 422)
    assert body["field"] == "answers.annex_iii.derogation"
    problem(
        client.post(f"{API}/systems", json={"name": "s2", "purpose": "p", "team": "ghost", "answers": example()}), 404
    )
    problem(client.post(f"{API}/systems", json={"name": "credit", "purpose": "p", "answers": example()}), 409)
    assert counts(container) == before


def test_prohibited_system_is_flagged_for_licensing(client: TestClient, container: Container) -> None:
    answers = example()
    answers["prohibited"]["social_scoring"] = True
    r = client.post(f"{API}/systems", json={"name": "scorer", "purpose": "citizen score", "answers": answers})
    assert r.status_code == 201 and r.json()["is_prohibited"] and r.json()["risk_tier"] == "prohibited"
    assert r.json()["obligations"] == ["EUAIA-ART5-1C"]
    with container.uow(write=False) as uow:
        assert service.is_prohibited(uow, "scorer")
        assert service.get_system(uow, "scorer").risk_tier == "prohibited"


def test_locked_version_refuses_changes_with_409(client: TestClient, container: Container) -> None:
    register_all(client)
    r = client.patch(f"{API}/systems/credit/versions/1.0", json={"license": "MIT", "restricted_purposes": ["ads"]})
    assert r.status_code == 200 and r.json()["license"] == "MIT" and r.json()["restricted_purposes"] == ["ads"]
    with container.uow() as uow:
        assert service.lock_model_version(uow, "credit@1.0").locked
        uow.commit()
    assert client.get(f"{API}/systems/credit/versions/1.0").json()["locked"] is True
    before = counts(container)
    problem(client.patch(f"{API}/systems/credit/versions/1.0", json={"uri": "s3://x"}), 409, "model_version_locked")
    body = {"dataset": "loans-raw", "model": "credit@1.0", "role": "validation"}
    problem(client.post(f"{API}/lineage", json=body), 409, "model_version_locked")
    assert counts(container) == before
    assert ("model.lock", "model:credit@1.0") in actions(container)
    assert ("model.update", "model:credit@1.0") in actions(container)


def test_production_system_changes_need_senior_engineer(
    client: TestClient, container: Container, make_user: MakeUser
) -> None:
    register_all(client)
    _, ml = make_user("ml-engineer")
    _, senior = make_user("senior-engineer")
    assert client.patch(f"{API}/systems/credit", json={"deployer": "Bank A"}, headers=bearer(ml)).status_code == 200
    with container.uow() as uow:
        service.set_production_licensed(uow, "credit", True, actor="user:admin")
        uow.commit()
    with container.uow(write=False) as uow:
        assert service.system_resource(uow, "credit").production is True
    before = counts(container)
    r = client.patch(f"{API}/systems/credit", json={"deployer": "Bank B"}, headers=bearer(ml))
    assert problem(r, 403, "production_change_requires_senior")["detail"].startswith("system:credit holds a production")
    answers = high_risk_answers()
    r = client.post(f"{API}/systems/credit/classify", json={"answers": answers}, headers=bearer(ml))
    problem(r, 403, "production_change_requires_senior")
    r = client.post(
        f"{API}/systems/credit/versions", json={"version": "2", "digest": HEX, "size_bytes": 1}, headers=bearer(ml)
    )
    problem(r, 403, "production_change_requires_senior")
    assert counts(container) == before
    r = client.patch(f"{API}/systems/credit", json={"deployer": "Bank B"}, headers=bearer(senior))
    assert r.status_code == 200 and r.json()["deployer"] == "Bank B"
    answers["transparency"]["interacts_with_natural_persons"] = True
    r = client.post(f"{API}/systems/credit/classify", json={"answers": answers}, headers=bearer(senior))
    assert r.status_code == 200 and "EUAIA-ART50-1" in r.json()["obligations"] and r.json()["revision"] == 4
    with container.uow(write=False) as uow:
        rows = uow.session.execute(
            select(AuditEntryRow.action, AuditEntryRow.actor, AuditEntryRow.body)
            .where(AuditEntryRow.resource == "system:credit")
            .order_by(AuditEntryRow.seq)
        ).tuples()
        trail = [(a, actor, json.loads(body)["details"]) for a, actor, body in rows]
    assert [(a, actor) for a, actor, _ in trail] == [
        ("system.register", "user:admin"),
        ("system.update", "user:u1"),
        ("system.production_licensed", "user:admin"),
        ("system.update", "user:u2"),
        ("system.classify", "user:u2"),
    ]
    assert trail[3][2]["changes"] == {"deployer": ["Bank A", "Bank B"]} and trail[3][2]["production"] is True
    assert trail[4][2]["obligations_added"] == ["EUAIA-ART50-1", "EUAIA-ART50-5"]  # Art. 50(5) follows 50(1)
    with container.uow() as uow:
        service.set_production_licensed(uow, "credit", False)
        uow.commit()
    assert client.patch(f"{API}/systems/credit", json={"deployer": "C"}, headers=bearer(ml)).status_code == 200


def test_team_scoped_engineer_sees_and_changes_only_its_team(
    client: TestClient, container: Container, make_user: MakeUser
) -> None:
    register_all(client)
    assert client.post(f"{API}/teams", json={"name": "ops"}).status_code == 201
    _, ops = make_user("ml-engineer", scope="team:ops")
    body = {"name": "ops-bot", "purpose": "ticket triage", "team": "ops", "answers": example()}
    assert client.post(f"{API}/systems", json=body, headers=bearer(ops)).status_code == 201
    assert [s["name"] for s in client.get(f"{API}/systems", headers=bearer(ops)).json()["items"]] == ["ops-bot"]
    problem(client.get(f"{API}/systems/credit", headers=bearer(ops)), 403)
    problem(client.post(f"{API}/systems", json={**body, "name": "x", "team": "risk"}, headers=bearer(ops)), 403)


def bom_validator() -> jsonschema.Draft7Validator:
    resources = []
    for name in ("bom-1.6", "spdx", "jsf-0.82"):
        doc = json.loads((SCHEMAS / f"{name}.SNAPSHOT.schema.json").read_text())
        resources.append((f"http://cyclonedx.org/schema/{name}.SNAPSHOT.schema.json", Resource.from_contents(doc)))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    schema = json.loads((SCHEMAS / "bom-1.6.SNAPSHOT.schema.json").read_text())
    return jsonschema.Draft7Validator(schema, registry=Registry().with_resources(resources))


def test_cyclonedx_export_validates_against_the_1_6_schema(client: TestClient) -> None:
    register_all(client)
    client.post(f"{API}/datasets", json={"name": "extra", "license": "MIT OR Apache-2.0", "digest": "c" * 64})
    card = {"license": "openrail", "pipeline_tag": "tabular-classification", "sections": {"Uses": "credit"}}
    body = {"version": "2.0", "digest": "d" * 64, "size_bytes": 1, "card": card, "uri": "s3://models/credit/2"}
    assert client.post(f"{API}/systems/credit/versions", json=body).status_code == 201
    bom = client.get(f"{API}/export/cyclonedx").json()
    errors = sorted(bom_validator().iter_errors(bom), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    model = by_ref["model:credit@1.0"]
    assert model["type"] == "machine-learning-model" and model["hashes"] == [{"alg": "SHA-256", "content": HEX}]
    assert model["modelCard"]["modelParameters"]["datasets"] == [{"ref": "dataset:loans@1"}]
    assert by_ref["model:credit@2.0"]["licenses"] == [{"license": {"name": "openrail"}}]
    assert by_ref["dataset:loans@1"]["type"] == "data" and by_ref["dataset:loans@1"]["data"][0]["type"] == "dataset"
    assert by_ref["dataset:extra@1"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    deps = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert deps["dataset:loans@1"] == ["dataset:loans-raw@1"] and deps["model:credit@1.0"] == ["dataset:loans@1"]
    broken = json.loads(json.dumps(bom))
    broken["components"][0]["hashes"][0]["alg"] = "SHA-257"
    assert list(bom_validator().iter_errors(broken))  # the validator does catch a bad BOM


def test_unstorable_values_are_422_not_500(client: TestClient, container: Container) -> None:
    register_all(client)
    before = counts(container)
    nul = {"version": "2", "digest": HEX, "size_bytes": 1, "card": {"notes": "a\u0000b"}}
    assert "NUL" in problem(client.post(f"{API}/systems/credit/versions", json=nul), 422)["detail"]
    r = client.post(
        f"{API}/systems/credit/versions",
        content=b'{"version": "2", "digest": "' + HEX.encode() + b'", "size_bytes": 1, "card": {"x": NaN}}',
        headers={"content-type": "application/json"},
    )
    problem(r, 422)
    huge = {"version": "2", "digest": HEX, "size_bytes": 2**63}
    problem(client.post(f"{API}/systems/credit/versions", json=huge), 422)
    problem(client.post(f"{API}/datasets", json={"name": "x", "source": "\u0000"}), 422)
    assert counts(container) == before
