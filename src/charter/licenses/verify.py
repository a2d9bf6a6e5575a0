"""Offline verification of a license token (and optionally its status), with one distinct reason per refusal.

Reason codes: malformed, wrong_type, alg_not_allowed, unknown_key, bad_signature, missing_claim, expired,
not_yet_valid, digest_mismatch, status_list_invalid, status_list_stale, status_list_rollback, suspended, revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from charter.core.errors import ErrorCode
from charter.licenses import jose, statuslist, tokens
from charter.licenses.jose import KeySet, VerifyError


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that passed every check asked for."""

    license_id: str
    header: dict[str, Any]
    claims: dict[str, Any]
    status: str  # "valid", or "unchecked" when no status list was given
    status_list_version: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": True,
            "license": self.license_id,
            "kid": self.header.get("kid"),
            "status": self.status,
            "status_list_version": self.status_list_version,
            "claims": self.claims,
        }


def verify_license(
    token: str,
    keys: KeySet,
    *,
    now: int,
    digest: str | None = None,
    status_list: str | None = None,
    min_version: int = 0,
    leeway_s: int = 0,
) -> Verified:
    """Verify `token` with `keys` at unix time `now`; VerifyError (with a reason code) on the first failure."""
    header, claims = jose.verify(token, keys, tokens.LICENSE_TYP)
    tokens.check_claims(claims)
    if claims["nbf"] > now + leeway_s:
        raise VerifyError(
            f"license {claims['sub']} is not valid before {claims['nbf']} (now {now})", code=ErrorCode.NOT_YET_VALID
        )
    if claims["exp"] <= now - leeway_s:
        raise VerifyError(f"license {claims['sub']} expired at {claims['exp']} (now {now})", code=ErrorCode.EXPIRED)
    if digest is not None and claims["digest"] != digest:
        raise VerifyError(
            f"license {claims['sub']} is for {claims['digest']}, not {digest}",
            code=ErrorCode.DIGEST_MISMATCH,
            details={"licensed": claims["digest"], "presented": digest},
        )
    if status_list is None:
        return Verified(claims["sub"], header, claims, "unchecked", None)
    sl = statuslist.verify(status_list, keys, now=now, min_version=min_version)
    ref = claims["status"]["status_list"]
    if sl.uri != ref["uri"]:
        raise VerifyError(
            f"status list is {sl.uri}, the token points at {ref['uri']}", code=ErrorCode.STATUS_LIST_INVALID
        )
    value = sl.status(ref["idx"])
    if value != 0:
        name = statuslist.NAMES[value]
        code = "revoked" if value >= 2 else "suspended"
        raise VerifyError(
            f"license {claims['sub']} is {name} (status list version {sl.version}, index {ref['idx']})",
            code=code,
            details={"status_list_version": sl.version, "status_list_uri": sl.uri},
        )
    return Verified(claims["sub"], header, claims, "valid", sl.version)
