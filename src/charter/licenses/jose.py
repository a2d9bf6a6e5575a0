"""Compact JWS over Ed25519 (JOSE `alg: EdDSA`), pinned: no other algorithm or curve is ever signed or accepted.

RFC 9864 deprecates the polymorphic `EdDSA` name because it could mean Ed448 too; pinning the curve to Ed25519 here
removes that ambiguity, so the library's deprecation warning does not apply.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from charter.core.canonical import canonical_json
from charter.core.errors import CharterError, ErrorCode, ErrorKind
from charter.core.signing import SigningKey

ALG = "EdDSA"


class VerifyError(CharterError):
    """A token or status list was refused; `code` is the stable reason (bad_signature, expired, revoked, …)."""

    kind = ErrorKind.FAILED
    code = ErrorCode.VERIFICATION_FAILED


class _Ed25519Only(EdDSAAlgorithm):
    security_warning = None  # type: ignore[assignment]

    def sign(self, msg: bytes, key: OKPKey) -> bytes:
        op_key = key.get_op_key("sign")
        if not isinstance(op_key, Ed25519PrivateKey):
            raise VerifyError("only Ed25519 keys may sign", code=ErrorCode.ALG_NOT_ALLOWED)
        return op_key.sign(msg)

    def verify(self, msg: bytes, sig: bytes, key: OKPKey) -> bool:
        if not isinstance(key.get_op_key("verify"), Ed25519PublicKey):
            raise VerifyError("only Ed25519 keys are accepted", code=ErrorCode.ALG_NOT_ALLOWED)
        return bool(super().verify(msg, sig, key))


class _PinnedRegistry(JWSRegistry):
    algorithms = {ALG: _Ed25519Only()}
    recommended = [ALG]


REGISTRY = _PinnedRegistry(algorithms=[ALG])


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(part: str) -> bytes:
    """Strict-enough base64url decoding; ValueError on garbage."""
    try:
        return _b64decode(part)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from None


def private_jwk(key: SigningKey) -> OKPKey:
    return OKPKey.import_key(key.private)


def sign(key: SigningKey, typ: str, claims: Mapping[str, Any]) -> str:
    """Compact JWS: header {alg: EdDSA, typ, kid: JWK thumbprint}, payload the RFC 8785 JSON of `claims`."""
    header = {"alg": ALG, "typ": typ, "kid": key.thumbprint}
    return jws.serialize_compact(header, canonical_json(dict(claims)), private_jwk(key), [ALG], REGISTRY)


@dataclass(frozen=True, slots=True)
class KeySet:
    """Verification keys by `kid` (Ed25519 only)."""

    keys: Mapping[str, OKPKey]

    @classmethod
    def from_jwks(cls, doc: Mapping[str, Any]) -> KeySet:
        """Accept a JWKS document; ignore keys that are not Ed25519 signature keys."""
        raw = doc.get("keys")
        if not isinstance(raw, list):
            raise VerifyError("JWKS must be an object with a 'keys' list", code=ErrorCode.INVALID_JWKS)
        keys: dict[str, OKPKey] = {}
        for item in raw:
            if not isinstance(item, dict) or item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
                continue
            if item.get("alg", ALG) != ALG or item.get("use", "sig") != "sig":
                continue
            try:
                key = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": str(item["x"])})
            except (KeyError, JoseError, ValueError):
                raise VerifyError(
                    f"JWKS key {item.get('kid')!r} is not a valid Ed25519 key", code=ErrorCode.INVALID_JWKS
                ) from None
            keys[str(item.get("kid") or key.thumbprint())] = key
        return cls(keys)

    @classmethod
    def of(cls, *signing_keys: SigningKey) -> KeySet:
        return cls({k.thumbprint: OKPKey.import_key(k.public) for k in signing_keys})


def jwks(*signing_keys: SigningKey) -> dict[str, Any]:
    """The public JWKS document for `signing_keys`."""
    return {"keys": [k.public_jwk() for k in signing_keys]}


def verify(token: str, keys: KeySet, typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check structure, alg (pinned), typ, kid and signature; return (header, claims). VerifyError otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise VerifyError("not a compact JWS (expected three base64url parts)", code=ErrorCode.MALFORMED)
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError:
        raise VerifyError("the JWS header is not base64url JSON", code=ErrorCode.MALFORMED) from None
    if not isinstance(header, dict):
        raise VerifyError("the JWS header is not a JSON object", code=ErrorCode.MALFORMED)
    if header.get("alg") != ALG:
        raise VerifyError(
            f"algorithm {header.get('alg')!r} is not allowed; only {ALG} (Ed25519)", code=ErrorCode.ALG_NOT_ALLOWED
        )
    if header.get("typ") != typ:
        raise VerifyError(f"typ {header.get('typ')!r} is not {typ!r}", code=ErrorCode.WRONG_TYPE)
    if "crit" in header:
        raise VerifyError("critical header parameters are not supported", code=ErrorCode.MALFORMED)
    key = keys.keys.get(str(header.get("kid")))
    if key is None:
        raise VerifyError(
            f"signing key {header.get('kid')!r} is not in the JWKS (known: {', '.join(keys.keys) or 'none'})",
            code=ErrorCode.UNKNOWN_KEY,
        )
    try:
        obj = jws.deserialize_compact(token.strip(), key, [ALG], REGISTRY)
    except BadSignatureError:
        raise VerifyError("signature does not verify with the published key", code=ErrorCode.BAD_SIGNATURE) from None
    except JoseError as exc:
        raise VerifyError(f"invalid JWS: {exc}", code=ErrorCode.MALFORMED) from None
    try:
        claims = json.loads(obj.payload)
    except ValueError:
        raise VerifyError("the JWS payload is not JSON", code=ErrorCode.MALFORMED) from None
    if not isinstance(claims, dict):
        raise VerifyError("the JWS payload is not a JSON object", code=ErrorCode.MALFORMED)
    return header, claims
