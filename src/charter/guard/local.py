"""Decisions made and audited in-process, against a Charter container on the same database (no HTTP)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from charter.auth import service as auth_service
from charter.auth.model import Actor
from charter.bootstrap import Container
from charter.core.errors import CharterError
from charter.deployments import service as deployments
from charter.deployments.schemas import DecisionCreate
from charter.guard.model import CaptureRefused, Decision
from charter.monitoring import service as monitoring
from charter.monitoring.schemas import CaptureUpload


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
            approval_id=out.approval_id,
            ruled_tools=tuple(out.ruled_tools),
        )

    # --- capture (charter.guard.capture) -------------------------------------------------------------------------

    def capture_target(self, deployment: str) -> dict[str, Any]:
        actor = self._caller()
        try:
            with self.container.uow(write=False) as uow:
                dep = deployments.for_capture(uow, actor, deployment)
                window_s = self.container.settings.monitor_window_s
                target = monitoring.sdk_target(uow, deployment, dep.model, dep.digest, window_s)
        except CharterError as exc:
            raise CaptureRefused(exc.code, exc.message) from exc
        return target.model_dump(mode="json")

    def submit_capture(self, deployment: str, start: datetime, end: datetime, sketch: dict[str, Any]) -> None:
        actor = self._caller()
        body = CaptureUpload(start=start, end=end, sketch=sketch)
        try:
            with self.container.uow() as uow:
                dep = deployments.for_capture(uow, actor, deployment)
                monitoring.record_sdk_capture(
                    uow, actor, dep.model, dep.digest, dep.env, body, window_s=self.container.settings.monitor_window_s
                )
        except CharterError as exc:
            raise CaptureRefused(exc.code, exc.message) from exc
