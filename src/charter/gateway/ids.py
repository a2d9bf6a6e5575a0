"""Decision ids on the hot path: the `charter.core.ids` layout (48-bit ms time + 80 random bits, Crockford
base32, 26 characters), encoded ten bits at a time from a table (CPython 3.11's `base64.b32encode` is a Python loop)."""

from __future__ import annotations

import os
import random
import time

# Decision ids must be unique, not secret: a per-process generator seeded from the OS avoids a syscall per call.
_RANDOM = random.Random(os.urandom(32))


_DIGITS = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]  # 10 bits → two Crockford digits
_SHIFTS = range(120, -1, -10)


def encode130(value: int) -> str:
    """26 Crockford base32 digits of a 130-bit integer, most significant first (13 table lookups of 10 bits)."""
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _SHIFTS])


def decision_id(prefix: str = "dec") -> str:
    """`dec_` + 26 characters that sort by creation time, like `charter.core.ids.new_id("dec")`."""
    return f"{prefix}_{encode130((int(time.time() * 1000) << 80) | _RANDOM.getrandbits(80))}"
