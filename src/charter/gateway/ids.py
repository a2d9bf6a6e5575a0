"""Decision ids on the hot path: the `charter.core.ids` layout (48-bit ms time + 80 random bits, Crockford
base32, 26 characters), encoded with `base64.b32encode` + `bytes.translate` instead of a Python loop."""

from __future__ import annotations

import base64
import os
import random
import time

# Decision ids must be unique, not secret: a per-process generator seeded from the OS avoids a syscall per call.
_RANDOM = random.Random(os.urandom(32))
_TABLE = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")


def encode130(value: int) -> str:
    """26 Crockford base32 digits of a 130-bit integer (shifted to 136 bits = 17 bytes, the first 26 digits)."""
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].translate(_TABLE).decode()


def decision_id(prefix: str = "dec") -> str:
    """`dec_` + 26 characters that sort by creation time, like `charter.core.ids.new_id("dec")`."""
    return f"{prefix}_{encode130((int(time.time() * 1000) << 80) | _RANDOM.getrandbits(80))}"
