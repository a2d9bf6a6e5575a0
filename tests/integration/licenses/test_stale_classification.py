"""Decisions on the current classification, never a stale one: every sign-off, activation, renewal and
reinstatement re-reads the system. Prohibited now is refused; reclassifying a system as prohibited withdraws its
licenses (audited); required sign-offs and the validity cap follow the current tier; the token carries the tier at
activation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.catalog import service as catalog
from charter.catalog.questionnaire import Questionnaire
from charter.core.clock import as_utc
from charter.licenses import jose, service
from charter.licenses.model import StateAction
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import RenewCreate, StateChange
from charter.licenses.tokens import LICENSE_TYP
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import ANSWERS, World
from tests.support.builders import document_obligations


def _classify(world: World, system: str, kind: str, *, withdraw: bool = True) -> None:
    answers = Questionnaire.model_validate(ANSWERS[kind])
    with world.c.uow() as uow:
        if withdraw:
            service.reclassify(uow, world.admin, system, answers)
        else:  # the catalog alone: the license path must still notice on its own
            catalog.classify_system(uow, world.admin, system, answers)
    if kind.startswith("high"):  # the FRIA and post-market plan a high-risk (5(b)) license now needs
        document_obligations(world.c, f"{system}@1.0")


def _claims(world: World, license_id: str) -> dict[str, Any]:
    with world.c.uow(write=False) as uow:
        token = service.token(uow, world.admin, license_id, issuer_for(world.c)).token
    keys = jose.KeySet.from_jwks(jose.jwks(world.c.keys.license))
    _, claims = jose.verify(token, keys, LICENSE_TYP)
    return claims


def _entries(world: World, action: str, resource: str) -> list[dict[str, Any]]:
    with world.c.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(AuditEntryRow.body).where(AuditEntryRow.action == action, AuditEntryRow.resource == resource)
        )
        return [json.loads(bytes(b)) for b in rows]


def test_prohibited_before_the_last_signoff_is_refused(world: World) -> None:
    system = world.system("minimal")
    lic = world.request(f"{system}@1.0", days=30)
    assess(world, f"{system}@1.0")
    _classify(world, system, "prohibited", withdraw=False)
    with pytest.raises(service.SystemProhibited):
        world.approve(lic.id, "ml-lead")
    assert world.get(lic.id).state == "requested"
    with world.c.uow(write=False) as uow:
        assert any("prohibited" in m for m in service.status(uow, world.admin, lic.id).missing)


def test_prohibited_before_activation_is_refused(world: World) -> None:
    system = world.system("minimal")
    lic = world.request(f"{system}@1.0", days=30)
    world.approve(lic.id, "ml-lead")  # approved, waiting for its assessment
    assert world.get(lic.id).state == "approved"
    _classify(world, system, "prohibited", withdraw=False)
    assess(world, f"{system}@1.0")
    with pytest.raises(service.SystemProhibited), world.c.uow() as uow:
        service.activate(uow, world.requester, lic.id)
    assert world.get(lic.id).state == "approved"


def test_reclassifying_as_prohibited_withdraws_live_licenses(world: World) -> None:
    system = world.system("minimal")
    model = f"{system}@1.0"
    assess(world, model)
    live = world.request(model, days=30)
    world.approve_all(live.id)
    assert world.get(live.id).state == "active"
    pending = world.request(model, days=30, env="staging")
    _classify(world, system, "prohibited")
    assert world.get(live.id).state == "revoked" and world.get(pending.id).state == "revoked"
    (entry,) = _entries(world, "license.revoke", f"license:{live.id}")
    assert entry["actor"] == "system:charter"
    assert entry["details"]["reclassified_by"] == world.admin.ref and entry["details"]["cause"] == "system_prohibited"
    with world.c.uow(write=False) as uow:
        assert catalog.get_system(uow, system).production_licensed is False


def test_minimal_to_high_recomputes_signoffs_cap_and_token_tier(world: World) -> None:
    system = world.system("minimal")
    model = f"{system}@1.0"
    lic = world.request(model, days=365)
    assert lic.required_signoffs == ["ml-lead"]
    _classify(world, system, "high-pd")
    assess(world, model)
    world.approve(lic.id, "ml-lead")
    assert world.get(lic.id).state == "requested"  # ml-lead alone no longer suffices
    with world.c.uow(write=False) as uow:
        st = service.status(uow, world.admin, lic.id)
    assert set(st.missing_signoffs) == {"security", "legal", "ethics", "privacy"}
    world.approve_all(lic.id)
    active = world.get(lic.id)
    assert active.state == "active" and active.risk_tier == "high"
    assert active.required_signoffs == ["ml-lead", "security", "legal", "ethics", "privacy"]
    assert active.exp is not None and active.nbf is not None
    assert as_utc(active.exp) - as_utc(active.nbf) == timedelta(days=180)  # the high-risk cap, not 365
    claims = _claims(world, lic.id)
    assert claims["risk_tier"] == "high"
    assert claims["exp"] - claims["nbf"] == 180 * 86400
    (activation,) = _entries(world, "license.activate", f"license:{lic.id}")
    assert activation["details"]["reclassified"]["days"] == [365, 180]
    assert activation["details"]["reclassified"]["risk_tier"] == ["minimal", "high"]


def test_approved_license_takes_the_newly_required_signoffs(world: World) -> None:
    system = world.system("minimal")
    model = f"{system}@1.0"
    lic = world.request(model, days=90)
    world.approve(lic.id, "ml-lead")
    assert world.get(lic.id).state == "approved"
    _classify(world, system, "limited")  # now needs security too
    assess(world, model)
    with pytest.raises(Exception) as err, world.c.uow() as uow:
        service.activate(uow, world.requester, lic.id)
    assert "signoff: security" in str(err.value)
    world.approve(lic.id, "security")
    assert world.get(lic.id).state == "active"


def test_reinstatement_and_renewal_follow_the_current_tier(world: World) -> None:
    system = world.system("minimal")
    model = f"{system}@1.0"
    assess(world, model)
    lic = world.request(model, days=365)
    world.approve_all(lic.id)
    _classify(world, system, "high")
    with world.c.uow() as uow:
        service.suspend(uow, world.manager, lic.id, "drift", category="drift")
    world.approve_all(lic.id)
    with world.c.uow() as uow:
        service.reinstate(uow, world.manager, lic.id, "fixed")
    back = world.get(lic.id)
    assert back.state == "active" and back.risk_tier == "high"
    assert back.exp is not None and back.nbf is not None
    assert as_utc(back.exp) - as_utc(back.nbf) == timedelta(days=180)
    with world.c.uow() as uow:
        renewal = service.renew(uow, world.requester, lic.id, RenewCreate())
    assert renewal.days == 180 and renewal.risk_tier == "high"
    assert renewal.required_signoffs == ["ml-lead", "security", "legal", "ethics"]
    _classify(world, system, "prohibited", withdraw=False)
    with world.c.uow() as uow:
        service.suspend(uow, world.manager, lic.id, "again", category="drift")
    with pytest.raises(service.SystemProhibited), world.c.uow() as uow:
        service.change_state(uow, world.manager, lic.id, StateAction.REINSTATE, StateChange(reason="please"))
    with pytest.raises(service.SystemProhibited), world.c.uow() as uow:
        service.renew(uow, world.requester, lic.id, RenewCreate())
