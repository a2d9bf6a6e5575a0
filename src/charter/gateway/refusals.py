"""Calls refused before they name a known deployment with a valid key: counted, and summarised in the audit log.

Only an authenticated call to a known deployment is an inference with its own audit entry. A keyless call, a bad
key, a made-up deployment name, an unreadable body: each is counted by reason, and one audit entry per period
(`CHARTER_GATEWAY_REFUSAL_SUMMARY_S`, default 60 s) carries the counts, appended through the gateway's group-commit
writer. So a flood of junk costs a counter increment per call, not a durable commit, and cannot grow the log or the
metrics without bound.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Protocol

from charter.core.clock import isoformat, utcnow
from charter.core.events import AuditEvent

log = logging.getLogger("charter.gateway")

ACTION = "gateway.refusals"
ACTOR = "system:gateway"


class Appender(Protocol):
    async def append(self, event: AuditEvent, *, fence: int | None = None) -> int: ...


class RefusalSummary:
    """Counts per reason since the last summary; `flush()` writes them as one audit entry."""

    def __init__(self, period_s: float = 60.0) -> None:
        self.period_s = period_s
        self.counts: dict[str, int] = {}
        self.written = 0  # summaries written by this process
        self._since = utcnow()
        self._task: asyncio.Task[None] | None = None

    def count(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1

    async def flush(self, audit: Appender) -> bool:
        """Append one entry with the counts since the last one; on failure keep them for the next try."""
        if not self.counts:
            return False
        counts, self.counts = self.counts, {}
        since, until = self._since, utcnow()
        event = AuditEvent(
            actor=ACTOR,
            action=ACTION,
            resource="gateway",
            outcome="denied",
            details={
                "from": isoformat(since),
                "until": isoformat(until),
                "counts": dict(sorted(counts.items())),
                "total": sum(counts.values()),
                "process": os.getpid(),
            },
            governance=False,
        )
        try:
            await audit.append(event)
        except Exception as exc:
            log.warning("refusal summary not written (%s); kept for the next one", type(exc).__name__)
            for reason, n in counts.items():
                self.counts[reason] = self.counts.get(reason, 0) + n
            return False
        self._since = until
        self.written += 1
        return True

    def start(self, audit: Callable[[], Appender]) -> None:
        """Flush every `period_s` on the running loop (`audit()` gives the current appender)."""

        async def run() -> None:
            while True:
                await asyncio.sleep(self.period_s)
                await self.flush(audit())

        self._task = asyncio.get_running_loop().create_task(run(), name="charter-gateway-refusals")

    async def stop(self, audit: Appender) -> None:
        """Stop the timer and write what is counted."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush(audit)
