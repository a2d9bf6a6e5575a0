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


class Ticker:
    """A background task of `charter serve` woken by every committed license change (`notify`) and by a timeout;
    subclasses write `_run` around `_wait`."""

    task_name = "charter-ticker"

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
        self._task = asyncio.create_task(self._run(), name=self.task_name)

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

    async def _wait(self, timeout: float) -> bool:
        """Sleep until a license change or `timeout` seconds; True when a change rang."""
        assert self._event is not None
        try:
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
            rung = True
        except TimeoutError:
            rung = False
        self._event.clear()
        return rung

    async def _run(self) -> None:
        raise NotImplementedError


class Background(Ticker):
    """The license jobs: every `scheduler_interval_s`, and webhook delivery / status list at once after a change."""

    task_name = "charter-license-scheduler"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.interval = runtime.settings.scheduler_interval_s

    async def _run(self) -> None:
        last_jobs = last_hooks = 0.0
        while True:
            rung = await self._wait(min(1.0, self.interval))
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
    """Register the scheduler in the server lifespan (`runtime.lifespan`)."""
    background = Background(runtime)
    runtime.lifespan.add(background.start, background.stop)
    return background
