"""API key material: `chk_<prefix>_<secret>`, shown once, stored as a SHA-256 digest of the whole key.

Keys carry 190+ bits of randomness, so a fast hash is safe (as for GitHub tokens); passwords use Argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from charter.core.errors import ErrorCode, Unauthenticated

PREFIX_LEN = 10


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret_hash: str
    plaintext: str


def generate() -> NewKey:
    prefix = secrets.token_hex(PREFIX_LEN // 2)
    secret = secrets.token_urlsafe(32)
    plaintext = f"chk_{prefix}_{secret}"
    return NewKey(prefix=prefix, secret_hash=digest(plaintext), plaintext=plaintext)


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_prefix(plaintext: str) -> str:
    """The public prefix of a presented key; raise 401 for anything not shaped like a Charter key."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "chk" or len(parts[1]) != PREFIX_LEN or not parts[2]:
        raise Unauthenticated("malformed API key: expected 'chk_<prefix>_<secret>'", code=ErrorCode.INVALID_API_KEY)
    return parts[1]


def matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(digest(plaintext), secret_hash)
