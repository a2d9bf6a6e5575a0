"""The license lifecycle through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.catalog import service as catalog
from charter.core.errors import CharterError
from charter.evaluation import service as evaluation
from charter.licenses import service
from charter.licenses.issuer import current_status_list
from charter.licenses.jose import KeySet, jwks
from charter.licenses.model import StateAction
from charter.licenses.runtime import issuer_for
from charter.licenses.schemas import LicenseRead, StateChange
from charter.licenses.verify import verify_license
from tests.conftest import MakeUser
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import World


def _code(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises(CharterError) as err:
        fn(*args, **kw)  # type: ignore[operator]
    return err.value.code


def _actions(world: World, license_id: str) -> list[str]:
    with world.c.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(AuditEntryRow.action)
            .where(AuditEntryRow.resource == f"license:{license_id}")
            .order_by(AuditEntryRow.seq)
        )
        return list(rows)


def test_request_computes_signoffs_from_policy(world: World) -> None:
    high = world.request(world.system("high") + "@1.0")
    assert high.required_signoffs == ["ml-lead", "security", "legal", "ethics"] and high.state == "requested"
    pd = world.request(world.system("high-pd") + "@1.0")
    assert pd.required_signoffs == ["ml-lead", "security", "legal", "ethics", "privacy"]
    assert world.request(world.system("limited") + "@1.0").required_signoffs == ["ml-lead", "security"]
    minimal = world.request(world.system("minimal") + "@1.0", days=365, conditions=["drift.psi_max < 0.25 => suspend"])
    assert minimal.required_signoffs == ["ml-lead"]
    assert minimal.conditions == [
        {"metric": "drift.psi_max", "op": "<", "value": 0.25, "action": "suspend", "after": 1}
    ]
    assert _actions(world, high.id) == ["license.request"]


def test_request_refusals(world: World) -> None:
    prohibited = world.system("prohibited") + "@1.0"
    high = world.system("high") + "@1.0"
    assert _code(world.request, prohibited) == "system_prohibited"
    assert _code(world.request, high, days=181) == "validity_too_long"
    assert _code(world.request, high, conditions=["accuracy > 0.9 => explode"]) == "invalid_condition"
    assert _code(world.request, high, callers=["app:nobody"]) == "principal_not_found"
    assert _code(world.request, high, callers=["loan-portal"]) == "invalid_input"
    assert _code(world.request, "nosuch@1.0") in {"system_not_found", "not_found"}
    with world.c.uow(write=False) as uow:
        assert service.list_licenses(uow, world.admin) == []


def test_separation_of_duties(world: World, make_user: MakeUser) -> None:
    second = world.actor(make_user(("reviewer", "security"), name="sec2")[1])
    lic = world.request(world.system("high") + "@1.0")
    assert _code(world.approve, lic.id, "ml-lead", world.requester) == "signoff_by_requester"
    assert _code(world.approve, lic.id, "security", world.reviewers["legal"]) == "permission_denied"
    assert _code(world.approve, lic.id, "legal", world.admin) == "permission_denied"
    assert _code(world.approve, lic.id, "privacy") == "signoff_not_required"
    world.approve(lic.id, "security")
    assert _code(world.approve, lic.id, "security", second) == "signoff_already_given"
    assert world.get(lic.id).state == "requested"
    # Nothing half-written by the refusals: one sign-off, audited once.
    assert _actions(world, lic.id).count("signoff.approve") == 1


def test_one_person_counts_once(world: World, make_user: MakeUser) -> None:
    _, key = make_user(("reviewer", "legal"), ("reviewer", "ethics"), name="both")
    both = world.actor(key)
    lic = world.request(world.system("high") + "@1.0")
    world.approve(lic.id, "legal", both)
    assert _code(world.approve, lic.id, "ethics", both) == "signoff_same_person"


def test_activation_waits_for_a_blocker_free_assessment(world: World) -> None:
    model = world.system("high") + "@1.0"
    lic = world.request(model)
    world.approve_all(lic.id)
    with world.c.uow(write=False) as uow:
        st = service.status(uow, world.admin, lic.id)
    assert st.state == "approved" and not st.ready
    assert any(m.startswith("assessment: none") for m in st.missing)
    assert _code(_activate, world, lic.id) == "license_requirements_unmet"
    assess(world, model, blockers=["eu-ai-act-art-10-data-governance"])
    with world.c.uow(write=False) as uow:
        st = service.status(uow, world.admin, lic.id)
    assert any("has blockers: eu-ai-act-art-10-data-governance" in m for m in st.missing)
    assert _code(_activate, world, lic.id) == "license_requirements_unmet"
    time.sleep(0.01)
    assess(world, model, blockers=[])
    out = _activate(world, lic.id)
    assert out.state == "active" and out.nbf and out.exp and (out.exp - out.nbf).days == 90
    with world.c.uow(write=False) as uow:
        assert catalog.get_model_version(uow, model).locked
        assert catalog.get_system(uow, out.system).production_licensed
    assert _actions(world, lic.id)[-1] == "license.activate"


def _activate(world: World, license_id: str) -> LicenseRead:
    with world.c.uow() as uow:
        return service.activate(uow, world.requester, license_id)


def test_last_approval_activates_and_the_token_verifies(world: World) -> None:
    model = world.system("high") + "@1.0"
    assessment_id = assess(world, model, blockers=[])
    lic = world.request(model, conditions=["fairness.dp_diff < 0.1 => revoke"], regions=["eu"])
    st = world.approve_all(lic.id)
    assert st.state == "active"
    with world.c.uow(write=False) as uow:
        tok = service.token(uow, world.admin, lic.id, issuer_for(world.c)).token
    keys = KeySet.from_jwks(jwks(world.c.keys.license))
    sl = current_status_list(world.c.uow, issuer_for(world.c))
    v = verify_license(tok, keys, now=int(time.time()), digest=world.digest(model), status_list=sl)
    assert v.status == "valid"
    assert v.claims["scope"] == {
        "env": "production",
        "purposes": ["credit-decisioning"],
        "callers": ["app:loan-portal"],
        "tools": [],
        "regions": ["eu"],
    }
    assert v.claims["conditions_digest"] == world.get(lic.id).conditions_digest
    with world.c.uow(write=False) as uow:
        found = evaluation.find_assessment(uow, assessment_id)
    assert found is not None
    assert v.claims["evidence"] == {  # the license names the evidence it rests on
        "assessment": assessment_id,
        "digest": "sha256:" + found.evidence_digest,
        "computed_by": None,
        "self_reported": False,
    }
    assert [a for a in _actions(world, lic.id) if a.startswith("license.")] == [
        "license.request",
        "license.approve",
        "license.activate",
    ]


def test_reject_is_final(world: World) -> None:
    lic = world.request(world.system("limited") + "@1.0")
    world.approve(lic.id, "ml-lead")
    st = world.approve(lic.id, "security", decision="reject")
    assert st.state == "rejected"
    assert _code(world.approve, lic.id, "security") == "license_not_awaiting_signoff"
    with world.c.uow() as uow:
        assert _code(service.revoke, uow, world.manager, lic.id, "x") == "license_invalid_transition"


def _active(world: World, kind: str = "limited") -> str:
    model = world.system(kind) + "@1.0"
    assess(world, model, blockers=[])
    lic = world.request(model)
    assert world.approve_all(lic.id).state == "active"
    return lic.id


def _change(world: World, license_id: str, verb: str, **kw: object) -> object:
    with world.c.uow() as uow:
        return service.change_state(
            uow, world.manager, license_id, StateAction(verb), StateChange.model_validate({"reason": "test", **kw})
        )


def test_suspend_reinstate_revoke_with_status_list(world: World) -> None:
    lid = _active(world)
    keys = KeySet.from_jwks(jwks(world.c.keys.license))
    with world.c.uow(write=False) as uow:
        tok = service.token(uow, world.admin, lid, issuer_for(world.c)).token

    def status_code() -> str:
        sl = current_status_list(world.c.uow, issuer_for(world.c))
        try:
            verify_license(tok, keys, now=int(time.time()), status_list=sl)
        except CharterError as exc:
            return exc.code
        return "valid"

    assert status_code() == "valid"
    out = _change(world, lid, "suspend", category="fairness", evidence={"metric": "fairness.dp_diff", "value": 0.2})
    assert out.state == "suspended" and out.reason_category == "fairness"  # type: ignore[attr-defined]
    assert status_code() == "suspended"
    # Reinstating a fairness suspension needs ml-lead + ethics (policy), from people other than the requester.
    assert _code(_change, world, lid, "reinstate") == "license_requirements_unmet"
    world.approve(lid, "ml-lead")
    assert _code(world.approve, lid, "security") == "signoff_not_required"
    world.approve(lid, "ethics")
    assert _change(world, lid, "reinstate").state == "active"  # type: ignore[attr-defined]
    assert status_code() == "valid"
    out = _change(world, lid, "revoke")
    assert out.state == "revoked"  # type: ignore[attr-defined]
    assert status_code() == "revoked"
    for verb in ("suspend", "reinstate", "revoke"):
        assert _code(_change, world, lid, verb) == "license_invalid_transition"
    with world.c.uow(write=False) as uow:
        assert not catalog.get_system(uow, out.system).production_licensed  # type: ignore[attr-defined]


def test_expected_version_guards_against_lost_updates(world: World) -> None:
    lid = _active(world)
    v = world.get(lid).version
    assert _code(_change, world, lid, "suspend", expected_version=v - 1) == "license_conflict"
    assert _change(world, lid, "suspend", expected_version=v).version > v  # type: ignore[attr-defined]


def test_check(world: World) -> None:
    model = world.system("limited") + "@1.0"
    with world.c.uow(write=False) as uow:
        no = service.check(uow, world.admin, model, "production")
    assert not no.allowed and "no license" in no.reasons[0]
    lic = world.request(model)
    with world.c.uow(write=False) as uow:
        pending = service.check(uow, world.admin, model, "production")
    assert not pending.allowed and "requested" in pending.reasons[0]
    assess(world, model, blockers=[])
    world.approve_all(lic.id)
    with world.c.uow(write=False) as uow:
        assert service.check(uow, world.admin, model, "production").allowed
        assert service.check(uow, world.admin, model, "production", "credit-decisioning").allowed
        assert not service.check(uow, world.admin, model, "production", "marketing").allowed
        assert not service.check(uow, world.admin, model, "staging").allowed
    _change(world, lic.id, "suspend")
    with world.c.uow(write=False) as uow:
        res = service.check(uow, world.admin, model, "production")
    assert not res.allowed and "suspended" in res.reasons[0]


def test_index_and_state_version_for_the_gateway(world: World) -> None:
    with world.c.uow(write=False) as uow:
        v0 = service.state_version(uow)
    lid = _active(world)
    with world.c.uow(write=False) as uow:
        v1 = service.state_version(uow)
        entries = service.active_index(uow)
    assert v1 > v0
    assert [(e.license_id, e.state) for e in entries] == [(lid, "active")]
    _change(world, lid, "suspend")
    with world.c.uow(write=False) as uow:
        assert service.state_version(uow) > v1
        assert [e.state for e in service.active_index(uow)] == ["suspended"]


def test_renew_links_to_the_old_license(world: World) -> None:
    lid = _active(world)
    with world.c.uow() as uow:
        from charter.licenses.schemas import RenewCreate

        new = service.renew(uow, world.requester, lid, RenewCreate(days=30))
    assert new.renews == lid and new.state == "requested" and new.days == 30
    assert world.approve_all(new.id).state == "active"
