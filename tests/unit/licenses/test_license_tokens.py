"""License tokens and status lists: every refusal has its own reason code."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.jwk import OctKey

from charter.core.signing import SigningKey
from charter.licenses import jose, statuslist, tokens
from charter.licenses.jose import KeySet, VerifyError
from charter.licenses.verify import verify_license

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
URI = "https://charter.example/.well-known/charter/status-list"
DIGEST = "sha256:" + "ab" * 32


def _key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


KEY = _key()
KEYS = KeySet.from_jwks(jose.jwks(KEY))


_ARGS: dict[str, Any] = {
    "issuer": "https://charter.example",
    "license_id": "lic_1",
    "token_id": "tok_1",
    "issued_at": NOW - timedelta(hours=1),
    "not_before": NOW - timedelta(hours=1),
    "expires": NOW + timedelta(days=30),
    "digest": DIGEST,
    "system": "credit-scoring",
    "version": "1.0.0",
    "risk_tier": "high",
    "env": "production",
    "purposes": ["credit-decisioning"],
    "callers": ["app:loan-portal"],
    "tools": [],
    "regions": ["eu"],
    "conditions_digest": "sha256:" + "cd" * 32,
    "status_index": 5,
    "status_uri": URI,
}


def _claims(**over: Any) -> dict[str, Any]:
    doc = tokens.license_claims(**_ARGS)
    doc.update(over)
    return doc


def _token(key: SigningKey = KEY, **over: Any) -> str:
    return jose.sign(key, tokens.LICENSE_TYP, _claims(**over))


def _status(values: dict[int, int], version: int = 7, issued: datetime = NOW, ttl: int = 300) -> str:
    doc = statuslist.claims(
        issuer="https://charter.example",
        uri=URI,
        version=version,
        issued_at=issued,
        ttl_s=ttl,
        values=values,
        audit_size=42,
        audit_root="00" * 32,
    )
    return statuslist.sign(KEY, doc)


def _reason(token: str, keys: KeySet = KEYS, **kw: Any) -> str:
    with pytest.raises(VerifyError) as err:
        verify_license(token, keys, now=kw.pop("now", T), **kw)
    return err.value.code


def test_a_good_token_verifies_with_only_the_jwks() -> None:
    out = verify_license(_token(), KEYS, now=T, digest=DIGEST)
    assert out.license_id == "lic_1" and out.status == "unchecked"
    header = json.loads(jose.b64url_decode(_token().split(".")[0]))
    assert header == {"alg": "EdDSA", "typ": "charter-license+jwt", "kid": KEY.thumbprint}


def test_a_good_token_with_a_fresh_status_list_is_valid() -> None:
    out = verify_license(_token(), KEYS, now=T, status_list=_status({0: 2, 4: 1, 6: 2}))
    assert out.status == "valid" and out.status_list_version == 7


def test_tampered_payload_is_bad_signature() -> None:
    head, payload, sig = _token().split(".")
    claims = json.loads(jose.b64url_decode(payload))
    claims["scope"]["purposes"].append("marketing")
    forged = jose.b64url(json.dumps(claims).encode())
    assert _reason(f"{head}.{forged}.{sig}") == "bad_signature"


def test_tampered_signature_is_bad_signature() -> None:
    head, payload, sig = _token().split(".")
    raw = bytearray(jose.b64url_decode(sig))
    raw[0] ^= 1
    assert _reason(f"{head}.{payload}.{jose.b64url(bytes(raw))}") == "bad_signature"


def test_same_kid_other_key_is_bad_signature() -> None:
    other = _key()
    head, payload, _ = _token().split(".")
    forged_sig = other.sign(f"{head}.{payload}".encode())
    assert _reason(f"{head}.{payload}.{jose.b64url(forged_sig)}") == "bad_signature"


def test_wrong_key_is_unknown_key() -> None:
    assert _reason(_token(key=_key())) == "unknown_key"


def test_other_algorithms_are_not_allowed() -> None:
    payload = json.dumps(_claims()).encode()
    hs = jws.serialize_compact(
        {"alg": "HS256", "typ": "charter-license+jwt", "kid": KEY.thumbprint}, payload, OctKey.generate_key(256)
    )
    assert _reason(hs) == "alg_not_allowed"
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "charter-license+jwt"}).encode())
    none = header.decode().rstrip("=") + "." + jose.b64url(payload) + ".x"
    assert _reason(none) == "alg_not_allowed"


def test_expired_and_not_yet_valid() -> None:
    assert _reason(_token(exp=T - 1)) == "expired"
    assert _reason(_token(), now=T + 31 * 86400) == "expired"
    assert _reason(_token(nbf=T + 60)) == "not_yet_valid"


def test_wrong_digest_is_digest_mismatch() -> None:
    assert _reason(_token(), digest="sha256:" + "ef" * 32) == "digest_mismatch"


def test_every_claim_is_required() -> None:
    for name in tokens.REQUIRED:
        claims = _claims()
        del claims[name]
        assert _reason(jose.sign(KEY, tokens.LICENSE_TYP, claims)) == "missing_claim", name
    assert _reason(_token(scope={"env": "production", "purposes": ["x"]})) == "missing_claim"
    assert _reason(_token(exp="tomorrow")) == "missing_claim"


def test_a_status_list_is_not_a_license_and_garbage_is_malformed() -> None:
    assert _reason(_status({})) == "wrong_type"
    assert _reason("not-a-token") == "malformed"
    assert _reason("e30.e30.") == "malformed"


def test_suspended_and_revoked_come_from_the_status_list() -> None:
    assert _reason(_token(), status_list=_status({5: 1})) == "suspended"
    assert _reason(_token(), status_list=_status({5: 2})) == "revoked"


def test_stale_status_list_is_refused() -> None:
    old = _status({}, issued=NOW - timedelta(minutes=10), ttl=300)
    assert _reason(_token(), status_list=old) == "status_list_stale"


def test_older_status_list_version_is_a_rollback() -> None:
    assert _reason(_token(), status_list=_status({}, version=6), min_version=7) == "status_list_rollback"
    assert verify_license(_token(), KEYS, now=T, status_list=_status({}, version=7), min_version=7).status == "valid"


def test_a_status_list_signed_by_another_key_is_refused() -> None:
    doc = statuslist.claims(
        issuer="x", uri=URI, version=9, issued_at=NOW, ttl_s=300, values={}, audit_size=None, audit_root=None
    )
    assert _reason(_token(), status_list=statuslist.sign(_key(), doc)) == "unknown_key"


def test_status_list_for_another_uri_is_refused() -> None:
    doc = statuslist.claims(
        issuer="x",
        uri="https://elsewhere/sl",
        version=9,
        issued_at=NOW,
        ttl_s=300,
        values={},
        audit_size=None,
        audit_root=None,
    )
    assert _reason(_token(), status_list=statuslist.sign(KEY, doc)) == "status_list_invalid"


def test_jwks_ignores_other_key_types_and_rejects_bad_keys() -> None:
    doc = {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}, *jose.jwks(KEY)["keys"]]}
    assert list(KeySet.from_jwks(doc).keys) == [KEY.thumbprint]
    with pytest.raises(VerifyError) as err:
        KeySet.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "!!", "kid": "k"}]})
    assert err.value.code == "invalid_jwks"


def test_kid_is_the_rfc7638_thumbprint() -> None:
    from joserfc.jwk import OKPKey

    assert OKPKey.import_key(KEY.public).thumbprint() == KEY.thumbprint


def test_tool_rules_ride_in_the_scope_only_when_there_are_some_and_must_be_well_formed() -> None:
    assert "tool_rules" not in _claims()["scope"]
    rule = {"tool": "refund", "kind": "condition", "value": "args.amount <= 500"}
    scope = tokens.license_claims(**{**_ARGS, "tool_rules": [rule]})["scope"]
    assert scope["tool_rules"] == [rule]
    tokens.check_claims({**_claims(), "scope": scope})
    malformed: tuple[Any, ...] = (
        [{"tool": "refund", "kind": "maybe", "value": "x"}],
        [{"tool": 1, "kind": "approval", "value": "x"}],
        {},
    )
    for bad in malformed:
        with pytest.raises(VerifyError) as err:
            tokens.check_claims({**_claims(), "scope": {**scope, "tool_rules": bad}})
        assert "scope.tool_rules" in str(err.value)
