"""The audit entry of one inference decision: same shape from the gateway, the SDK and the decisions API."""

from __future__ import annotations

from typing import Any

from charter.core.events import AuditEvent, Outcome
from charter.deployments.model import Verdict


def inference_event(
    *,
    decision_id: str,
    caller: str,
    deployment: str,
    verdict: Verdict | None,
    status: int,
    latency_ms: float,
    reason: str | None = None,
    request: bytes | None = None,
    response: bytes | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """`inference.allow` / `inference.deny` / `inference.error`, bodies only as HMAC digests, never governance."""
    why = reason or (str(verdict.reason) if verdict is not None and verdict.reason else None)
    outcome: Outcome
    if verdict is not None and verdict.allowed:
        # Allowed by the license; a gateway-side failure after that (upstream down, broken stream) is an error.
        if reason is None:
            action, outcome = "inference.allow", "degraded" if verdict.degraded else "success"
        else:
            action, outcome = "inference.error", "error"
    else:
        action, outcome = "inference.deny", "denied"
    degraded = verdict is not None and verdict.degraded
    details: dict[str, Any] = {
        "decision_id": decision_id,
        "license_id": verdict.license_id if verdict is not None else None,
        "status": status,
        "latency_ms": round(latency_ms, 3),
    }
    if why is not None:
        details["reason"] = why
    if degraded:
        details["degraded"] = True
    if extra:
        details.update(extra)
    sensitive: dict[str, bytes | str] = {}
    if request is not None:
        sensitive["request"] = request
    if response is not None:
        sensitive["response"] = response
    return AuditEvent(
        actor=caller,
        action=action,
        resource=f"deployment:{deployment}",
        outcome=outcome,
        details=details,
        sensitive=sensitive,
        governance=False,
    )
