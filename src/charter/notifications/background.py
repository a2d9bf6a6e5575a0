"""The notifier inside `charter serve`: fans out and sends at once after a change, and on an interval (retries,
digests closing). Several processes may run it: fan-out and delivery claim rows (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from charter.core.clock import utcnow
from charter.licenses import notify
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


class Notifier:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def _ring(self) -> None:
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._unsubscribe = notify.subscribe(self._ring)
        self._task = asyncio.create_task(self._run(), name="charter-notifier")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        assert self._event is not None
        ticks = 0
        while True:
            try:
                await asyncio.wait_for(self._event.wait(), timeout=POLL_S)
            except TimeoutError:
                pass
            self._event.clear()
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
    hooks = runtime.extras.setdefault("lifespan", {})
    hooks.setdefault("startup", []).append(notifier.start)
    hooks.setdefault("shutdown", []).append(notifier.stop)
    return notifier
