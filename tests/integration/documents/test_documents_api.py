"""FRIA (Art. 27) and post-market monitoring plan (Art. 72): versioned, required sections, tied to a model
version; the built-in licensing policy (`obligation_documents`) makes activation need the current FRIA."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import ModelVersionCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.signoffs.schemas import SignOffCreate
from tests.support.builders import app_key, assessed_model, user

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
DEPLOYER = {"prohibited": NO_PROHIBITED, "annex_iii": {"point": "5(b)"}, "context": {"role": "deployer"}}
FRIA = {
    "process": "loan officers score applications",
    "period_and_frequency": "every application, 2027",
    "affected_persons": "consumers applying for credit",
    "risks_of_harm": "wrongful refusal; indirect discrimination",
    "human_oversight": "an officer reviews every refusal",
    "measures": "appeal channel; monthly fairness review",
}


def _request(c: Container, model: str) -> str:
    app_key(c, "portal")
    body = {"model": model, "env": "production", "purposes": ["credit"], "callers": ["app:portal"], "days": 30}
    with c.uow() as uow:
        lic = licenses.request(uow, user(c, "rita", "ml-engineer"), LicenseCreate.model_validate(body))
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
    for fn in needed:
        with c.uow() as uow:
            licenses.sign(
                uow, user(c, f"rev-{fn}", "reviewer", fn), lic.id, SignOffCreate(function=fn, decision="approve")
            )
    return lic.id


def _fria(client: TestClient, version: str, **sections: Any) -> Any:
    return client.post(
        "/api/v1/systems/credit/documents",
        json={"kind": "fria", "model_version": version, "sections": {**FRIA, **sections}},
    )


@SQLITE
def test_high_risk_deployer_needs_a_fria_to_activate_and_a_model_update_reopens_it(
    client: TestClient, container: Container
) -> None:
    """Art. 27: a deployer of an Annex III 5(b) system gets no active license without a current FRIA."""
    model, _ = assessed_model(container, "credit", answers=DEPLOYER)
    lic = _request(container, model)
    assert client.get(f"/api/v1/licenses/{lic}").json()["state"] != "active"
    refused = client.post(f"/api/v1/licenses/{lic}/activate")
    assert refused.status_code == 409 and "fria (Art. 27)" in refused.text
    assert "post_market_plan" not in refused.text  # a deployer: Art. 72 is the provider's
    status = client.get("/api/v1/systems/credit/controls").json()["controls"]
    assert next(c for c in status if c["id"] == "EUAIA-ART27")["status"] == "missing"

    empty = _fria(client, "1.0", risks_of_harm=" ")
    assert empty.status_code == 422 and empty.json()["field"] == "sections.risks_of_harm"
    first = _fria(client, "1.0")
    assert first.status_code == 201 and first.json()["revision"] == 1 and first.json()["article"] == "Art. 27"
    assert client.post(f"/api/v1/licenses/{lic}/activate").json()["state"] == "active"
    status = client.get("/api/v1/systems/credit/controls").json()["controls"]
    assert next(c for c in status if c["id"] == "EUAIA-ART27")["status"] == "attested"

    with container.uow() as uow:  # a model update re-opens the FRIA
        catalog.register_model_version(
            uow, SYSTEM_ACTOR, "credit", ModelVersionCreate(version="1.1", digest="sha256:" + "b" * 64, size_bytes=1)
        )
    art27 = next(
        c for c in client.get("/api/v1/systems/credit/controls").json()["controls"] if c["id"] == "EUAIA-ART27"
    )
    assert art27["status"] == "missing" and "re-opens" in art27["why"]
    second = _fria(client, "1.1")
    assert second.json()["revision"] == 2
    assert [d["revision"] for d in client.get("/api/v1/systems/credit/documents").json()["items"]] == [2, 1]


@SQLITE
def test_post_market_plan_names_metrics_charter_watches(client: TestClient, container: Container) -> None:
    """Art. 72: the plan's metrics are among those monitoring computes; a provider's plan, revision per version."""
    assessed_model(container, "credit", answers={**DEPLOYER, "context": {"role": "provider"}})
    sections = {
        "data_collection": "gateway capture, hourly windows",
        "evaluation": "monthly review against Art. 9-15",
        "responsibilities": "ML lead, monthly",
        "corrective_actions": "suspend via license conditions; Art. 20 corrective action",
    }
    body = {"kind": "post_market_plan", "model_version": "1.0", "sections": sections}
    no_metrics = client.post("/api/v1/systems/credit/documents", json=body)
    assert no_metrics.status_code == 422 and no_metrics.json()["field"] == "metrics"
    unknown = client.post("/api/v1/systems/credit/documents", json={**body, "metrics": ["vibes.score"]})
    assert unknown.status_code == 422 and "vibes.score" in unknown.json()["detail"]
    ok = client.post(
        "/api/v1/systems/credit/documents", json={**body, "metrics": ["drift.psi_max", "drift.psi[income]"]}
    )
    assert ok.status_code == 201 and ok.json()["article"] == "Art. 72"
    art72 = next(
        c for c in client.get("/api/v1/systems/credit/controls").json()["controls"] if c["id"] == "EUAIA-ART72"
    )
    assert art72["status"] == "attested" and "post_market_plan revision 1" in art72["why"]


@SQLITE
def test_unknown_sections_are_named_briefly_with_the_expected_ones(client: TestClient, container: Container) -> None:
    """A typo names the section and what a FRIA has; a flood of keys is not echoed back (it was a 150 kB detail)."""
    assessed_model(container, "credit", answers=DEPLOYER)
    typo = _fria(client, "1.0", mesures="typo")
    assert typo.status_code == 422 and typo.json()["field"] == "sections.mesures"
    assert "mesures" in typo.json()["detail"] and "measures" in typo.json()["detail"]
    flood = _fria(client, "1.0", **{f"k{i}" + "x" * 200: "v" for i in range(2000)})
    assert flood.status_code == 422 and "sections" in flood.text
    assert len(flood.json()["detail"]) < 1000, len(flood.json()["detail"])
