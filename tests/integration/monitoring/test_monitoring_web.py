"""The dashboard's overview lists breached conditions from `monitoring.service.recent_breaches`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.monitoring import service
from charter.monitoring.schemas import ProfileUpload, WindowUpload
from charter.web.app import create
from tests.integration.monitoring.support import monitored, profile_of, sketch_doc
from tests.integration.web.conftest import PASSWORD, sign_in


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_overview_shows_breached_conditions(container: Container) -> None:
    world = monitored(container, conditions=["drift.psi_max < 0.25 => suspend"])
    prof = profile_of(model_version=world.model)
    with container.uow() as uow:
        body = {"profile": prof.to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
        service.set_reference(uow, SYSTEM_ACTOR, world.model, ProfileUpload.model_validate(body))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    window = {"start": start, "end": start + timedelta(days=1), "sketch": sketch_doc(prof, 2000, seed=5, shift=3.0)}
    with container.uow() as uow:
        service.submit_window(uow, SYSTEM_ACTOR, world.model, WindowUpload.model_validate(window))
    with container.uow() as uow:
        auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name="vera", password=PASSWORD))
    with container.uow() as uow:
        auth_service.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal="vera", role="viewer"))
    with TestClient(create(container), base_url="http://127.0.0.1", follow_redirects=False) as client:
        page = sign_in(client, "vera").get("/")
    assert page.status_code == 200
    assert "drift.psi_max &lt; 0.25 =&gt; suspend" in page.text or "drift.psi_max < 0.25 => suspend" in page.text
    assert f"/licenses/{world.license_id}" in page.text
