"""Decisions made and audited in-process, against a Charter container on the same database (no HTTP)."""

from __future__ import annotations

from typing import Any

from charter.auth import service as auth_service
from charter.bootstrap import Container
from charter.deployments import service as deployments
from charter.deployments.schemas import DecisionCreate
from charter.guard.model import Decision


class LocalDecider:
    """The decisions API's use case called directly: same checks, same audit entry, same transaction rules."""

    def __init__(self, container: Container, api_key: str) -> None:
        self.container = container
        self._key = api_key

    def decide(self, deployment: str, body: dict[str, Any]) -> Decision:
        with self.container.uow(write=False) as uow:
            actor = auth_service.authenticate(uow, self._key)
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
