"""Time-sortable, prefixed identifiers (ULID layout: 48-bit ms time + 80 random bits, Crockford base32)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return e.g. `lic_01jd…`: a prefix, an underscore and 26 base32 characters that sort by creation time."""
    ms = int(time.time() * 1000)
    rand = secrets.randbits(80)
    return f"{prefix}_{_b32((ms << 80) | rand, 26)}"
