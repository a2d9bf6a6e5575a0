"""What the SDK returns and raises."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from charter.core.errors import CharterError, ErrorCode, ErrorKind


class Mode(StrEnum):
    ENFORCE = "enforce"  # a denied call raises LicenseDenied and the model is not run
    WARN = "warn"  # a denied call runs, with a LicenseWarning
    SHADOW = "shadow"  # a denied call runs silently; only the audit log records it


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision for one call, as recorded in the audit log (or the local spool when offline)."""

    decision_id: str
    allowed: bool
    deployment: str
    reason: str | None = None
    detail: str = ""
    license_id: str | None = None
    degraded: bool = False
    offline: bool = False
    approval_id: str | None = None  # a tool call waiting for (or spending) a human's approval
    ruled_tools: tuple[str, ...] = ()  # tools whose calls in an answer are decided with their arguments


class LicenseDenied(CharterError):
    """Raised in enforce mode when no license covers the call; `code` is the gateway's denial reason."""

    kind = ErrorKind.FORBIDDEN
    code = ErrorCode.NO_LICENSE

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            decision.detail or f"call to {decision.deployment} refused: {decision.reason}",
            code=decision.reason or ErrorCode.NO_LICENSE,
            details={
                "decision_id": decision.decision_id,
                "license_id": decision.license_id,
                "approval_id": decision.approval_id,
            },
        )
        self.decision = decision


class LicenseWarning(UserWarning):
    """Emitted in warn mode for a call no license covers."""


class CaptureRefused(Exception):
    """Charter refused a capture request (4xx): `code` says why (profile_not_found, profile_mismatch, …)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
