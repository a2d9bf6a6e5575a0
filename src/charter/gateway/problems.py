"""RFC 9457 problem+json bodies for gateway refusals (403 with the reason, 401, 404, 429, 502, 503); codes and
titles come from the one catalogue (`charter.core.errors.CATALOGUE`)."""

from __future__ import annotations

from typing import Any

import orjson

from charter.core.errors import title_of

PROBLEM = b"application/problem+json"


def problem_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    """The problem+json document for one refusal."""
    doc: dict[str, Any] = {
        "type": f"https://charter.dev/problems/{code}",
        "title": title_of(code),
        "status": status,
        "code": code,
        "detail": detail,
    }
    doc.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(doc)
