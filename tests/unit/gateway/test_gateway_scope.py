"""The license check shared by the gateway and the SDK: state, validity, caller, purpose, tools, degraded mode."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from charter.deployments.index import build_grants, grant_from
from charter.deployments.model import Grant, Reason, Request
from charter.deployments.scope import check, decide

NOW = 1_800_000_000.0
GRANT = Grant(
    license_id="lic_1",
    digest="sha256:aa",
    env="production",
    state="active",
    purposes=frozenset({"credit-scoring"}),
    callers=frozenset({"app:loan-portal"}),
    tools=frozenset({"lookup_customer"}),
    nbf=NOW - 3600,
    exp=NOW + 3600,
)
OK = Request("app:loan-portal", "credit-scoring", ("lookup_customer",))


def test_allowed_call() -> None:
    assert check(GRANT, OK, NOW) is None
    verdict = decide([GRANT], OK, NOW)
    assert verdict.allowed and verdict.license_id == "lic_1" and not verdict.degraded


def test_each_denial_reason() -> None:
    cases = [
        (replace(GRANT, state="suspended"), OK, Reason.LICENSE_SUSPENDED),
        (replace(GRANT, state="revoked"), OK, Reason.LICENSE_REVOKED),
        (replace(GRANT, state="expired"), OK, Reason.LICENSE_EXPIRED),
        (replace(GRANT, state="approved"), OK, Reason.NO_LICENSE),
        (replace(GRANT, exp=NOW), OK, Reason.LICENSE_EXPIRED),
        (replace(GRANT, nbf=NOW + 1), OK, Reason.LICENSE_NOT_YET_VALID),
        (GRANT, replace(OK, caller="app:other"), Reason.CALLER_NOT_IN_SCOPE),
        (GRANT, replace(OK, purpose="marketing"), Reason.PURPOSE_NOT_IN_SCOPE),
        (GRANT, replace(OK, purpose=None), Reason.PURPOSE_NOT_IN_SCOPE),
        (GRANT, replace(OK, tools=("lookup_customer", "send_email")), Reason.TOOL_NOT_IN_SCOPE),
    ]
    for grant, req, reason in cases:
        verdict = decide([grant], req, NOW)
        assert not verdict.allowed and verdict.reason is reason, (grant, req, verdict)
        assert verdict.detail


def test_no_license() -> None:
    verdict = decide([], OK, NOW)
    assert verdict.reason is Reason.NO_LICENSE and verdict.license_id is None


def test_any_covering_license_allows_and_the_most_alive_one_explains_a_denial() -> None:
    old = replace(GRANT, license_id="lic_old", state="revoked")
    other = replace(GRANT, license_id="lic_2", purposes=frozenset({"fraud"}))
    assert decide([old, GRANT], OK, NOW).license_id == "lic_1"
    verdict = decide([old, other], OK, NOW)
    assert verdict.reason is Reason.PURPOSE_NOT_IN_SCOPE and verdict.license_id == "lic_2"


def test_degraded_mode_grace_high_risk_and_expiry() -> None:
    # Within the grace window a minimal-risk license keeps serving, marked degraded.
    verdict = decide([GRANT], OK, NOW, degraded_since=NOW - 10, grace_s=900)
    assert verdict.allowed and verdict.degraded
    # After the window: refused.
    verdict = decide([GRANT], OK, NOW, degraded_since=NOW - 901, grace_s=900)
    assert verdict.reason is Reason.LICENSE_STATUS_UNAVAILABLE
    # High risk fails closed at once.
    verdict = decide([replace(GRANT, risk_tier="high")], OK, NOW, degraded_since=NOW - 0.1, grace_s=900)
    assert verdict.reason is Reason.LICENSE_STATUS_UNAVAILABLE and verdict.degraded
    # Expiry never gets grace; a license known revoked is never served.
    assert decide([replace(GRANT, exp=NOW - 1)], OK, NOW, degraded_since=NOW, grace_s=900).reason is (
        Reason.LICENSE_EXPIRED
    )
    assert not decide([replace(GRANT, state="revoked")], OK, NOW, degraded_since=NOW, grace_s=900).allowed


def test_grant_projection_from_index_entries() -> None:
    entry = {
        "license_id": "lic_9",
        "digest": "sha256:bb",
        "env": "staging",
        "purposes": ["a", "b"],
        "callers": ["loan-portal", "app:x"],
        "tools": [],
        "nbf": datetime(2026, 1, 1, tzinfo=UTC),
        "exp": datetime(2027, 1, 1, tzinfo=UTC),
        "state": "active",
        "risk_tier": "high",
        "version": 3,
        "conditions": {"rate_limit": {"rps": 5, "burst": 10}},
    }
    grant = grant_from(entry)
    assert grant.callers == {"app:loan-portal", "app:x"}
    assert grant.exp == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert grant.high_risk and grant.rate_limit_rps == 5.0 and grant.rate_burst == 10
    grouped = build_grants([entry, {**entry, "license_id": "lic_10"}])
    assert [g.license_id for g in grouped[("sha256:bb", "staging")]] == ["lic_9", "lic_10"]


def test_licenses_that_leave_the_index_become_tombstones() -> None:
    from charter.deployments.index import with_tombstones

    key = ("sha256:aa", "production")
    old = {key: (GRANT, replace(GRANT, license_id="lic_old", exp=NOW - 10))}
    out = with_tombstones({}, old, NOW)
    states = {g.license_id: g.state for g in out[key]}
    assert states == {"lic_1": "revoked", "lic_old": "expired"}
    assert decide(with_tombstones({}, {key: (GRANT,)}, NOW)[key], OK, NOW).reason is Reason.LICENSE_REVOKED
    assert with_tombstones({key: (GRANT,)}, old, NOW)[key][0] is GRANT  # still present: unchanged
