"""An expired attestation of a control that applies blocks license activation and renewal (the built-in licensing
policy's `attestations.expired_blocks`), and the refusal names the control and the command that fixes it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.clock import pinned
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.policies.errors import PolicyError
from charter.policies.licensing import builtin_licensing, load_licensing
from charter.signoffs.schemas import SignOffCreate
from tests.integration.attestations.test_attestations_api import NO, _attestation
from tests.support.builders import app_key, assessed_model, document_obligations, user

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
HIRING = {"prohibited": NO, "annex_iii": {"point": "4(a)"}}  # high risk: AI literacy (Art. 4) applies


def _licensed(c: Container, model: str, *, sign: bool = True) -> str:
    app_key(c, "portal")
    body = {"model": model, "env": "production", "purposes": ["hiring"], "callers": ["app:portal"], "days": 90}
    with c.uow() as uow:
        lic = licenses.request(uow, SYSTEM_ACTOR, LicenseCreate.model_validate(body))
    if sign:
        _sign_all(c, lic.id)
    return lic.id


def _sign_all(c: Container, license_id: str) -> None:
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, license_id).missing_signoffs
    for fn in needed:
        reviewer = user(c, f"rev-{fn}-{license_id[-6:]}", "reviewer", fn)
        with c.uow() as uow:
            licenses.sign(uow, reviewer, license_id, SignOffCreate(function=fn, decision="approve"))


@SQLITE
def test_expired_attestation_blocks_renewal_and_activation_until_attested_again(
    client: TestClient, container: Container
) -> None:
    model, _ = assessed_model(container, "hiring", answers=HIRING)
    document_obligations(container, model)
    assert client.post("/api/v1/systems/hiring/attestations", json=_attestation(days=30)).status_code == 201
    lic = _licensed(container, model)
    assert client.get(f"/api/v1/licenses/{lic}").json()["state"] == "active"
    with pinned() as clock:
        clock.advance(days=31)
        renew = client.post(f"/api/v1/licenses/{lic}/renew", json={})
        assert renew.status_code == 409, renew.text
        problem = renew.json()
        assert problem["code"] == "license_requirements_unmet"
        assert "attestation EUAIA-ART4: expired on" in problem["detail"]
        assert "charter attest EUAIA-ART4 --system hiring" in problem["detail"]
        # a new license of the system does not activate either: the same missing entry, at activation
        second = _licensed(container, model)
        state = client.get(f"/api/v1/licenses/{second}").json()["state"]
        assert state == "approved"
        refused = client.post(f"/api/v1/licenses/{second}/activate")
        assert refused.status_code == 409 and "attestation EUAIA-ART4: expired" in refused.text
        # attest again: renewal and activation go through
        assert client.post("/api/v1/systems/hiring/attestations", json=_attestation(days=365)).status_code == 201
        assert client.post(f"/api/v1/licenses/{second}/activate").json()["state"] == "active"
        again = client.post(f"/api/v1/licenses/{lic}/renew", json={})
        assert again.status_code == 201, again.text


@SQLITE
def test_high_risk_system_without_documents_gets_no_active_license_by_default(
    client: TestClient, container: Container
) -> None:
    """Art. 72 (provider) and Art. 27 (a deployer of an Annex III 5(b) system): the built-in licensing policy."""
    assert builtin_licensing().obligation_documents == ("fria", "post_market_plan")
    model, _ = assessed_model(container, "hiring", answers=HIRING)  # provider and deployer: a plan, no FRIA (4(a))
    lic = _licensed(container, model)
    refused = client.post(f"/api/v1/licenses/{lic}/activate")
    assert refused.status_code == 409
    missing = refused.json()["missing"] if "missing" in refused.json() else refused.json()["detail"]
    assert "post_market_plan (Art. 72)" in str(missing) and "fria" not in str(missing)
    assert "charter document add hiring@1.0 --kind post-market-plan" in str(missing)  # the CLI spelling
    assert document_obligations(container, model) == ["post_market_plan"]
    assert client.post(f"/api/v1/licenses/{lic}/activate").json()["state"] == "active"


def test_licensing_policy_attestations_section_is_validated() -> None:
    base = (
        "apiVersion: charter.dev/v1\nkind: Licensing\nmetadata: {name: t}\nfunctions: [ml-lead]\n"
        "tiers:\n  prohibited: {licensable: false}\n"
        "  high: {signoffs: [ml-lead], max_validity_days: 10}\n"
        "  limited: {signoffs: [ml-lead], max_validity_days: 10}\n"
        "  minimal: {signoffs: [ml-lead], max_validity_days: 10}\n"
        "reaudit_interval_days: 10\nreinstatement: {signoffs: [ml-lead]}\n"
    )
    ok = load_licensing(base + "attestations: {expired_blocks: true, required: {high: [EUAIA-ART4, EUAIA-ART17]}}\n")
    assert ok.expired_attestations_block and ok.attestations_required("high") == ("EUAIA-ART4", "EUAIA-ART17")
    assert ok.attestations_required("minimal") == ()
    with pytest.raises(PolicyError) as err:
        load_licensing(base + "attestations: {expired_blocks: maybe, required: {high: [EUAIA-ART999]}}\n")
    text = str(err.value)
    assert "attestations.expired_blocks must be true or false" in text
    assert "unknown control 'EUAIA-ART999'" in text


@SQLITE
def test_required_attestation_missing_blocks_activation(
    client: TestClient, container: Container, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A licensing policy listing `attestations.required` per tier: no current attestation, no activation."""
    from pathlib import Path

    import charter.policies

    text = (Path(charter.policies.__file__).parent / "builtin" / "licensing.yaml").read_text()
    text = text.replace("  expired_blocks: true\n", "  expired_blocks: true\n  required: {high: [EUAIA-ART4]}\n")
    policy = Path(str(tmp_path)) / "licensing.yaml"
    policy.write_text(text)
    from charter.licenses import policy as licensing_policy

    monkeypatch.setattr(licensing_policy, "_override", policy)  # what CHARTER_LICENSING sets when the process starts
    model, _ = assessed_model(container, "hiring", answers=HIRING)
    document_obligations(container, model)
    lic = _licensed(container, model)
    refused = client.post(f"/api/v1/licenses/{lic}/activate")
    assert refused.status_code == 409
    assert "attestation EUAIA-ART4: required by the licensing policy, none recorded" in refused.text
    assert client.post("/api/v1/systems/hiring/attestations", json=_attestation()).status_code == 201
    assert client.post(f"/api/v1/licenses/{lic}/activate").json()["state"] == "active"
