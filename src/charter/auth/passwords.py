"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows, made with the same parameters as real ones: checking a login for a
    name without a password against it costs what a real check costs, so timing does not tell which names exist."""
    return _hasher.hash(secrets.token_urlsafe(32))
