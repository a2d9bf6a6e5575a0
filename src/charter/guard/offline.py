"""Offline verification: a license token checked against the JWKS and a signed status list, no server needed.

DESIGN.md's verifier rules: the status list is refreshed every `refresh_s`; an older version is rejected; when it
cannot be refreshed, high-risk systems fail closed at once, others keep serving licenses not known to be
suspended or revoked for `grace_s` (decisions marked degraded); the license's own expiry never gets grace.

The verifier is pinned to the deployment it guards: its environment and model digest are given when it is built and
compared with the token's claims on every decision. A token for staging, or for another model, is
`license_scope_mismatch` whatever the status list says, fresh or degraded, and whatever the guard's mode (enforce
raises, warn and observe report that reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from charter.deployments.model import Grant, Reason, Request, Verdict, tool_rules
from charter.deployments.scope import decide
from charter.licenses import jose, statuslist
from charter.licenses.model import STATUS_REVOKED, STATUS_SUSPENDED
from charter.licenses.tokens import LICENSE_TYP, check_claims

FetchStatus = Callable[[], str]
_STATE = {STATUS_SUSPENDED: "suspended", STATUS_REVOKED: "revoked"}


class OfflineVerifier:
    """Decides calls from one verified license token plus the freshest status list it could fetch."""

    def __init__(
        self,
        token: str,
        jwks: Mapping[str, Any] | jose.KeySet,
        fetch_status: FetchStatus,
        *,
        env: str,
        digest: str,
        grace_s: float = 900.0,
        refresh_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = jwks if isinstance(jwks, jose.KeySet) else jose.KeySet.from_jwks(jwks)
        _, claims = jose.verify(token, self.keys, LICENSE_TYP)
        check_claims(claims)
        self.claims = claims
        self.pinned_env = env
        self.pinned_digest = digest
        self._fetch = fetch_status
        self.grace_s = grace_s
        self.refresh_s = refresh_s
        self._clock = clock
        self._status: statuslist.StatusList | None = None
        self._fetched_at = 0.0
        self._failing_since: float | None = None
        self.last_error: str | None = None

    @property
    def license_id(self) -> str:
        return str(self.claims["sub"])

    @property
    def digest(self) -> str:
        return str(self.claims["digest"])

    def _refresh(self, now: float) -> None:
        if self._status is not None and now - self._fetched_at < self.refresh_s and now < self._status.exp:
            return
        try:
            token = self._fetch()
            seen = self._status.version if self._status is not None else 0
            self._status = statuslist.verify(token, self.keys, now=int(now), min_version=seen)
            self._fetched_at = now
            self._failing_since = None
            self.last_error = None
        except Exception as exc:  # any failure to refresh puts the verifier in degraded mode
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self._failing_since is None:
                self._failing_since = now

    def grant(self, now: float) -> tuple[Grant, float | None]:
        """The license as a `Grant` with its last known status, and since when it is degraded (or None)."""
        self._refresh(now)
        c = self.claims
        state = "active"
        if self._status is not None:
            state = _STATE.get(self._status.status(int(c["status"]["status_list"]["idx"])), "active")
        # A list that is still within its own validity keeps counting as fresh; past it, grace starts.
        degraded: float | None = None
        if self._status is None:
            degraded = self._failing_since if self._failing_since is not None else now
        elif now >= self._status.exp:
            degraded = float(self._status.exp)
        scope = c["scope"]
        callers = frozenset(x if ":" in x else f"app:{x}" for x in scope["callers"])
        grant = Grant(
            license_id=str(c["sub"]),
            digest=str(c["digest"]),
            env=str(scope["env"]),
            state=state,
            purposes=frozenset(scope["purposes"]),
            callers=callers,
            tools=frozenset(scope["tools"]),
            nbf=float(c["nbf"]),
            exp=float(c["exp"]),
            risk_tier=str(c["risk_tier"]),
            tool_rules=tool_rules(scope.get("tool_rules")),
        )
        return grant, degraded

    def scope_mismatch(self) -> str | None:
        """Why the token does not cover the pinned deployment (environment or model digest), or None."""
        env, digest = str(self.claims["scope"]["env"]), str(self.claims["digest"])
        problems = []
        if env != self.pinned_env:
            problems.append(f"its environment is {env!r}, this deployment's is {self.pinned_env!r}")
        if digest != self.pinned_digest:
            problems.append(f"its model digest is {digest}, this deployment serves {self.pinned_digest}")
        if not problems:
            return None
        return f"license token {self.license_id} does not cover this deployment: " + "; ".join(problems)

    def decide(self, req: Request) -> Verdict:
        """The same check the gateway makes, on this one license, after the pinned environment and digest."""
        now = self._clock()
        grant, degraded_since = self.grant(now)
        mismatch = self.scope_mismatch()
        if mismatch is not None:
            degraded = degraded_since is not None
            return Verdict(False, Reason.LICENSE_SCOPE_MISMATCH, grant=grant, degraded=degraded, detail=mismatch)
        return decide([grant], req, now, degraded_since=degraded_since, grace_s=self.grace_s)
