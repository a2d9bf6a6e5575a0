"""RFC 9457 problem+json bodies for gateway refusals (403 with the reason, 401, 404, 429, 502, 503)."""

from __future__ import annotations

from typing import Any

import orjson

PROBLEM = b"application/problem+json"

TITLES = {
    "no_license": "No license covers this call",
    "license_suspended": "License suspended",
    "license_revoked": "License revoked",
    "license_expired": "License expired",
    "license_not_yet_valid": "License not yet valid",
    "caller_not_in_scope": "Caller not in license scope",
    "purpose_not_in_scope": "Purpose not in license scope",
    "tool_not_in_scope": "Tool not in license scope",
    "tool_condition_failed": "Tool call fails a license condition",
    "approval_required": "Tool call waits for a human approval",
    "approval_refused": "Approval does not cover this tool call",
    "stream_not_checkable": "Streamed answer cannot be checked",
    "license_scope_mismatch": "License is for another environment or model",
    "license_status_unavailable": "License status unavailable",
    "rate_limited": "Rate limit exceeded",
    "audit_unavailable": "Audit log unavailable",
    "upstream_unavailable": "Upstream model server unavailable",
    "deployment_not_found": "Unknown deployment",
    "path_not_allowed": "Path not allowed",
    "openai_route_required": "Use the OpenAI-compatible route",
    "ambiguous_request": "Ambiguous request body",
    "payload_too_large": "Payload too large",
    "upstream_not_allowed": "Upstream address not allowed",
    "upstream_redirect": "Upstream redirected",
    "upstream_response_unreadable": "Upstream answer cannot be checked",
}


def problem_body(status: int, code: str, detail: str, **extra: Any) -> bytes:
    """The problem+json document for one refusal."""
    doc: dict[str, Any] = {
        "type": f"https://charter.dev/problems/{code}",
        "title": TITLES.get(code, code.replace("_", " ")),
        "status": status,
        "code": code,
        "detail": detail,
    }
    doc.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(doc)
