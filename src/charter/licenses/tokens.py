"""License tokens: an Ed25519-signed JWT (`typ: charter-license+jwt`) binding one model digest to one scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from charter.core.errors import ErrorCode
from charter.core.signing import SigningKey
from charter.licenses import jose
from charter.licenses.jose import VerifyError

LICENSE_TYP = "charter-license+jwt"
REQUIRED = (
    "iss",
    "sub",
    "jti",
    "iat",
    "nbf",
    "exp",
    "digest",
    "system",
    "version",
    "risk_tier",
    "scope",
    "conditions_digest",
    "status",
)
SCOPE_FIELDS = ("env", "purposes", "callers", "tools", "regions")


def license_claims(
    *,
    issuer: str,
    license_id: str,
    token_id: str,
    issued_at: datetime,
    not_before: datetime,
    expires: datetime,
    digest: str,
    system: str,
    version: str,
    risk_tier: str,
    env: str,
    purposes: Sequence[str],
    callers: Sequence[str],
    tools: Sequence[str],
    regions: Sequence[str],
    conditions_digest: str,
    status_index: int,
    status_uri: str,
    model_signer: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    tool_rules: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The claims of a license token (every one required by verifiers, but `model_signer`: the sha256 of the key
    whose OpenSSF model signature over the artifact was verified at registration, when there was one;
    `evidence`: the assessment the license rests on, the sha256 of its evidence document and who computed it; and
    `scope.tool_rules`, when the license has argument conditions or approvals for its tools, so that a verifier
    deciding offline applies them too)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": license_id,
        "jti": token_id,
        "iat": int(issued_at.timestamp()),
        "nbf": int(not_before.timestamp()),
        "exp": int(expires.timestamp()),
        "digest": digest,
        "system": system,
        "version": version,
        "risk_tier": risk_tier,
        "scope": {
            "env": env,
            "purposes": list(purposes),
            "callers": list(callers),
            "tools": list(tools),
            "regions": list(regions),
        },
        "conditions_digest": conditions_digest,
        "status": {"status_list": {"idx": status_index, "uri": status_uri}},
    }
    if tool_rules:
        claims["scope"]["tool_rules"] = [
            {"tool": r["tool"], "kind": r["kind"], "value": r["value"]} for r in tool_rules
        ]
    if model_signer is not None:
        claims["model_signer"] = model_signer
    if evidence is not None:
        claims["evidence"] = dict(evidence)
    return claims


def sign_license(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """Sign license claims with the license key."""
    check_claims(claims)
    return jose.sign(key, LICENSE_TYP, claims)


def _missing(what: str) -> VerifyError:
    return VerifyError(f"claim {what} is missing or has the wrong type", code=ErrorCode.MISSING_CLAIM, field=what)


def check_claims(claims: Mapping[str, Any]) -> None:
    """Every claim present with its type; VerifyError (missing_claim) naming the first that is not."""
    for name in REQUIRED:
        if name not in claims:
            raise _missing(name)
    for name in ("iss", "sub", "jti", "digest", "system", "version", "risk_tier", "conditions_digest"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise _missing(name)
    for name in ("iat", "nbf", "exp"):
        if not isinstance(claims[name], int) or isinstance(claims[name], bool):
            raise _missing(name)
    scope = claims["scope"]
    if not isinstance(scope, dict) or not isinstance(scope.get("env"), str):
        raise _missing("scope.env")
    for name in SCOPE_FIELDS[1:]:
        value = scope.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _missing(f"scope.{name}")
    rules = scope.get("tool_rules", [])
    if not isinstance(rules, list) or not all(
        isinstance(r, dict)
        and all(isinstance(r.get(k), str) for k in ("tool", "kind", "value"))
        and r["kind"] in ("condition", "approval")
        for r in rules
    ):
        raise _missing("scope.tool_rules")
    status = claims["status"]
    ref = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str):
        raise _missing("status.status_list.uri")
    idx = ref.get("idx")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise _missing("status.status_list.idx")
