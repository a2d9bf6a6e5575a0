"""Monitoring inside a running process: the gateway capture hook, the flush loop that merges captured sketches into
their windows, and the scheduled condition check (one process at a time, by lease).

Knobs (`charter.settings`): `monitor_window_s` (capture window length, default 3600), `monitor_flush_s` (how often
captured sketches are written, default 60) and `monitor_check_s` (scheduled check interval, default 300), set as
`CHARTER_MONITOR_*` or in `charter.toml`; `monitor_gateway_min_calls` (default 20) is the number of calls a window
needs before its `gateway.*` rates have a value (see `gateway_signals`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from charter.core.clock import utcnow
from charter.core.errors import CharterError
from charter.licenses.runtime import Runtime
from charter.monitoring import gateway_windows, service
from charter.monitoring import repository as repo
from charter.monitoring.capture import Capturer, Target
from charter.monitoring.gateway_windows import GatewayCounts
from charter.monitoring.windows import load_profile
from charter.storage import leases

log = logging.getLogger("charter.monitoring")
CHECK_JOB = "monitoring.check"


@dataclass(frozen=True)
class MonitorSettings:
    window_s: float = 3600.0
    flush_s: float = 60.0
    check_s: float = 300.0
    gateway_min_calls: int = 20

    @classmethod
    def load(cls, runtime: Runtime) -> MonitorSettings:
        """From `Settings.monitor_*` (`CHARTER_MONITOR_*` or `charter.toml`, validated there)."""
        s = runtime.settings
        return cls(
            window_s=s.monitor_window_s,
            flush_s=s.monitor_flush_s,
            check_s=s.monitor_check_s,
            gateway_min_calls=s.monitor_gateway_min_calls,
        )


class Monitor:
    """Start/stop hooks for the server lifespan: flush captured sketches, refresh profiles, run the checks."""

    def __init__(self, runtime: Runtime, capturer: Capturer, config: MonitorSettings, *, scheduler: bool) -> None:
        self.runtime = runtime
        self.capturer = capturer
        self.config = config
        self.scheduler = scheduler
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, str] = {}
        self._last_check = 0.0
        self.gateway = GatewayCounts(config.window_s, config.gateway_min_calls)

    async def start(self) -> None:
        await asyncio.to_thread(self.refresh)
        self._task = asyncio.create_task(self._run(), name="charter-monitoring")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await asyncio.to_thread(self.flush)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.flush_s)
            try:
                await asyncio.to_thread(self.refresh)
                await asyncio.to_thread(self.flush)
                if self.scheduler and loop.time() - self._last_check >= self.config.check_s:
                    self._last_check = loop.time()
                    await asyncio.to_thread(self.check)
            except Exception:
                log.exception("monitoring tick failed")

    def refresh(self) -> None:
        """Load the reference profiles that are new or changed since the last look (cheap when nothing changed)."""
        with self.runtime.uow(write=False) as uow:
            current = repo.fingerprints(uow)
            changed = {d for d, f in current.items() if self._seen.get(d) != f}
            targets = dict(self.capturer.targets)
            for digest in set(targets) - set(current):
                del targets[digest]
            for digest in changed:
                row = repo.profile_row(uow, digest)
                if row is None:
                    continue
                target = Target.build(load_profile(row), row.capture)
                if target is None:
                    targets.pop(digest, None)
                else:
                    targets[digest] = target
        self.capturer.targets = targets
        self._seen = current

    def flush(self) -> int:
        """Merge every captured sketch into its window (and check the conditions); returns windows written."""
        written = 0
        for item in self.capturer.drain():
            try:
                with self.runtime.uow() as uow:
                    service.record_capture(uow, item.digest, item.env, item.start, item.end, item.sketch)
                written += 1
            except CharterError as exc:
                log.warning("captured window of %s dropped: %s: %s", item.digest, exc.code, exc.message)
            except Exception as exc:  # the database may be briefly unavailable: keep the counts for the next flush
                log.warning("captured window of %s not written yet: %s", item.digest, type(exc).__name__)
                self.capturer.restore(item)
        return written

    def check(self) -> int:
        """The scheduled check, in at most one process at a time: the gateway's counts of the current windows first
        (`gateway_windows`), then the latest window of every watched digest."""
        now = utcnow()
        if not leases.acquire(self.runtime.uow, CHECK_JOB, now):
            return -1
        try:
            self.count_gateway(now)
            with self.runtime.uow() as uow:
                return service.check_latest(uow)
        finally:
            leases.release(self.runtime.uow, CHECK_JOB, now)

    def count_gateway(self, now: datetime) -> None:
        """Count the gateway's new decisions (a read transaction: a long first count never holds the write lock the
        gateway's audit writer needs), then write the windows that changed and check them. A failure is logged and
        the windows are counted again from their start next time; it never stops the other checks."""
        try:
            with self.runtime.uow(write=False) as uow:
                touched = gateway_windows.count(uow, self.gateway, now)
            if touched:
                with self.runtime.uow() as uow:
                    gateway_windows.record(uow, self.gateway, touched)
                    uow.commit()
        except Exception:
            self.gateway.cursor = None
            log.exception("gateway signals not counted")


class MonitoredRuntime(Runtime, Protocol):
    """The container as monitoring wires it: `monitor` is set once (its capturer is the gateway's capture hook)."""

    monitor: Monitor | None


def wire(runtime: MonitoredRuntime, *, scheduler: bool = True) -> Monitor:
    """Register capture (for the gateway) and the monitoring loop in the process lifespan (idempotent)."""
    if runtime.monitor is not None:
        return runtime.monitor
    config = MonitorSettings.load(runtime)
    capturer = Capturer(window_s=config.window_s)
    monitor = Monitor(runtime, capturer, config, scheduler=scheduler)
    runtime.monitor = monitor
    runtime.lifespan.add(monitor.start, monitor.stop)
    return monitor
