"""A condition that could never fire is refused when the license is requested: an unknown metric (422 with the
known names and a "did you mean"), a bracket key the model's reference profile does not have, a non-ASCII or
invisible character. One check (charter.licenses.conditions) for the API, the CLI and the dashboard."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.errors import InvalidInput
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.monitoring import service as monitoring
from charter.monitoring.schemas import ProfileUpload
from tests.conftest import bearer
from tests.integration.licenses.conftest import World
from tests.integration.monitoring.support import profile_of
from tests.support.builders import app_key, assessed_model, user


def _body(model: str, conditions: list[str]) -> dict[str, object]:
    return {
        "model": model,
        "env": "production",
        "purposes": ["credit-decisioning"],
        "callers": ["app:loan-portal"],
        "days": 30,
        "conditions": conditions,
    }


def test_typo_metric_is_a_422_naming_the_known_metrics(client: TestClient, world: World) -> None:
    model = world.system("limited") + "@1.0"
    r = client.post(
        "/api/v1/licenses", json=_body(model, ["drift.psi_mx < 0.25 => suspend"]), headers=bearer(world.keys["rita"])
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "unknown_metric" and problem["field"] == "conditions"
    assert "did you mean 'drift.psi_max'" in problem["detail"]
    assert "perf.accuracy" in problem["detail"]
    r = client.post(
        "/api/v1/licenses",
        json=_body(model, ["drift.psi_max\u200b < 0.25 => suspend"]),
        headers=bearer(world.keys["rita"]),
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_condition", r.text


def test_keys_are_checked_against_the_uploaded_reference_profile(container: Container) -> None:
    model, _ = assessed_model(container, "credit")
    app_key(container, "loan-portal")
    requester = user(container, "req", "ml-engineer")
    upload = {"profile": profile_of(model_version=model).to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
    with container.uow() as uow:
        monitoring.set_reference(uow, SYSTEM_ACTOR, model, ProfileUpload.model_validate(upload))
    with pytest.raises(InvalidInput) as err, container.uow() as uow:
        licenses.request(
            uow, requester, LicenseCreate.model_validate(_body(model, ["fairness.dp_diff[gendr] < 0.1 => suspend"]))
        )
    assert err.value.code == "unknown_attribute" and err.value.details["did_you_mean"] == "gender"
    with pytest.raises(InvalidInput) as err, container.uow() as uow:
        licenses.request(
            uow, requester, LicenseCreate.model_validate(_body(model, ["drift.psi[incom] < 0.2 => suspend"]))
        )
    assert err.value.code == "unknown_attribute" and err.value.details["did_you_mean"] == "income"
    with container.uow() as uow:
        lic = licenses.request(
            uow, requester, LicenseCreate.model_validate(_body(model, ["drift.psi[income] < 0.2 => suspend"]))
        )
    assert lic.conditions[0]["metric"] == "drift.psi[income]"
