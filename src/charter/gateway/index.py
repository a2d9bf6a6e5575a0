"""The gateway's in-memory license/deployment index and the loop that keeps it within a second of the database.

A cheap probe (license state version + deployment fingerprint) runs every `poll_s`; the full snapshot is reloaded
only when the probe changes. `wake()` (thread-safe) triggers a probe at once, for in-process license events.
While probes fail the index is *degraded*: decisions then follow DESIGN.md's grace rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable

from charter.deployments.index import Snapshot

log = logging.getLogger("charter.gateway")

Probe = Callable[[], Hashable]
Load = Callable[[], Snapshot]


class LiveIndex:
    """Holds the current `Snapshot`; `degraded_since()` says since when it could not be refreshed (or None)."""

    def __init__(
        self,
        probe: Probe,
        load: Load,
        *,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._probe = probe
        self._load = load
        self.poll_s = poll_s
        self._clock = clock
        self.snapshot = Snapshot()
        self._key: Hashable = None
        self._failing_since: float | None = None
        self.last_ok: float = 0.0
        self.refreshes = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[bool] | None = None

    def degraded_since(self, now: float) -> float | None:
        """When the index stopped being fresh: a failing probe, or a probe that has not returned for a while."""
        if self._failing_since is not None:
            return self._failing_since
        stale_after = max(2.0, 4 * self.poll_s)
        if self.last_ok and now - self.last_ok > stale_after:
            return self.last_ok + self.poll_s
        if not self.last_ok:
            return now
        return None

    def _refresh_sync(self) -> bool:
        key = self._probe()
        if key == self._key and self.snapshot.version >= 0:
            return False
        snapshot = self._load()
        self.snapshot, self._key = snapshot, key
        self.refreshes += 1
        return True

    async def refresh(self) -> bool:
        """Probe now; reload if anything changed. Returns whether the snapshot changed; records failures."""
        try:
            changed = await asyncio.to_thread(self._refresh_sync)
        except Exception as exc:
            if self._failing_since is None:
                self._failing_since = self._clock()
                log.warning("license index refresh failing (%s): entering degraded mode", type(exc).__name__)
            return False
        if self._failing_since is not None:
            log.warning("license index refresh recovered")
        self._failing_since = None
        self.last_ok = self._clock()
        return changed

    async def catch_up(self, version: int, *, tries: int = 5) -> bool:
        """Refresh until the snapshot holds license state `version` or newer; False when it cannot (fail closed).

        Concurrent callers share one refresh: a license change meets many calls in flight at once.
        """
        for _ in range(tries):
            if self.snapshot.version >= version:
                return True
            task = self._refreshing
            if task is None or task.done():
                task = self._refreshing = asyncio.get_running_loop().create_task(self.refresh())
            await asyncio.shield(task)
            if self._failing_since is not None:
                return False
        return self.snapshot.version >= version

    def wake(self) -> None:
        """Probe at once (callable from any thread, e.g. a license service after-commit hook)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.refresh()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="charter-license-index")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
