"""The per-call license check shared by the gateway and the SDK: state, validity, caller, purpose, tools.

Pure functions over `Grant`s: no I/O, so the hot path costs a few dictionary and set lookups.
"""

from __future__ import annotations

from collections.abc import Sequence

from charter.deployments.model import Grant, Reason, Request, Verdict

# When every candidate license denies, report the reason of the most alive one: a scope miss on an active
# license says more than "revoked" on an old one.
_RANK = {"active": 0, "suspended": 1, "expired": 2, "revoked": 3}

_STATE_REASON = {
    "suspended": Reason.LICENSE_SUSPENDED,
    "revoked": Reason.LICENSE_REVOKED,
    "expired": Reason.LICENSE_EXPIRED,
}


def check(grant: Grant, req: Request, now: float) -> Reason | None:
    """The first reason `grant` does not cover `req` at `now` (epoch seconds), or None when it does."""
    if grant.state != "active":
        return _STATE_REASON.get(grant.state, Reason.NO_LICENSE)
    if now >= grant.exp:
        return Reason.LICENSE_EXPIRED
    if now < grant.nbf:
        return Reason.LICENSE_NOT_YET_VALID
    if req.caller not in grant.callers:
        return Reason.CALLER_NOT_IN_SCOPE
    if req.purpose not in grant.purposes:
        return Reason.PURPOSE_NOT_IN_SCOPE
    for tool in req.tools:
        if tool not in grant.tools:
            return Reason.TOOL_NOT_IN_SCOPE
    return None


def _detail(reason: Reason, grant: Grant, req: Request) -> str:
    lic = grant.license_id
    if reason is Reason.CALLER_NOT_IN_SCOPE:
        return f"{req.caller} is not a caller of license {lic} (callers: {', '.join(sorted(grant.callers)) or '-'})"
    if reason is Reason.PURPOSE_NOT_IN_SCOPE:
        got = "no Charter-Purpose header" if req.purpose is None else f"purpose '{req.purpose}'"
        return f"{got} is not in license {lic} (purposes: {', '.join(sorted(grant.purposes)) or '-'})"
    if reason is Reason.TOOL_NOT_IN_SCOPE:
        bad = [t for t in req.tools if t not in grant.tools]
        return f"tool(s) {', '.join(bad)} not in license {lic} (tools: {', '.join(sorted(grant.tools)) or 'none'})"
    if reason is Reason.LICENSE_EXPIRED:
        return f"license {lic} has expired"
    if reason is Reason.LICENSE_NOT_YET_VALID:
        return f"license {lic} is not valid yet"
    if reason is Reason.LICENSE_SUSPENDED:
        return f"license {lic} is suspended"
    if reason is Reason.LICENSE_REVOKED:
        return f"license {lic} has been revoked"
    return f"license {lic} does not cover this call ({reason})"


def decide(
    grants: Sequence[Grant],
    req: Request,
    now: float,
    *,
    degraded_since: float | None = None,
    grace_s: float = 0.0,
) -> Verdict:
    """Allow with the first license that covers `req`, else deny with the most telling reason.

    `degraded_since` is set while the license state cannot be refreshed: high-risk systems fail closed at
    once, others keep serving licenses not known to be revoked for `grace_s`; expiry never gets grace.
    """
    if not grants:
        return Verdict(False, Reason.NO_LICENSE, detail="no license covers this model version in this environment")
    degraded = degraded_since is not None
    if degraded and (any(g.high_risk for g in grants) or now - (degraded_since or now) > grace_s):
        why = "high-risk system fails closed" if any(g.high_risk for g in grants) else "grace period is over"
        return Verdict(
            False,
            Reason.LICENSE_STATUS_UNAVAILABLE,
            grant=grants[0],
            degraded=True,
            detail=f"license status cannot be refreshed and the {why}",
        )
    best: tuple[int, Reason, Grant] | None = None
    for grant in grants:
        reason = check(grant, req, now)
        if reason is None:
            return Verdict(True, grant=grant, degraded=degraded)
        rank = _RANK.get(grant.state, 4)
        if best is None or rank < best[0]:
            best = (rank, reason, grant)
    assert best is not None
    _, reason, grant = best
    return Verdict(False, reason, grant=grant, degraded=degraded, detail=_detail(reason, grant, req))
