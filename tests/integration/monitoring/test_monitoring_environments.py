"""Monitoring windows are per (model digest, environment): an app licensed only for staging that posts a biased
window through the staging deployment suspends the staging license and never the production one; it cannot write
into the production deployment's windows at all; and the gateway's capture keeps environments apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from charter.auth import service as auth
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.errors import Forbidden
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.monitoring import service
from charter.monitoring.capture import Capturer, Target
from charter.monitoring.schemas import CaptureUpload, ProfileUpload
from tests.integration.monitoring.support import approve, monitored, profile_of, sketch_doc
from tests.support.builders import app_key, user

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONDITION = "drift.psi_max < 0.25 => suspend"


def _state(c: Container, license_id: str) -> str:
    with c.uow(write=False) as uow:
        return str(licenses.get(uow, SYSTEM_ACTOR, license_id).state)


def test_a_staging_app_cannot_suspend_production(container: Container) -> None:
    c = container
    prod = monitored(c, conditions=[CONDITION])  # production license, caller app:loan-portal
    upload = {"profile": profile_of(model_version=prod.model).to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
    with c.uow() as uow:
        service.set_reference(uow, SYSTEM_ACTOR, prod.model, ProfileUpload.model_validate(upload))
    key = app_key(c, "stager")
    body = {"model": prod.model, "env": "staging", "purposes": ["credit-scoring"], "callers": ["app:stager"],
            "days": 30, "conditions": [CONDITION]}  # fmt: skip
    with c.uow() as uow:
        staging = licenses.request(uow, user(c, "req-stg", "ml-engineer"), LicenseCreate.model_validate(body))
    approve(c, staging.id)
    for name, env in (("credit-prod", "production"), ("credit-staging", "staging")):
        with c.uow() as uow:
            dep_body = DeploymentCreate(name=name, model=prod.model, upstream="http://127.0.0.1:1", env=env)
            deployments.add(uow, SYSTEM_ACTOR, dep_body, allow=c.settings.upstream_allowlist)
    with c.uow(write=False) as uow:
        stager = auth.authenticate(uow, key)
    drifted = sketch_doc(profile_of(model_version=prod.model), 3000, seed=9, shift=3.0)
    biased = CaptureUpload(start=T0, end=T0 + timedelta(hours=1), sketch=drifted)
    with pytest.raises(Forbidden) as err, c.uow() as uow:
        deployments.for_capture(uow, stager, "credit-prod")  # not a caller of the production license
    assert err.value.code == "caller_not_in_scope"
    with c.uow() as uow:
        dep = deployments.for_capture(uow, stager, "credit-staging")
        window = service.record_sdk_capture(uow, stager, dep.model, dep.digest, dep.env, biased)
    assert window.env == "staging"
    assert [ch.license for ch in window.checks] == [staging.id]
    assert _state(c, staging.id) == "suspended"
    assert _state(c, prod.license_id) == "active"  # the production license has nothing to do with staging's data
    with c.uow() as uow:
        assert service.check_latest(uow) == 0  # no production window: nothing to check for the production license
    assert _state(c, prod.license_id) == "active"


class _Dep:
    def __init__(self, name: str, digest: str, env: str) -> None:
        self.name, self.digest, self.env, self.kind = name, digest, env, "http"


def test_gateway_capture_keeps_environments_apart() -> None:
    from charter.monitoring.profile import ReferenceProfile

    profile: ReferenceProfile = profile_of()
    capturer = Capturer(window_s=3600, clock=lambda: T0.timestamp() + 10)
    target = Target.build(profile, {"enabled": True, "features": "$", "prediction": "$.score"})
    assert target is not None
    capturer.targets = {"sha256:x": target}
    row = {"age": 40.0, "income": 20000.0, "region": "north", "gender": "f"}
    for env in ("production", "staging", "staging"):
        capturer.add(_Dep("d", "sha256:x", env), row, {"score": 0.5})
    flushes = sorted(capturer.drain(), key=lambda f: f.env)
    assert [(f.env, f.sketch.rows) for f in flushes] == [("production", 1), ("staging", 2)]
