"""The scheduler inside `charter serve`: scheduled jobs on an interval, and at once after a local license change
(webhook delivery and status-list re-signing)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from charter.core.clock import utcnow
from charter.licenses import jobs, notify
from charter.licenses.runtime import Runtime

log = logging.getLogger("charter.scheduler")
WEBHOOK_POLL_S = 5.0


class Background:
    """Start/stop hooks for the server lifespan."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.interval = runtime.settings.scheduler_interval_s
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
        self._task = asyncio.create_task(self._run(), name="charter-license-scheduler")

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
        last_jobs = last_hooks = 0.0
        while True:
            rung = False
            try:
                await asyncio.wait_for(self._event.wait(), timeout=min(1.0, self.interval))
                rung = True
            except TimeoutError:
                pass
            self._event.clear()
            now = time.monotonic()
            try:
                if now - last_jobs >= self.interval:
                    last_jobs = last_hooks = now
                    await asyncio.to_thread(jobs.run_due_jobs, self.runtime)
                elif rung or now - last_hooks >= WEBHOOK_POLL_S:
                    last_hooks = now
                    await asyncio.to_thread(self._after_change)
            except Exception:
                log.exception("license scheduler tick failed")

    def _after_change(self) -> None:
        jobs.status_list(self.runtime, utcnow())
        jobs.deliver_webhooks(self.runtime, utcnow())


def wire(runtime: Runtime) -> Background:
    """Register the scheduler in the server lifespan (`runtime.extras["lifespan"]`)."""
    background = Background(runtime)
    hooks = runtime.extras.setdefault("lifespan", {})
    hooks.setdefault("startup", []).append(background.start)
    hooks.setdefault("shutdown", []).append(background.stop)
    return background
