"""License states and transitions. Pure: no database, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from charter.core.errors import Conflict, ErrorCode


class LicenseState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in FINAL


class Transition(StrEnum):
    APPROVE = "approve"  # every required sign-off is in
    REJECT = "reject"
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    EXPIRE = "expire"


class StateAction(StrEnum):
    """What an operator does to a live license from one `StateChange` body (API, dashboard)."""

    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


FINAL = frozenset({LicenseState.REJECTED, LicenseState.REVOKED, LicenseState.EXPIRED})
TRANSITIONS: dict[tuple[LicenseState, Transition], LicenseState] = {
    (LicenseState.REQUESTED, Transition.APPROVE): LicenseState.APPROVED,
    (LicenseState.REQUESTED, Transition.REJECT): LicenseState.REJECTED,
    (LicenseState.APPROVED, Transition.ACTIVATE): LicenseState.ACTIVE,
    (LicenseState.ACTIVE, Transition.SUSPEND): LicenseState.SUSPENDED,
    (LicenseState.SUSPENDED, Transition.REINSTATE): LicenseState.ACTIVE,
    (LicenseState.REQUESTED, Transition.REVOKE): LicenseState.REVOKED,
    (LicenseState.APPROVED, Transition.REVOKE): LicenseState.REVOKED,
    (LicenseState.ACTIVE, Transition.REVOKE): LicenseState.REVOKED,
    (LicenseState.SUSPENDED, Transition.REVOKE): LicenseState.REVOKED,
    (LicenseState.ACTIVE, Transition.EXPIRE): LicenseState.EXPIRED,
    (LicenseState.SUSPENDED, Transition.EXPIRE): LicenseState.EXPIRED,
}

# Status list values (2 bits per license index).
STATUS_VALID, STATUS_SUSPENDED, STATUS_REVOKED = 0, 1, 2


def next_state(state: LicenseState, transition: Transition, license_id: str = "") -> LicenseState:
    """The state after `transition`, or Conflict (code license_invalid_transition) naming what is allowed."""
    target = TRANSITIONS.get((state, transition))
    if target is None:
        allowed = sorted(t for (s, t) in TRANSITIONS if s is state)
        hint = f"from {state} you may: {', '.join(allowed)}" if allowed else f"{state} is final"
        raise Conflict(
            f"license {license_id} is {state}: cannot {transition} ({hint})",
            code=ErrorCode.LICENSE_INVALID_TRANSITION,
            details={"state": str(state), "transition": str(transition), "allowed": allowed},
        )
    return target


def status_value(state: LicenseState) -> int:
    """The status-list value of a license that has an index (active once): 0 valid, 1 suspended, 2 revoked."""
    if state is LicenseState.SUSPENDED:
        return STATUS_SUSPENDED
    if state in (LicenseState.REVOKED, LicenseState.EXPIRED):
        return STATUS_REVOKED
    return STATUS_VALID


@dataclass(frozen=True, slots=True)
class LicenseIndexEntry:
    """One active or suspended license as the gateway indexes it."""

    license_id: str
    digest: str
    system: str
    model_version: str
    env: str
    purposes: tuple[str, ...]
    callers: tuple[str, ...]
    tools: tuple[str, ...]
    regions: tuple[str, ...]
    nbf: datetime
    exp: datetime
    state: str
    risk_tier: str
    conditions: tuple[dict[str, Any], ...]
    version: int
    status_index: int | None
    tool_rules: tuple[dict[str, Any], ...] = ()
