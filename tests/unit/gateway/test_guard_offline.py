"""charter.guard offline: a license token + JWKS + signed status list decide without a server (DESIGN.md rules)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.core.signing import SigningKey
from charter.deployments.model import Reason, Request
from charter.guard import Guard, LicenseDenied, LicenseWarning, OfflineVerifier
from charter.guard.remote import Unreachable
from charter.licenses import jose, statuslist
from charter.licenses.tokens import license_claims, sign_license

T0 = 1_800_000_000
KEY = SigningKey(Ed25519PrivateKey.generate())
JWKS = jose.jwks(KEY)
URI = "https://charter.example/status/1"
DIGEST = "sha256:" + "ab" * 32
PIN: dict[str, Any] = {"env": "production", "digest": DIGEST}  # the deployment the verifier guards


def token(
    risk: str = "limited",
    days: int = 30,
    *,
    env: str = "production",
    digest: str = DIGEST,
    tools: tuple[str, ...] = ("lookup_customer",),
    rules: tuple[dict[str, str], ...] = (),
) -> str:
    claims = license_claims(
        issuer="charter",
        license_id="lic_offline",
        token_id="tok_1",
        issued_at=datetime.fromtimestamp(T0 - 10, UTC),
        not_before=datetime.fromtimestamp(T0 - 10, UTC),
        expires=datetime.fromtimestamp(T0 + days * 86400, UTC),
        digest=digest,
        system="credit",
        version="1",
        risk_tier=risk,
        env=env,
        purposes=["credit-scoring"],
        callers=["app:loan-portal"],
        tools=list(tools),
        regions=["eu"],
        conditions_digest="sha256:" + "00" * 32,
        status_index=5,
        status_uri=URI,
        tool_rules=rules,
    )
    return sign_license(KEY, claims)


class Clock:
    def __init__(self) -> None:
        self.t = float(T0)

    def __call__(self) -> float:
        return self.t


class StatusServer:
    """Hands out signed status lists; `down` makes fetching fail like an unreachable server."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.values: dict[int, int] = {}
        self.version = 1
        self.down = False

    def __call__(self) -> str:
        if self.down:
            raise ConnectionError("status list endpoint unreachable")
        doc = statuslist.claims(
            issuer="charter",
            uri=URI,
            version=self.version,
            issued_at=datetime.fromtimestamp(self.clock.t, UTC),
            ttl_s=300,
            values=self.values,
            audit_size=None,
            audit_root=None,
        )
        return statuslist.sign(KEY, doc)


OK = Request("app:loan-portal", "credit-scoring", ("lookup_customer",))


def test_offline_decisions_follow_status_list_and_scope() -> None:
    clock = Clock()
    status = StatusServer(clock)
    v = OfflineVerifier(token(), JWKS, status, **PIN, refresh_s=0, clock=clock)
    assert v.decide(OK).allowed
    assert v.decide(Request("app:other", "credit-scoring")).reason is Reason.CALLER_NOT_IN_SCOPE
    assert v.decide(Request("app:loan-portal", "credit-scoring", ("send_email",))).reason is Reason.TOOL_NOT_IN_SCOPE
    status.values, status.version = {5: 1}, 2
    assert v.decide(OK).reason is Reason.LICENSE_SUSPENDED
    status.values, status.version = {5: 2}, 3
    assert v.decide(OK).reason is Reason.LICENSE_REVOKED
    status.version = 2  # an older list is a rollback: refused, the verifier keeps what it knew
    verdict = v.decide(OK)
    assert verdict.reason is Reason.LICENSE_REVOKED
    assert v.last_error is not None and "rollback" in v.last_error


def test_degraded_grace_high_risk_and_expiry() -> None:
    clock = Clock()
    status = StatusServer(clock)
    minimal = OfflineVerifier(token("limited"), JWKS, status, **PIN, refresh_s=0, grace_s=900, clock=clock)
    high = OfflineVerifier(token("high"), JWKS, status, **PIN, refresh_s=0, grace_s=900, clock=clock)
    assert minimal.decide(OK).allowed and high.decide(OK).allowed
    status.down = True
    clock.t += 60
    assert minimal.decide(OK).allowed and not minimal.decide(OK).degraded  # the held list is still valid
    assert high.decide(OK).allowed
    clock.t += 300  # the held list expired: degraded from its expiry on
    verdict = minimal.decide(OK)
    assert verdict.allowed and verdict.degraded  # within the grace window, marked degraded
    assert high.decide(OK).reason is Reason.LICENSE_STATUS_UNAVAILABLE  # high risk fails closed at once
    clock.t += 900
    assert minimal.decide(OK).reason is Reason.LICENSE_STATUS_UNAVAILABLE  # grace is over
    status.down = False
    assert minimal.decide(OK).allowed and not minimal.decide(OK).degraded
    fresh = Clock()
    fresh.t = T0 + 86400 + 1
    expired = OfflineVerifier(token(days=1), JWKS, StatusServer(fresh), **PIN, refresh_s=0, clock=fresh)
    assert expired.decide(OK).reason is Reason.LICENSE_EXPIRED  # expiry never gets grace


def test_token_signed_by_another_key_is_refused() -> None:
    other = SigningKey(Ed25519PrivateKey.generate())
    with pytest.raises(jose.VerifyError):
        OfflineVerifier(token(), jose.jwks(other), StatusServer(Clock()), **PIN)


class DownDecider:
    """A Charter server that cannot be reached (the guard falls back to the offline verifier)."""

    def decide(self, deployment: str, body: dict[str, Any]) -> Any:
        raise Unreachable("ConnectError")


def test_guard_modes_offline_fallback_and_spool(tmp_path: Path) -> None:
    clock = Clock()
    status = StatusServer(clock)
    spool = tmp_path / "decisions.jsonl"
    verifier = OfflineVerifier(token(), JWKS, status, **PIN, refresh_s=0, clock=clock)
    calls: list[int] = []

    def model(x: int, note: str = "SECRET-PAYLOAD") -> int:
        calls.append(x)
        return x * 2

    common: dict[str, Any] = {
        "purpose": "credit-scoring",
        "caller": "app:loan-portal",
        "decider": DownDecider(),
        "offline": verifier,
        "spool": spool,
    }
    enforce = Guard("credit-prod", **common)(model)
    assert enforce(21) == 42
    status.values, status.version = {5: 1}, 2
    with pytest.raises(LicenseDenied) as err:
        enforce(1)
    assert err.value.code == "license_suspended"
    warn = Guard("credit-prod", mode="warn", **common)(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn(2, note="SECRET-PAYLOAD") == 4
    assert any(issubclass(w.category, LicenseWarning) for w in caught)
    shadow = Guard("credit-prod", mode="shadow", **common)(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shadow(3) == 6
    assert calls == [21, 2, 3]
    lines = [orjson.loads(line) for line in spool.read_bytes().splitlines()]
    assert [(x["allowed"], x["reason"], x["mode"]) for x in lines] == [
        (True, None, "enforce"),
        (False, "license_suspended", "enforce"),
        (False, "license_suspended", "warn"),
        (False, "license_suspended", "shadow"),
    ]
    assert all(x["request_digest"].startswith("sha256:") and x["decision_id"].startswith("dec_") for x in lines)
    assert "SECRET" not in spool.read_text()  # payloads only as digests


def test_unreachable_without_offline_verifier_denies_in_enforce_mode() -> None:
    guard = Guard("credit-prod", purpose="p", decider=DownDecider())
    with pytest.raises(LicenseDenied) as err, guard:
        pass
    assert err.value.code == "license_status_unavailable"


@pytest.mark.parametrize(
    ("stolen", "why"),
    [
        ({"env": "staging"}, "environment is 'staging'"),
        ({"digest": "sha256:" + "cd" * 32}, "model digest is sha256:cdcd"),
    ],
)
@pytest.mark.parametrize("mode", ["enforce", "warn", "shadow"])
def test_a_token_for_another_environment_or_model_is_a_scope_mismatch(
    tmp_path: Path, stolen: dict[str, Any], why: str, mode: str
) -> None:
    """A valid, active token for staging (or another model) never covers the pinned production deployment."""
    clock = Clock()
    status = StatusServer(clock)
    verifier = OfflineVerifier(token(**stolen), JWKS, status, **PIN, refresh_s=0, clock=clock)
    verdict = verifier.decide(OK)
    assert not verdict.allowed and verdict.reason is Reason.LICENSE_SCOPE_MISMATCH and why in verdict.detail
    status.down = True
    clock.t += 10_000  # degraded past the grace window: still the mismatch that is reported
    assert verifier.decide(OK).reason is Reason.LICENSE_SCOPE_MISMATCH
    guard = Guard("credit-prod", purpose="credit-scoring", caller="app:loan-portal", decider=DownDecider(),
                  offline=verifier, mode=mode, spool=tmp_path / "spool.jsonl")  # fmt: skip
    if mode == "enforce":
        with pytest.raises(LicenseDenied) as err, guard:
            pass
        assert err.value.code == "license_scope_mismatch"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with guard as decision:
                assert decision.reason == "license_scope_mismatch" and not decision.allowed
    (line,) = [orjson.loads(x) for x in (tmp_path / "spool.jsonl").read_bytes().splitlines()]
    assert line["reason"] == "license_scope_mismatch"


def test_the_verifier_must_be_pinned() -> None:
    with pytest.raises(TypeError):
        OfflineVerifier(token(), JWKS, StatusServer(Clock()))  # type: ignore[call-arg]


def test_offline_answers_meet_the_tool_rules_the_token_carries_and_approvals_need_the_server() -> None:
    """The token's `scope.tool_rules`: conditions checked from the token alone; an approval cannot be asked for or
    spent without Charter, so such a call is refused (fail closed)."""
    rules = (
        {"tool": "refund", "kind": "condition", "value": "args.amount <= 500"},
        {"tool": "transfer", "kind": "approval", "value": "role:legal"},
    )
    clock = Clock()
    signed = token(tools=("refund", "transfer"), rules=rules)
    verifier = OfflineVerifier(signed, JWKS, StatusServer(clock), **PIN, refresh_s=0, clock=clock)
    assert [r.tool for r in verifier.grant(clock.t)[0].tool_rules] == ["refund", "transfer"]
    guard = Guard("credit-prod", purpose="credit-scoring", caller="app:loan-portal", decider=DownDecider())
    guard.offline = verifier

    def answer(name: str, args: str) -> dict[str, Any]:
        call = {"id": "c0", "type": "function", "function": {"name": name, "arguments": args}}
        return {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}]}

    @guard
    def chat(name: str, args: str) -> dict[str, Any]:
        return answer(name, args)

    assert chat("refund", '{"amount": 20}') == answer("refund", '{"amount": 20}')
    with pytest.raises(LicenseDenied) as over:
        chat("refund", '{"amount": 800}')
    assert over.value.code == "tool_condition_failed" and "args.amount <= 500" in str(over.value)
    with pytest.raises(LicenseDenied) as held:
        chat("transfer", '{"to": "x"}')
    assert held.value.code == "approval_refused" and "approvals need Charter" in str(held.value)
