"""The signed status list: 2 bits per license index (0 valid, 1 suspended, 2 revoked), zlib-compressed.

Layout follows the IETF Token Status List draft (`status_list: {bits, lst}`, index i in the byte i*bits//8 at
bit offset i*bits%8, least significant first), with a rising `version` a verifier must never see go down.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from charter.core.errors import ErrorCode
from charter.core.signing import SigningKey
from charter.licenses import jose
from charter.licenses.jose import VerifyError

STATUS_LIST_TYP = "statuslist+jwt"
BITS = 2
MAX_BYTES = 1 << 24  # 64M licenses; refuses decompression bombs
NAMES = {0: "valid", 1: "suspended", 2: "revoked", 3: "reserved"}


def pack(values: Mapping[int, int]) -> bytes:
    """Pack `{index: status}` into the 2-bit little-endian byte array (unlisted indexes are 0)."""
    size = (max(values, default=-1) + 1 + 3) // 4
    out = bytearray(size)
    for index, status in values.items():
        if not 0 <= status <= 3 or index < 0:
            raise ValueError(f"status {status} at index {index} out of range")
        out[index // 4] |= status << ((index % 4) * BITS)
    return bytes(out)


def status_at(data: bytes, index: int) -> int:
    """The status at `index`; indexes past the end are 0 (valid)."""
    byte = index // 4
    if byte >= len(data):
        return 0
    return (data[byte] >> ((index % 4) * BITS)) & 0b11


def encode(values: Mapping[int, int]) -> str:
    return jose.b64url(zlib.compress(pack(values), 9))


def decode(lst: str) -> bytes:
    """Decompress a `lst` value, refusing anything malformed or larger than MAX_BYTES."""
    try:
        d = zlib.decompressobj()
        data = d.decompress(jose.b64url_decode(lst), MAX_BYTES)
        if d.unconsumed_tail or not d.eof:
            raise ValueError("truncated or too large")
    except (zlib.error, ValueError) as exc:
        raise VerifyError(
            f"status list bitmap is not valid zlib/base64url: {exc}", code=ErrorCode.STATUS_LIST_INVALID
        ) from None
    return data


def claims(
    *,
    issuer: str,
    uri: str,
    version: int,
    issued_at: datetime,
    ttl_s: int,
    values: Mapping[int, int],
    audit_size: int | None,
    audit_root: str | None,
) -> dict[str, Any]:
    """Claims of a status list token."""
    iat = int(issued_at.timestamp())
    doc: dict[str, Any] = {
        "iss": issuer,
        "sub": uri,
        "iat": iat,
        "exp": iat + ttl_s,
        "ttl": ttl_s,
        "version": version,
        "status_list": {"bits": BITS, "lst": encode(values)},
    }
    if audit_size is not None:
        doc["audit"] = {"size": audit_size, "root": audit_root}
    return doc


def sign(key: SigningKey, doc: Mapping[str, Any]) -> str:
    return jose.sign(key, STATUS_LIST_TYP, doc)


@dataclass(frozen=True, slots=True)
class StatusList:
    """A verified status list."""

    uri: str
    version: int
    iat: int
    exp: int
    data: bytes
    audit_size: int | None

    def status(self, index: int) -> int:
        return status_at(self.data, index)


def verify(token: str, keys: jose.KeySet, *, now: int, min_version: int = 0) -> StatusList:
    """Verify a status list token: signature, freshness (exp), and no rollback below `min_version`."""
    _, doc = jose.verify(token, keys, STATUS_LIST_TYP)
    sl = doc.get("status_list")
    fields_ok = (
        isinstance(sl, dict)
        and sl.get("bits") == BITS
        and isinstance(sl.get("lst"), str)
        and all(isinstance(doc.get(k), int) and not isinstance(doc.get(k), bool) for k in ("iat", "exp", "version"))
        and isinstance(doc.get("sub"), str)
    )
    if not fields_ok:
        raise VerifyError(
            "status list lacks sub, iat, exp, version or status_list{bits: 2, lst}", code=ErrorCode.STATUS_LIST_INVALID
        )
    assert isinstance(sl, dict)
    if doc["exp"] <= now:
        raise VerifyError(
            f"status list version {doc['version']} expired at {doc['exp']} (now {now}); fetch a fresh one",
            code=ErrorCode.STATUS_LIST_STALE,
        )
    if doc["version"] < min_version:
        raise VerifyError(
            f"status list version {doc['version']} is older than version {min_version} already seen (rollback)",
            code=ErrorCode.STATUS_LIST_ROLLBACK,
        )
    audit = doc.get("audit")
    size = audit.get("size") if isinstance(audit, dict) and isinstance(audit.get("size"), int) else None
    return StatusList(doc["sub"], doc["version"], doc["iat"], doc["exp"], decode(sl["lst"]), size)
