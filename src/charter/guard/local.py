"""Decisions made and audited in-process, against a Charter container on the same database (no HTTP)."""

from __future__ import annotations

import time
from typing import Any

from charter.auth import service as auth_service
from charter.auth.model import Actor
from charter.bootstrap import Container
from charter.deployments import service as deployments
from charter.deployments.schemas import DecisionCreate
from charter.guard.model import Decision


class LocalDecider:
    """The decisions API's use case called directly: same checks, same audit entry, same transaction rules."""

    def __init__(self, container: Container, api_key: str, *, key_ttl_s: float = 5.0) -> None:
        self.container = container
        self._key = api_key
        self._ttl = key_ttl_s
        self._actor: tuple[float, Actor] | None = None

    def _caller(self) -> Actor:
        # Like the gateway: the key is verified at most once per `key_ttl_s` (a revoked key stops within it).
        now = time.monotonic()
        if self._actor is None or self._actor[0] <= now:
            with self.container.uow(write=False) as uow:
                self._actor = (now + self._ttl, auth_service.authenticate(uow, self._key))
        return self._actor[1]

    def decide(self, deployment: str, body: dict[str, Any]) -> Decision:
        actor = self._caller()
        with self.container.uow() as uow:
            out = deployments.record_decision(uow, actor, deployment, DecisionCreate(**body))
        return Decision(
            decision_id=out.decision_id,
            allowed=out.allowed,
            deployment=out.deployment,
            reason=out.reason,
            detail=out.detail,
            license_id=out.license_id,
            degraded=out.degraded,
        )
