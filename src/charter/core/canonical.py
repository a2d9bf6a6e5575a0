"""RFC 8785 (JCS) canonical JSON: the bytes Charter hashes and signs."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON-compatible value (RFC 8785)."""
    return bytes(rfc8785.dumps(value))
