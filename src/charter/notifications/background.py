"""The notifier inside `charter serve`: fans out and sends at once after a change, and on an interval (retries,
digests closing). Several processes may run it: fan-out and delivery claim rows (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging

from charter.core.clock import utcnow
from charter.licenses.background import Ticker
from charter.licenses.runtime import Runtime
from charter.notifications import channels, routing, service
from charter.notifications.service import Plan

log = logging.getLogger("charter.notifications")
POLL_S = 5.0
PRUNE_EVERY = 720  # ticks


def plan_for(runtime: Runtime) -> Plan:
    """The notification plan of this deployment; a malformed CHARTER_NOTIFY_ROUTES raises `RouteError`."""
    settings = runtime.settings
    return Plan(
        channels=channels.from_settings(settings),
        routes=routing.parse_routes(settings.notify_routes),
        dashboard=runtime.public_url,
        digest_minutes=settings.notify_digest_minutes,
    )


def tick(runtime: Runtime) -> tuple[int, int]:
    """One pass: plan new events, send what is due. Returns (planned, delivered). The plan is read each time: the
    public URL is known once the server listens."""
    plan, now = plan_for(runtime), utcnow()
    return service.fan_out(runtime.uow, plan, now), service.deliver_due(runtime.uow, plan, now)


class Notifier(Ticker):
    task_name = "charter-notifier"

    async def _run(self) -> None:
        ticks = 0
        while True:
            await self._wait(POLL_S)
            ticks += 1
            try:
                await asyncio.to_thread(tick, self.runtime)
                if ticks % PRUNE_EVERY == 0:
                    await asyncio.to_thread(service.prune, self.runtime.uow)
            except Exception:
                log.exception("notifier tick failed")


def wire(runtime: Runtime) -> Notifier:
    """Register the notifier in the server lifespan; settings errors surface here, before the server listens."""
    routing.parse_routes(runtime.settings.notify_routes)
    notifier = Notifier(runtime)
    runtime.lifespan.add(notifier.start, notifier.stop)
    return notifier
