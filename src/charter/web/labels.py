"""How the dashboard names licenses (`system@version · env`) and states where each one truly stands.

A license's stored state lags its expiry until the scheduler runs; a page must never promise validity that is not
there, so `standing` derives what a person should read from the state *and* the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from charter.core.clock import as_utc, utcnow
from charter.licenses.schemas import LicenseRead

LIVE = ("active", "suspended")


def label(lic: LicenseRead) -> str:
    """`credit-scoring@1.1.0 · production`: what a person calls a license (the id is for machines)."""
    return f"{lic.system}@{lic.model_version} · {lic.env}"


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a license stands now: the state to show, one sentence about validity, and whether it may serve."""

    state: str
    text: str
    since: datetime | None
    until: datetime | None
    serving: bool


def effective_state(lic: LicenseRead, now: datetime | None = None) -> str:
    """The stored state, except that a live license past its expiry is shown as expired."""
    state = str(lic.state)
    if state in LIVE and lic.exp is not None and as_utc(lic.exp) <= (now or utcnow()):
        return "expired"
    return state


def standing(lic: LicenseRead, now: datetime | None = None) -> Standing:
    """The validity sentence for `lic`: a revoked, expired, rejected or suspended license never reads as valid."""
    now = now or utcnow()
    state = effective_state(lic, now)
    stored = str(lic.state)
    changed = lic.updated_at
    if state == "active":
        return Standing(state, "valid until", lic.nbf, lic.exp, True)
    if state == "suspended":
        return Standing(state, "suspended: refused by every gateway until reinstated", changed, lic.exp, False)
    if state == "expired":
        ended = lic.exp if stored in LIVE else (lic.exp or changed)
        return Standing(state, "expired: no longer valid", ended, None, False)
    if state == "revoked":
        return Standing(state, "revoked: withdrawn for good", changed, None, False)
    if state == "rejected":
        return Standing(state, "rejected: never became valid", changed, None, False)
    if state == "approved":
        return Standing(state, f"approved; valid for {lic.days} days once activated", changed, None, False)
    return Standing(state, f"awaiting sign-offs; valid for {lic.days} days once activated", lic.created_at, None, False)


def version_standing(licenses: Iterable[LicenseRead], now: datetime | None = None) -> list[dict[str, str]]:
    """Per environment, the license state that matters most for one model version (live before ended)."""
    order = {"active": 0, "suspended": 1, "approved": 2, "requested": 3, "expired": 4, "revoked": 5, "rejected": 6}
    best: dict[str, tuple[int, LicenseRead, str]] = {}
    for lic in licenses:
        state = effective_state(lic, now)
        rank = order.get(state, 9)
        if lic.env not in best or rank < best[lic.env][0]:
            best[lic.env] = (rank, lic, state)
    return [{"env": env, "state": state, "id": lic.id} for env, (_, lic, state) in sorted(best.items())]
